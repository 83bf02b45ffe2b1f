"""Authorization of idTags: central system, local list, cache, offline rules, kiosk, whitelist.

:meth:`Authorizer.authorize` decides whether an idTag may start a session, in this order:

1. kiosk mode (``HycKioskModeEnabled``, or ``KioskModeWhenOffline`` while offline): everybody
   charges, the card's answer does not matter (DC manual 5.1.6.2);
2. the NFC whitelist (DC manual 4.4.1): listed cards charge without asking anybody; with no
   central system at all an empty whitelist means free charging, a non-empty one is the list
   of cards that may charge;
3. online: with ``LocalPreAuthorize`` an idTag Accepted in the local list or the cache starts
   at once; otherwise ``Authorize.req`` (its answer updates the cache);
4. offline (or no answer): with ``LocalAuthorizeOffline`` an idTag Accepted in the local list
   or the cache starts; an idTag known there but not Accepted is refused; an unknown idTag
   starts only with ``AllowOfflineTxForUnknownId``.

The local authorization list (``LocalAuthListEnabled``) is consulted before the cache
(``AuthorizationCacheEnabled``); an entry whose expiry date has passed counts as Expired.
Everything is persisted in the :class:`~firmware.storage.store.Store`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from firmware.clock import Clock, SystemClock
from firmware.log_context import redact_id_tag
from firmware.ports import CentralSystemLink, IdTagInfo
from firmware.storage.store import AuthRecord, Store

log = logging.getLogger(__name__)

CACHE_LIMIT = 1000  # authorization cache entries kept (least recently used go first)
MAX_ID_TAG = 20  # IdToken: CiString20
KIOSK_TAG = "HycKioskTag{}"  # generic kiosk idTag of connector n (DC manual 5.1.6.3)
ACCEPTED = IdTagInfo("Accepted")
INVALID = IdTagInfo("Invalid")

KeyGetter = Callable[[str], str | None]


def _info(record: AuthRecord, now: datetime) -> IdTagInfo:
    expired = record.expiry is not None and record.expiry <= now
    status = "Expired" if expired and record.status == "Accepted" else record.status
    return IdTagInfo(status, record.parent_id_tag, record.expiry)


class LocalList:
    """The Local Authorization List (SendLocalList / GetLocalListVersion), persisted."""

    def __init__(self, store: Store, key: KeyGetter) -> None:
        self._store = store
        self._key = key

    @property
    def enabled(self) -> bool:
        return _flag(self._key, "LocalAuthListEnabled", True)

    def version(self) -> int:
        """GetLocalListVersion: -1 when disabled (not supported), 0 when empty."""
        if not self.enabled:
            return -1
        return self._store.local_list_version() if self._store.local_list_size() else 0

    def get(self, id_tag: str) -> AuthRecord | None:
        return self._store.local_list_get(id_tag) if self.enabled else None

    def entries(self) -> list[AuthRecord]:
        return self._store.local_list_all()

    def update(
        self, version: int, entries: Sequence[tuple[str, IdTagInfo | None]], full: bool
    ) -> str:
        """Apply SendLocalList; returns its UpdateStatus."""
        if not self.enabled:
            return "NotSupported"
        tags = [t.casefold() for t, _ in entries]
        send_max = _int(self._key, "SendLocalListMaxLength")
        if len(set(tags)) != len(tags) or (send_max is not None and len(tags) > send_max):
            log.warning("SendLocalList v%d refused: duplicate idTags or too many", version)
            return "Failed"
        if full and any(info is None for _, info in entries):
            return "Failed"  # a full list gives every idTag its idTagInfo
        if not full and version <= self._store.local_list_version():
            return "VersionMismatch"
        upserts = [
            AuthRecord(t, i.status, i.parent_id_tag, i.expiry_date)
            for t, i in entries
            if i is not None
        ]
        removals = [t for t, i in entries if i is None]
        size = len(upserts) if full else self._size_after(upserts, removals)
        limit = _int(self._key, "LocalAuthListMaxLength")
        if limit is not None and size > limit:
            log.warning("SendLocalList v%d refused: %d entries > %d", version, size, limit)
            return "Failed"
        self._store.local_list_update(version, upserts, removals, full=full)
        log.info("local list v%d (%s): %d entries", version, "full" if full else "differential",
                 self._store.local_list_size())
        return "Accepted"

    def _size_after(self, upserts: list[AuthRecord], removals: list[str]) -> int:
        current = {r.id_tag.casefold() for r in self._store.local_list_all()}
        current -= {t.casefold() for t in removals}
        current |= {r.id_tag.casefold() for r in upserts}
        return len(current)


class Whitelist:
    """The NFC whitelist of the web interface (DC manual 4.4.1): cards that charge without
    the central system's confirmation. Persistent; idTags compare case-insensitively."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def add(self, id_tag: str) -> bool:
        """Add a card; False when it was already listed. Raises ValueError for a bad idTag."""
        tag = id_tag.strip()
        if not 0 < len(tag) <= MAX_ID_TAG:
            raise ValueError(f"an idTag has 1 to {MAX_ID_TAG} characters: {id_tag!r}")
        added = self._store.whitelist_add(tag, self._clock.now())
        log.info("whitelist: %s %s", redact_id_tag(tag),
                 "added" if added else "already listed")
        return added

    def remove(self, id_tag: str) -> bool:
        removed = self._store.whitelist_remove(id_tag.strip())
        log.info("whitelist: %s %s", redact_id_tag(id_tag.strip()),
                 "removed" if removed else "not listed")
        return removed

    def clear(self) -> int:
        count = self._store.whitelist_clear()
        log.info("whitelist cleared (%d cards)", count)
        return count

    def list(self) -> list[str]:
        return self._store.whitelist()

    def __contains__(self, id_tag: str) -> bool:
        return self._store.whitelisted(id_tag)


class Authorizer:
    """Decides whether an idTag may start (or stop) a session; see the module docstring."""

    def __init__(
        self,
        link: CentralSystemLink | None,
        key: KeyGetter = lambda _name: None,
        store: Store | None = None,
        clock: Clock | None = None,
        cache_limit: int = CACHE_LIMIT,
    ) -> None:
        self._link = link
        self._key = key
        self._store = store if store is not None else Store(None)
        self._clock = clock or SystemClock()
        self._cache_limit = cache_limit
        self._parents: dict[str, str | None] = {}  # idTag -> parentIdTag last seen
        self.local_list = LocalList(self._store, key)
        self.whitelist = Whitelist(self._store, self._clock)

    def _flag(self, name: str, default: bool = False) -> bool:
        return _flag(self._key, name, default)

    # ------------------------------------------------------------------ decisions

    async def authorize(self, id_tag: str) -> IdTagInfo:
        """May ``id_tag`` start a session? (Never raises; unreachable = offline rules.)"""
        card = redact_id_tag(id_tag)  # the log names the card, never shows it
        if self.kiosk_active():
            log.info("idTag %s: accepted (kiosk mode)", card)
            return ACCEPTED
        if id_tag in self.whitelist:
            log.info("idTag %s: accepted (whitelist)", card)
            return ACCEPTED
        if self._link is None:
            if self.whitelist.list():
                log.info("idTag %s: refused, not on the whitelist", card)
                return INVALID
            log.info("idTag %s: accepted (no central system: free charging)", card)
            return ACCEPTED
        local = self.local_info(id_tag)
        if self._link.online:
            if local is not None and local.accepted and self._flag("LocalPreAuthorize"):
                log.info("idTag %s: accepted locally (LocalPreAuthorize)", card)
                return self._seen(id_tag, local)
            info = await self._link.authorize(id_tag)
            if info is not None:
                log.info("idTag %s: %s (central system)", card, info.status)
                self.remember(id_tag, info)
                return info
        return self._offline(id_tag, local)

    def _offline(self, id_tag: str, local: IdTagInfo | None) -> IdTagInfo:
        card = redact_id_tag(id_tag)
        if local is not None:
            if not local.accepted:
                log.info("idTag %s: refused offline (%s locally)", card, local.status)
                return local
            if self._flag("LocalAuthorizeOffline", True):
                log.info("idTag %s: accepted offline (local list / cache)", card)
                return self._seen(id_tag, local)
            log.info("idTag %s: refused offline (LocalAuthorizeOffline is false)", card)
            return INVALID
        if self._flag("AllowOfflineTxForUnknownId"):
            log.info("idTag %s: accepted offline (AllowOfflineTxForUnknownId)", card)
            return ACCEPTED
        log.info("idTag %s: refused, central system unreachable", card)
        return INVALID

    def local_info(self, id_tag: str) -> IdTagInfo | None:
        """What the station knows about ``id_tag`` without asking: the local list first,
        then the cache; None when it knows nothing."""
        now = self._clock.now()
        record = self.local_list.get(id_tag)
        if record is None and self._flag("AuthorizationCacheEnabled"):
            record = self._store.cache_get(id_tag)
        return _info(record, now) if record is not None else None

    def _seen(self, id_tag: str, info: IdTagInfo) -> IdTagInfo:
        self._parents[id_tag.casefold()] = info.parent_id_tag
        return info

    def remember(self, id_tag: str, info: IdTagInfo) -> None:
        """An idTagInfo from the central system (Authorize, Start/StopTransaction.conf):
        update the cache (never for idTags of the local list)."""
        self._seen(id_tag, info)
        if not self._flag("AuthorizationCacheEnabled") or self.local_list.get(id_tag):
            return
        record = AuthRecord(id_tag, info.status, info.parent_id_tag, info.expiry_date)
        self._store.cache_put(record, self._cache_limit)

    def parent_of(self, id_tag: str) -> str | None:
        """The parentIdTag of an idTag as last seen (for stopping by a group member)."""
        folded = id_tag.casefold()
        if folded in self._parents:
            return self._parents[folded]
        local = self.local_info(id_tag)
        return local.parent_id_tag if local is not None else None

    def clear_cache(self) -> bool:
        """ClearCache: the cache is emptied (also when it is disabled)."""
        self._store.cache_clear()
        log.info("authorization cache cleared")
        return True

    # ------------------------------------------------------------------ kiosk mode

    def kiosk_active(self) -> bool:
        """Kiosk mode: everybody charges (``HycKioskModeEnabled``, or ``KioskModeWhenOffline``
        while the central system is unreachable)."""
        if self._flag("HycKioskModeEnabled"):
            return True
        return (
            self._link is not None
            and not self._link.online
            and self._flag("KioskModeWhenOffline")
        )

    def kiosk_tag(self, connector_id: int) -> str:
        """The virtual idTag of a kiosk session: ``HycKioskModeTagIds`` (one per connector,
        in order), else the generic ``HycKioskTag<n>``."""
        tags = [t.strip() for t in (self._key_safe("HycKioskModeTagIds") or "").split(",")]
        tags = [t for t in tags if t]
        if 0 < connector_id <= len(tags):
            return tags[connector_id - 1][:MAX_ID_TAG]
        return KIOSK_TAG.format(connector_id)

    async def kiosk_authorize(self, connector_id: int) -> str:
        """The kiosk idTag of a connector, announced with Authorize.req when online (the
        answer is ignored: kiosk sessions always start)."""
        tag = self.kiosk_tag(connector_id)
        if self._link is not None and self._link.online:
            info = await self._link.authorize(tag)
            log.info("connector %d: kiosk idTag %s (central system says %s, ignored)",
                     connector_id, redact_id_tag(tag), info.status if info else "nothing")
        return tag

    def _key_safe(self, name: str) -> str | None:
        return _key(self._key, name)


def _key(key: KeyGetter, name: str) -> str | None:
    try:
        return key(name)
    except KeyError:  # a key nobody registered: its default applies
        return None


def _flag(key: KeyGetter, name: str, default: bool = False) -> bool:
    value = _key(key, name)
    return default if value is None else value.strip().lower() == "true"


def _int(key: KeyGetter, name: str) -> int | None:
    value = _key(key, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None

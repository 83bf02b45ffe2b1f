"""The authorization module: local list, cache, offline rules, kiosk mode, whitelist."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.auth.authorizer import Authorizer
from firmware.clock import ManualClock
from firmware.log_context import redact_id_tag
from firmware.ocpp.keys import ConfigKeys
from firmware.ports import IdTagInfo, StatusReport, TxHandle
from firmware.storage.store import Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OK = IdTagInfo("Accepted")


class Central:
    """A CentralSystemLink double: online or not, and what Authorize answers."""

    def __init__(self, online: bool = True) -> None:
        self._online = online
        self.answers: dict[str, IdTagInfo] = {}
        self.asked: list[str] = []

    @property
    def online(self) -> bool:
        return self._online

    def notify_status(self, connector_id: int, report: StatusReport) -> None:
        pass

    async def authorize(self, id_tag: str) -> IdTagInfo | None:
        self.asked.append(id_tag)
        if not self._online:
            return None
        return self.answers.get(id_tag, IdTagInfo("Invalid"))

    def start_transaction(self, *args: object, **kwargs: object) -> TxHandle:
        raise AssertionError("not used")

    def stop_transaction(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("not used")


def make(online: bool = True, store: Store | None = None, **keys: str) -> tuple[
    Authorizer, Central, ConfigKeys, ManualClock
]:
    store = store or Store(None)
    config = ConfigKeys(store)
    for name, value in keys.items():
        config.set_initial(name, value)
    central = Central(online)
    clock = ManualClock(wall=T0)
    return Authorizer(central, config.get, store, clock), central, config, clock


def full(*tags: str) -> list[tuple[str, IdTagInfo | None]]:
    return [(t, OK) for t in tags]


# --------------------------------------------------------------------------- local list


def test_local_list_full_differential_and_versions() -> None:
    auth, _, _, _ = make()
    lst = auth.local_list
    assert lst.version() == 0
    assert lst.update(3, full("A", "B"), full=True) == "Accepted"
    assert lst.version() == 3
    assert lst.update(3, [("C", OK)], full=False) == "VersionMismatch"
    assert lst.update(4, [("A", None), ("C", IdTagInfo("Blocked", "G"))], full=False) \
        == "Accepted"
    assert {(r.id_tag, r.status) for r in lst.entries()} == {("B", "Accepted"),
                                                             ("C", "Blocked")}
    assert lst.update(1, full("Z"), full=True) == "Accepted"  # full: any version
    assert [r.id_tag for r in lst.entries()] == ["Z"] and lst.version() == 1
    assert lst.update(2, [("Z", None)], full=True) == "Failed"  # full lists carry idTagInfo
    assert lst.update(2, [], full=True) == "Accepted"
    assert lst.version() == 0  # empty


def test_local_list_limits_and_disabled() -> None:
    auth, _, keys, _ = make()
    keys.set_readonly("LocalAuthListMaxLength", "3")
    keys.set_readonly("SendLocalListMaxLength", "2")
    lst = auth.local_list
    assert lst.update(1, full("A", "B", "C"), full=True) == "Failed"  # > SendLocalListMaxLength
    assert lst.update(1, full("A", "a"), full=True) == "Failed"  # the same idTag twice
    assert lst.update(1, full("A", "B"), full=True) == "Accepted"
    assert lst.update(2, full("C", "D"), full=False) == "Failed"  # 4 > LocalAuthListMaxLength
    assert lst.update(2, [("A", None), ("C", OK)], full=False) == "Accepted"
    keys.change("LocalAuthListEnabled", "false")
    assert lst.version() == -1
    assert lst.update(3, full("E"), full=True) == "NotSupported"
    assert auth.local_info("B") is None  # a disabled list authorizes nobody


def test_local_list_survives_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    auth, _, _, _ = make(store=store)
    expiry = T0 + timedelta(days=3)
    auth.local_list.update(9, [("A", IdTagInfo("Accepted", "G", expiry))], full=True)
    auth.whitelist.add("04AA")
    store.close()
    again, _, _, _ = make(store=Store(tmp_path / "s.db"))
    assert again.local_list.version() == 9
    assert again.local_info("a") == IdTagInfo("Accepted", "G", expiry)  # case-insensitive
    assert again.whitelist.list() == ["04AA"]


# --------------------------------------------------------------------------- decisions


async def test_online_asks_and_caches_and_local_pre_authorize_skips_asking() -> None:
    auth, central, _, _ = make(AuthorizationCacheEnabled="true", LocalPreAuthorize="false")
    central.answers["A"] = IdTagInfo("Accepted", "G")
    assert (await auth.authorize("A")).parent_id_tag == "G"
    assert (await auth.authorize("A")).accepted
    assert central.asked == ["A", "A"]  # LocalPreAuthorize false: always asked
    auth2, central2, _, _ = make(AuthorizationCacheEnabled="true")
    central2.answers["A"] = OK
    await auth2.authorize("A")
    await auth2.authorize("A")
    assert central2.asked == ["A"]  # LocalPreAuthorize (default true): the cache answers
    assert auth2.clear_cache()
    await auth2.authorize("A")
    assert central2.asked == ["A", "A"]


async def test_offline_rules() -> None:
    auth, central, keys, _ = make(online=False, AuthorizationCacheEnabled="true")
    auth.local_list.update(1, [("LISTED", OK), ("BLOCKED", IdTagInfo("Blocked"))], full=True)
    assert (await auth.authorize("LISTED")).accepted  # LocalAuthorizeOffline (default)
    assert (await auth.authorize("BLOCKED")).status == "Blocked"
    assert (await auth.authorize("STRANGER")).status == "Invalid"
    keys.change("AllowOfflineTxForUnknownId", "true")
    assert (await auth.authorize("STRANGER")).accepted
    assert (await auth.authorize("BLOCKED")).status == "Blocked"  # known: not "unknown"
    keys.change("LocalAuthorizeOffline", "false")
    assert (await auth.authorize("LISTED")).status == "Invalid"
    assert central.asked == []  # offline: nobody is asked


async def test_expired_entries_count_as_expired() -> None:
    auth, central, _, clock = make(online=False, AuthorizationCacheEnabled="true")
    auth.remember("A", IdTagInfo("Accepted", None, T0 + timedelta(seconds=10)))
    assert (await auth.authorize("A")).accepted
    clock.advance(11)
    assert (await auth.authorize("A")).status == "Expired"
    central._online = True  # online: an expired idTag is asked about again
    central.answers["A"] = OK
    assert (await auth.authorize("A")).accepted and central.asked == ["A"]


def test_cache_is_not_for_local_list_ids_and_only_when_enabled() -> None:
    auth, _, keys, _ = make()
    auth.remember("A", OK)
    assert auth.local_info("A") is None  # AuthorizationCacheEnabled is false
    keys.change("AuthorizationCacheEnabled", "true")
    auth.local_list.update(1, [("L", IdTagInfo("Blocked"))], full=True)
    auth.remember("L", OK)  # the local list stays what counts for its idTags
    assert auth.local_info("L") == IdTagInfo("Blocked")
    auth.remember("A", IdTagInfo("Accepted", "G"))
    assert auth.parent_of("A") == "G"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from("ABCDEFG"), min_size=1, max_size=30))
def test_cache_keeps_the_most_recently_used(tags: list[str]) -> None:
    store = Store(None)
    keys = ConfigKeys(store)
    keys.set_initial("AuthorizationCacheEnabled", "true")
    auth = Authorizer(Central(), keys.get, store, ManualClock(), cache_limit=3)
    for tag in tags:
        auth.remember(tag, OK)
    recent: list[str] = []
    for tag in reversed(tags):
        if tag not in recent:
            recent.append(tag)
    assert store.cache_size() == min(3, len(recent))
    assert {t for t in "ABCDEFG" if auth.local_info(t)} == set(recent[:3])


# --------------------------------------------------------------------------- kiosk, whitelist


async def test_kiosk_mode_and_tags() -> None:
    auth, central, keys, _ = make(online=False)
    assert not auth.kiosk_active()
    keys.change("KioskModeWhenOffline", "true")
    assert auth.kiosk_active() and (await auth.authorize("ANY")).accepted
    central._online = True
    assert not auth.kiosk_active()
    keys.change("HycKioskModeEnabled", "true")
    assert auth.kiosk_active()
    assert (await auth.authorize("REFUSED-BY-CSMS")).accepted and central.asked == []
    keys.change("HycKioskModeTagIds", "FREE-A,FREE-B")
    assert [auth.kiosk_tag(c) for c in (1, 2, 3)] == ["FREE-A", "FREE-B", "HycKioskTag3"]
    assert await auth.kiosk_authorize(2) == "FREE-B"
    assert central.asked == ["FREE-B"]  # announced with Authorize, the answer ignored


async def test_whitelist_online_offline_and_standalone() -> None:
    auth, _, _, _ = make(online=False)
    with pytest.raises(ValueError):
        auth.whitelist.add("X" * 21)
    assert auth.whitelist.add("04AA") and not auth.whitelist.add("04aa")
    assert (await auth.authorize("04AA")).accepted  # offline, unknown: still charges
    assert auth.whitelist.remove("04AA") and not auth.whitelist.remove("04AA")
    assert not (await auth.authorize("04AA")).accepted
    standalone = Authorizer(None, lambda _n: None, Store(None), ManualClock())
    assert (await standalone.authorize("ANY")).accepted  # no list: free charging
    standalone.whitelist.add("04BB")
    assert not (await standalone.authorize("ANY")).accepted
    assert (await standalone.authorize("04BB")).accepted
    assert standalone.whitelist.clear() == 1 and standalone.whitelist.list() == []


# --------------------------------------------------------------------------- privacy


async def test_decisions_are_logged_without_the_id_tag_in_clear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every decision line (whitelist, kiosk, local list, offline rules, the central
    system's answer) names the card by its redacted form only."""
    tag, kiosk = "04DEC1DEC1DE", "FREE-PRIVATE-1"
    caplog.set_level(logging.INFO, logger="firmware.auth")
    auth, central, keys, _ = make(online=False, HycKioskModeTagIds=kiosk)
    auth.local_list.update(1, [(tag, IdTagInfo("Blocked"))], full=True)
    await auth.authorize(tag)  # refused offline (Blocked locally)
    keys.change("LocalAuthListEnabled", "false")
    await auth.authorize(tag)  # refused: unknown, offline
    keys.change("AllowOfflineTxForUnknownId", "true")
    await auth.authorize(tag)  # accepted offline
    auth.whitelist.add(tag)
    await auth.authorize(tag)  # accepted (whitelist)
    auth.whitelist.remove(tag)
    central._online = True
    central.answers[tag] = OK
    await auth.authorize(tag)  # the central system's answer
    await auth.kiosk_authorize(1)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(messages) == 9  # the local list update, 7 about the card, 1 kiosk
    assert [m for m in messages if tag in m or kiosk in m] == []
    assert sum(redact_id_tag(tag) in m for m in messages) == 7  # 5 decisions, 2 whitelist
    assert sum(redact_id_tag(kiosk) in m for m in messages) == 1

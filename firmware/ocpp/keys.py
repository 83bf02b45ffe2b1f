"""OCPP configuration keys of one station: validation, persistence, GetConfiguration.

A key is declared once, in one line of the catalogue (:mod:`firmware.ocpp.keys_catalog`,
written with the declarations of :mod:`firmware.ocpp.key_specs`)::

    int_key("HeartbeatInterval", 1800, minimum=0)

:class:`ConfigKeys` holds the values of the keys it is given (the whole catalogue unless
told otherwise). Values are kept as the strings that travel on the wire ("true"/"false"
for booleans, decimal integers, comma-separated lists). A key changed by
ChangeConfiguration (or set from the command line) is persisted in the
:class:`~firmware.storage.store.Store` and survives restarts. Key names are
case-insensitive (CiString50), answers use the declared spelling. Values are CiString500:
printable ASCII only, at most 500 characters.

A wrong value is never a crash: every check failure (even a bug in a check) makes
ChangeConfiguration answer Rejected and keeps the old value.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum

from ocpp.exceptions import OccurenceConstraintViolationError

from firmware.ocpp.key_specs import (
    MAX_VALUE_LENGTH,
    Access,
    InvalidValue,
    KeySpec,
    KeyType,
    split_csl,
)
from firmware.ocpp.keys_catalog import CATALOGUE
from firmware.storage.store import Store

logger = logging.getLogger(__name__)

_PRINTABLE = re.compile(r"[\x20-\x7e]*")  # CiString: printable ASCII


class ChangeResult(StrEnum):
    """ConfigurationStatus of ChangeConfiguration.conf."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


# --------------------------------------------------------------------------- registry


class ConfigKeys:
    """The configuration keys of one station, backed by the store.

    ``specs`` defaults to the whole catalogue (:data:`firmware.ocpp.keys_catalog.CATALOGUE`).
    """

    def __init__(self, store: Store, specs: Iterable[KeySpec] | None = None) -> None:
        self._store = store
        self._specs: dict[str, KeySpec] = {}  # casefolded name -> spec
        self._values: dict[str, str] = {}  # declared name -> canonical value
        self._callbacks: dict[str, list[Callable[[str], None]]] = {}
        specs = list(CATALOGUE if specs is None else specs)
        # Declare everything first, then adopt the persisted values: a value checked against
        # another key (a *MaxLength companion) sees that key declared.
        for spec in specs:
            self._declare(spec)
        for spec in specs:
            self._load(spec, quiet=True)

    # ------------------------------------------------------------------ declaring

    def register(self, spec: KeySpec) -> None:
        """Add a key; a persisted value replaces the default when it is still valid."""
        self._declare(spec)
        self._load(spec, quiet=False)

    def _declare(self, spec: KeySpec) -> None:
        folded = spec.name.casefold()
        if folded in self._specs:
            raise ValueError(f"configuration key {spec.name} declared twice")
        self._specs[folded] = spec
        if spec.default is not None:
            self._values[spec.name] = spec.default

    def _load(self, spec: KeySpec, *, quiet: bool) -> None:
        stored = self._store.get_key(spec.name)
        if stored is None:
            return
        try:
            self._values[spec.name] = self._validate(spec, stored)
        except InvalidValue as e:
            # quiet: at construction, before the station's own values are in (reload()
            # tries again and warns then).
            log = logger.debug if quiet else logger.warning
            log("configuration key %s: stored value ignored: %s", spec.name, e)

    def reload(self) -> None:
        """Adopt the persisted values again, now that computed values (NumberOfConnectors)
        are in: a stored value that depends on them is checked against the real ones."""
        for spec in self._specs.values():
            self._load(spec, quiet=False)

    def on_change(self, name: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(new_value)`` whenever the key's value changes."""
        self._callbacks.setdefault(self.spec(name).name, []).append(callback)

    # ------------------------------------------------------------------ reading

    def spec(self, name: str) -> KeySpec:
        try:
            return self._specs[name.casefold()]
        except KeyError:
            raise KeyError(name) from None

    def specs(self) -> list[KeySpec]:
        return list(self._specs.values())

    def known(self, name: str) -> bool:
        return name.casefold() in self._specs

    def get(self, name: str) -> str | None:
        return self._values.get(self.spec(name).name)

    def get_int(self, name: str, default: int = 0) -> int:
        value = self.get(name)
        return int(value) if value else default

    def get_bool(self, name: str) -> bool:
        return self.get(name) == "true"

    def get_csl(self, name: str) -> list[str]:
        return split_csl(self.get(name) or "")

    def names(self) -> list[str]:
        return [s.name for s in self._specs.values()]

    def persisted(self, name: str) -> bool:
        """Whether the key holds a value set by ChangeConfiguration / ``--set-key``."""
        return self._store.get_key(self.spec(name).name) is not None

    # ------------------------------------------------------------------ writing

    def change(self, name: str, value: str) -> ChangeResult:
        """ChangeConfiguration: unknown → NotSupported, read-only or invalid → Rejected."""
        if not self.known(name):
            return ChangeResult.NOT_SUPPORTED
        spec = self.spec(name)
        if spec.access == Access.R:
            return ChangeResult.REJECTED
        try:
            self._set(spec, value, persist=True)
        except InvalidValue as e:
            logger.info("ChangeConfiguration %s rejected: %s", spec.name,
                        "invalid value" if spec.secret else e)
            return ChangeResult.REJECTED
        except Exception:  # a bug in a check must not become a CALLERROR, nor a crash
            logger.exception("ChangeConfiguration %s: the check failed", spec.name)
            return ChangeResult.REJECTED
        return ChangeResult.REBOOT_REQUIRED if spec.reboot_required else ChangeResult.ACCEPTED

    def set_initial(self, name: str, value: str) -> None:
        """Set a key before boot (``evse sim --set-key``): validated, persisted, any access.

        Raises KeyError for an unknown key and :class:`InvalidValue` for a bad value."""
        self._set(self.spec(name), value, persist=True)

    def set_internal(self, name: str, value: str) -> None:
        """A value the firmware itself adopts (HeartbeatInterval from BootNotification)."""
        self._set(self.spec(name), value, persist=True)

    def set_readonly(self, name: str, value: str) -> None:
        """A read-only value derived at start-up or measured (NumberOfConnectors,
        MobileRSSI): validated, not persisted."""
        self._set(self.spec(name), value, persist=False)

    def set_default(self, name: str, value: str) -> None:
        """A default that depends on the station (chargePointIdentity, MaxGridPower):
        taken unless a value was persisted; not persisted itself."""
        spec = self.spec(name)
        if self._store.get_key(spec.name) is None:
            self._set(spec, value, persist=False)

    def _set(self, spec: KeySpec, value: str, *, persist: bool) -> None:
        canonical = self._validate(spec, value)
        old = self._values.get(spec.name)
        self._values[spec.name] = canonical
        if persist:
            self._store.set_key(spec.name, canonical)
        if canonical != old:
            for callback in self._callbacks.get(spec.name, ()):
                callback(canonical)

    def _validate(self, spec: KeySpec, value: str) -> str:
        """The canonical form of ``value`` or :class:`InvalidValue`."""
        shown = "(hidden)" if spec.secret else repr(value)
        if not isinstance(value, str) or not _PRINTABLE.fullmatch(value):
            raise InvalidValue(f"{spec.name}: {shown} is not printable ASCII")
        text = value.strip()
        if spec.type == KeyType.BOOL:
            if text.lower() not in ("true", "false"):
                raise InvalidValue(f"{spec.name}: {shown} is not true/false")
            text = text.lower()
        elif spec.type == KeyType.INT:
            if not re.fullmatch(r"[+-]?\d{1,10}", text):
                raise InvalidValue(f"{spec.name}: {shown} is not an integer")
            text = str(int(text))
        elif spec.type == KeyType.CSL:
            text = ",".join(split_csl(text))
        elif spec.allowed is not None:  # an enumeration: CiString, so case-insensitive
            text = next((a for a in spec.allowed if a.casefold() == text.casefold()), text)
        if len(text) > MAX_VALUE_LENGTH:
            raise InvalidValue(f"{spec.name}: longer than {MAX_VALUE_LENGTH} characters")
        if spec.check is not None:
            reason = spec.check(text, self)
            if reason is not None:
                raise InvalidValue(f"{spec.name}: {shown}: {reason}")
        return text

    # ------------------------------------------------------------------ GetConfiguration

    def configuration(
        self, requested: Sequence[str] | None = None
    ) -> tuple[list[dict[str, object]], list[str]]:
        """(configurationKey, unknownKey) of GetConfiguration.conf.

        Write-only keys are never returned: asked for by name they count as unknown.

        More keys requested than GetConfigurationMaxKeys: CALLERROR
        OccurenceConstraintViolation (raised here as the ``ocpp`` exception, which the
        message layer sends). OCPP 1.6 lets the charge point limit the number but says
        nothing of how; answering only the first N would be a silently wrong answer
        (the rest neither known nor unknown), so the whole request is refused and the
        central system can read the limit and ask again in parts.
        """
        limit = self.get_int("GetConfigurationMaxKeys") if self.known(
            "GetConfigurationMaxKeys") else 0
        if requested and limit > 0 and len(requested) > limit:
            raise OccurenceConstraintViolationError(
                description=f"more than GetConfigurationMaxKeys = {limit} keys requested",
                details={"cause": f"{len(requested)} keys requested, at most {limit}"},
            )
        if not requested:
            specs = [s for s in self._specs.values() if s.access != Access.W]
            unknown: list[str] = []
        else:
            specs, unknown = [], []
            for name in requested:
                spec = self._specs.get(name.casefold())
                if spec is None or spec.access == Access.W:
                    unknown.append(name)
                elif spec not in specs:
                    specs.append(spec)
        entries: list[dict[str, object]] = []
        for spec in specs:
            entry: dict[str, object] = {"key": spec.name, "readonly": spec.access == Access.R}
            value = self._values.get(spec.name)
            if value is not None:
                entry["value"] = value
            entries.append(entry)
        return entries, unknown

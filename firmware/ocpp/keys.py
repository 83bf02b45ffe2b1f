"""OCPP configuration keys: declarations, validation, persistence.

A key is declared once, in one line (see ``CORE_KEYS``)::

    int_key("HeartbeatInterval", 1800, minimum=0)

Values are kept as the strings that travel on the wire ("true"/"false" for booleans, decimal
integers, comma-separated lists). A key changed by ChangeConfiguration (or set from the
command line) is persisted in the :class:`~firmware.store.Store` and survives restarts.
Key names are case-insensitive (CiString50), answers use the declared spelling.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from firmware.store import Store

logger = logging.getLogger(__name__)

MAX_VALUE_LENGTH = 500  # GetConfiguration.conf value: CiString500


class KeyType(StrEnum):
    BOOL = "boolean"
    INT = "integer"
    CSL = "CSL"
    STR = "string"


class Access(StrEnum):
    R = "R"  # read-only: set by the firmware, ChangeConfiguration gets Rejected
    RW = "RW"
    W = "W"  # write-only: never returned by GetConfiguration (AuthorizationKey)


class ChangeResult(StrEnum):
    """ConfigurationStatus of ChangeConfiguration.conf."""

    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    REBOOT_REQUIRED = "RebootRequired"
    NOT_SUPPORTED = "NotSupported"


class InvalidValue(ValueError):
    """A value a key does not accept."""


# A check gets the canonical value and the registry (for *MaxLength companions) and
# returns a reason when the value is not acceptable.
Check = Callable[[str, "ConfigKeys"], str | None]


@dataclass(frozen=True)
class KeySpec:
    name: str
    type: KeyType
    access: Access
    default: str | None  # None: no value until one is set
    check: Check | None = None
    reboot_required: bool = False
    profile: str = "Core"


# --------------------------------------------------------------------------- declarations


def bool_key(
    name: str,
    default: bool,
    access: Access = Access.RW,
    *,
    reboot_required: bool = False,
    profile: str = "Core",
) -> KeySpec:
    value = "true" if default else "false"
    return KeySpec(name, KeyType.BOOL, access, value, None, reboot_required, profile)


def int_key(
    name: str,
    default: int | None,
    access: Access = Access.RW,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    reboot_required: bool = False,
    profile: str = "Core",
) -> KeySpec:
    def check(value: str, _keys: ConfigKeys) -> str | None:
        n = int(value)
        if minimum is not None and n < minimum:
            return f"below {minimum}"
        if maximum is not None and n > maximum:
            return f"above {maximum}"
        return None

    return KeySpec(
        name,
        KeyType.INT,
        access,
        None if default is None else str(default),
        check,
        reboot_required,
        profile,
    )


def csl_key(
    name: str,
    default: str,
    allowed: Collection[str] | None = None,
    access: Access = Access.RW,
    *,
    max_length_key: str | None = None,
    reboot_required: bool = False,
    profile: str = "Core",
) -> KeySpec:
    """A comma-separated list; members from ``allowed`` (None: anything), at most as many
    members as the integer key ``max_length_key`` says."""

    def check(value: str, keys: ConfigKeys) -> str | None:
        members = split_csl(value)
        if allowed is not None:
            bad = [m for m in members if m not in allowed]
            if bad:
                return f"not supported: {', '.join(bad)}"
        if len(set(members)) != len(members):
            return "duplicate members"
        if max_length_key is not None and keys.known(max_length_key):
            limit = keys.get_int(max_length_key)
            if len(members) > limit:
                return f"more than {max_length_key} = {limit} members"
        return None

    return KeySpec(name, KeyType.CSL, access, default, check, reboot_required, profile)


def str_key(
    name: str,
    default: str | None,
    access: Access = Access.RW,
    *,
    min_length: int = 0,
    max_length: int = MAX_VALUE_LENGTH,
    pattern: str | None = None,
    reboot_required: bool = False,
    profile: str = "Core",
) -> KeySpec:
    regex = re.compile(pattern) if pattern is not None else None

    def check(value: str, _keys: ConfigKeys) -> str | None:
        if not min_length <= len(value) <= max_length:
            return f"length not in {min_length}..{max_length}"
        if regex is not None and not regex.fullmatch(value):
            return "wrong format"
        return None

    return KeySpec(name, KeyType.STR, access, default, check, reboot_required, profile)


def split_csl(value: str) -> list[str]:
    return [m.strip() for m in value.split(",") if m.strip()]


# The measurands the metering module can sample (see metering.py).
SAMPLED_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
    "Frequency",
    "Current.Offered",
    "Power.Offered",
    "SoC",
    "Temperature",
)
R = Access.R
W = Access.W

CORE_KEYS: tuple[KeySpec, ...] = (
    bool_key("AllowOfflineTxForUnknownId", False),
    bool_key("AuthorizationCacheEnabled", False),
    bool_key("AuthorizeRemoteTxRequests", False),
    int_key("ClockAlignedDataInterval", 0, minimum=0),
    int_key("ConnectionTimeOut", 60, minimum=0),
    int_key("GetConfigurationMaxKeys", 100, R),
    int_key("HeartbeatInterval", 1800, minimum=0),
    bool_key("LocalAuthorizeOffline", True),
    bool_key("LocalPreAuthorize", False),
    csl_key("MeterValuesAlignedData", "", SAMPLED_MEASURANDS,
            max_length_key="MeterValuesAlignedDataMaxLength"),
    int_key("MeterValuesAlignedDataMaxLength", len(SAMPLED_MEASURANDS), R),
    csl_key("MeterValuesSampledData",
            "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC",
            SAMPLED_MEASURANDS, max_length_key="MeterValuesSampledDataMaxLength"),
    int_key("MeterValuesSampledDataMaxLength", len(SAMPLED_MEASURANDS), R),
    int_key("MeterValueSampleInterval", 60, minimum=0),
    int_key("NumberOfConnectors", 1, R),
    bool_key("StopTransactionOnEVSideDisconnect", True),
    bool_key("StopTransactionOnInvalidId", True),
    csl_key("StopTxnAlignedData", "", SAMPLED_MEASURANDS,
            max_length_key="StopTxnAlignedDataMaxLength"),
    int_key("StopTxnAlignedDataMaxLength", len(SAMPLED_MEASURANDS), R),
    csl_key("StopTxnSampledData", "Energy.Active.Import.Register", SAMPLED_MEASURANDS,
            max_length_key="StopTxnSampledDataMaxLength"),
    int_key("StopTxnSampledDataMaxLength", len(SAMPLED_MEASURANDS), R),
    csl_key("SupportedFeatureProfiles", "Core", None, R),
    int_key("TransactionMessageAttempts", 3, minimum=1),
    int_key("TransactionMessageRetryInterval", 20, minimum=0),
    int_key("WebSocketPingInterval", 60, minimum=0),
    # Security profile 1 (HTTP Basic): the password; write-only.
    str_key("AuthorizationKey", None, W, min_length=16, max_length=40, profile="Security"),
)


# --------------------------------------------------------------------------- registry


class ConfigKeys:
    """The configuration keys of one station, backed by the store."""

    def __init__(self, store: Store, specs: Iterable[KeySpec] = CORE_KEYS) -> None:
        self._store = store
        self._specs: dict[str, KeySpec] = {}  # casefolded name -> spec
        self._values: dict[str, str] = {}  # declared name -> canonical value
        self._callbacks: dict[str, list[Callable[[str], None]]] = {}
        self.register_all(specs)

    # ------------------------------------------------------------------ declaring

    def register(self, spec: KeySpec) -> None:
        """Add a key; a persisted value replaces the default when it is still valid."""
        folded = spec.name.casefold()
        if folded in self._specs:
            raise ValueError(f"configuration key {spec.name} declared twice")
        self._specs[folded] = spec
        if spec.default is not None:
            self._values[spec.name] = spec.default
        stored = self._store.get_key(spec.name)
        if stored is not None:
            try:
                self._values[spec.name] = self._validate(spec, stored)
            except InvalidValue as e:
                logger.warning("configuration key %s: stored value ignored: %s", spec.name, e)

    def register_all(self, specs: Iterable[KeySpec]) -> None:
        for spec in specs:
            self.register(spec)

    def on_change(self, name: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(new_value)`` whenever the key's value changes."""
        self._callbacks.setdefault(self.spec(name).name, []).append(callback)

    # ------------------------------------------------------------------ reading

    def spec(self, name: str) -> KeySpec:
        try:
            return self._specs[name.casefold()]
        except KeyError:
            raise KeyError(name) from None

    def known(self, name: str) -> bool:
        return name.casefold() in self._specs

    def get(self, name: str) -> str | None:
        return self._values.get(self.spec(name).name)

    def get_int(self, name: str, default: int = 0) -> int:
        value = self.get(name)
        return int(value) if value is not None else default

    def get_bool(self, name: str) -> bool:
        return self.get(name) == "true"

    def get_csl(self, name: str) -> list[str]:
        return split_csl(self.get(name) or "")

    def names(self) -> list[str]:
        return [s.name for s in self._specs.values()]

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
            logger.info("ChangeConfiguration %s rejected: %s", spec.name, e)
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
        """A read-only value derived at start-up (NumberOfConnectors): not persisted."""
        self._set(self.spec(name), value, persist=False)

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
        text = value.strip()
        if spec.type == KeyType.BOOL:
            if text.lower() not in ("true", "false"):
                raise InvalidValue(f"{spec.name}: {value!r} is not true/false")
            text = text.lower()
        elif spec.type == KeyType.INT:
            if not re.fullmatch(r"[+-]?\d{1,10}", text):
                raise InvalidValue(f"{spec.name}: {value!r} is not an integer")
            text = str(int(text))
        elif spec.type == KeyType.CSL:
            text = ",".join(split_csl(text))
        if len(text) > MAX_VALUE_LENGTH:
            raise InvalidValue(f"{spec.name}: longer than {MAX_VALUE_LENGTH} characters")
        if spec.check is not None:
            reason = spec.check(text, self)
            if reason is not None:
                raise InvalidValue(f"{spec.name}: {value!r}: {reason}")
        return text

    # ------------------------------------------------------------------ GetConfiguration

    def configuration(
        self, requested: Sequence[str] | None = None
    ) -> tuple[list[dict[str, object]], list[str]]:
        """(configurationKey, unknownKey) of GetConfiguration.conf.

        Write-only keys are never returned: asked for by name they count as unknown."""
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

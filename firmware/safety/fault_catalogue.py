"""The fault catalogue: every vendor error code the station reports, loaded from data.

The codes, their OCPP 1.6 ``errorCode``, informational text, display texts, effect and
recovery live in ``catalogue.toml`` next to this module (one ``[[fault]]`` per code of the
Alfen AC list and the alpitronic DC list). :func:`load_catalogue` reads that file and
checks all of it, reporting every problem with the file and the code. The firmware then
asks: which fault does a *condition* on an AC or DC connector report
(:meth:`Catalogue.for_condition`), what goes into StatusNotification
(:meth:`FaultDef.format_info`, :meth:`FaultDef.report`), what the display shows
(:meth:`FaultDef.display_text`). Detection code names conditions, never codes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import string
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

from drivers.interfaces import EvCommError
from firmware.errors import FirmwareError
from firmware.ports import StatusReport

log = logging.getLogger(__name__)

DEFAULT_PATH: Final = Path(__file__).with_name("catalogue.toml")
INFO_MAX: Final = 50  # StatusNotification.info is a CiString50
REQUIRED_LANGUAGES: Final = ("nl", "en")

OCPP16_ERROR_CODES: Final = frozenset(
    {
        "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature",
        "InternalError", "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure",
        "OverVoltage", "PowerMeterFailure", "PowerSwitchFailure", "ReaderFailure",
        "ResetFailure", "UnderVoltage", "WeakSignal",
    }
)

# Every code of the two source documents; the loader refuses a file that lacks one.
AC_CODES: Final = (
    "001", "101", "102", "104", "105", "106", "108", "109", "201", "202", "206", "208",
    "209", "210", "211", "212", "301", "302", "303", "304", "401", "402", "404", "405",
    "406", "407",
)
DC_CODES: Final = (
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "50", "51", "1000", "1001",
)


class Source(StrEnum):
    AC = "ac"  # Alfen AC service list
    DC = "dc"  # alpitronic DC manual, chapter 6


class Scope(StrEnum):
    STATION = "station"  # one for the whole station: every connector (and connector 0)
    CONNECTOR = "connector"


class Effect(StrEnum):
    STOP_SESSION = "stop_session"  # power off, transaction ends; usable again afterwards
    BLOCK_CONNECTOR = "block_connector"  # power off, status Faulted while active
    DERATE = "derate"  # charging continues at ``derate_a`` (0 = paused, SuspendedEVSE)
    WARNING = "warning"  # reported with the status unchanged
    DISPLAY_ONLY = "display_only"  # shown on the display, no OCPP error


class Recovery(StrEnum):
    AUTO = "auto"  # clears when the condition ends
    RETRY = "retry"  # retried ``retries`` times, then ``after_retries`` applies
    LOCAL_RESET = "local_reset"  # an engineer on site
    CSMS_RESET = "csms_reset"  # Reset from the CSMS (or a local reset)
    REPLUG = "replug"  # clears when the EV is unplugged


class Condition(StrEnum):
    """What detection code reports. ``catalogue.toml``'s ``[conditions]`` maps each one
    to the AC list's code and the DC list's code."""

    GENERIC = "generic"
    RESIDUAL_CURRENT_DC = "residual_current_dc"
    RCD_TRIPPED = "rcd_tripped"
    RCD_SELF_TEST_FAILED = "rcd_self_test_failed"
    INSULATION = "insulation"
    IMD_SELF_TEST_FAILED = "imd_self_test_failed"
    IMD_DEVICE_ERROR = "imd_device_error"
    CONTACTOR_WELDED = "contactor_welded"
    CONTACTOR_FAILED_TO_CLOSE = "contactor_failed_to_close"
    INTERNAL_SUPPLY_LOW = "internal_supply_low"
    METER_SILENT = "meter_silent"
    PNC_ID_MISSING = "pnc_id_missing"
    READER_LOST = "reader_lost"
    PE_MISSING = "pe_missing"
    UNDERVOLTAGE = "undervoltage"
    UNAVAILABLE = "unavailable"
    OVERVOLTAGE = "overvoltage"
    P1_LOST = "p1_lost"
    ENERGY_MANAGER_LOST = "energy_manager_lost"
    PHASE_MISSING = "phase_missing"
    LOCK_FAILED_SELFTEST = "lock_failed_selftest"
    LOCK_FAILED_SESSION = "lock_failed_session"
    LOCK_OPEN_LOAD = "lock_open_load"
    LOCK_OVER_CURRENT = "lock_over_current"
    EV_COMM_UNKNOWN = "ev_comm_unknown"
    EV_COMM_PLC = "ev_comm_plc"
    EV_COMM_SLAC_TIMEOUT = "ev_comm_slac_timeout"
    EV_COMM_SLAC_INTERRUPTED = "ev_comm_slac_interrupted"
    EV_COMM_LINK_TIMEOUT = "ev_comm_link_timeout"
    EV_COMM_LINK_INTERRUPTED = "ev_comm_link_interrupted"
    EV_COMM_SDP_TIMEOUT = "ev_comm_sdp_timeout"
    EV_COMM_SDP_INTERRUPTED = "ev_comm_sdp_interrupted"
    EV_COMM_TCP = "ev_comm_tcp"
    EV_COMM_V2G_SEQUENCE = "ev_comm_v2g_sequence"
    EV_ERROR = "ev_error"
    TOO_MANY_STARTS = "too_many_starts"
    CABLE_WITHOUT_SESSION = "cable_without_session"
    OVER_CURRENT = "over_current"
    PP_OUT_OF_RANGE = "pp_out_of_range"
    PILOT_OUT_OF_RANGE = "pilot_out_of_range"
    EV_VOLTAGE_PRESENT = "ev_voltage_present"
    HIGH_TEMPERATURE = "high_temperature"
    LOW_TEMPERATURE = "low_temperature"
    TILTED = "tilted"
    DOOR_CLOSED = "door_closed"
    DOOR_OPENED = "door_opened"
    STACK_FAULT = "stack_fault"
    CABLE_FAULT = "cable_fault"
    COOLER_FAULT = "cooler_fault"


# The HAL's EV communication errors (whose values are the DC list's codes) as conditions.
EV_COMM_CONDITIONS: Final[Mapping[EvCommError, Condition]] = MappingProxyType(
    {
        EvCommError.PLC: Condition.EV_COMM_PLC,
        EvCommError.SLAC_TIMEOUT: Condition.EV_COMM_SLAC_TIMEOUT,
        EvCommError.SLAC_INTERRUPTED: Condition.EV_COMM_SLAC_INTERRUPTED,
        EvCommError.LINK_TIMEOUT: Condition.EV_COMM_LINK_TIMEOUT,
        EvCommError.LINK_INTERRUPTED: Condition.EV_COMM_LINK_INTERRUPTED,
        EvCommError.SDP_TIMEOUT: Condition.EV_COMM_SDP_TIMEOUT,
        EvCommError.SDP_INTERRUPTED: Condition.EV_COMM_SDP_INTERRUPTED,
        EvCommError.TCP: Condition.EV_COMM_TCP,
        EvCommError.V2G_SEQUENCE: Condition.EV_COMM_V2G_SEQUENCE,
        EvCommError.EV_ERROR: Condition.EV_ERROR,
    }
)

_FORMATTER: Final = string.Formatter()
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


class CatalogueError(FirmwareError, ValueError):
    """A catalogue file that cannot be used. ``problems`` holds (where, reason) pairs,
    ``where`` being ``"code 101"``, ``"thresholds.x"``, ``"conditions.x"`` or ``"file"``.
    ``str()`` gives one line per problem: ``FILE: WHERE: REASON``."""

    def __init__(self, file: str | Path, problems: list[tuple[str, str]]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__("\n".join(f"{self.file}: {where}: {why}" for where, why in problems))


@dataclass(frozen=True)
class FaultDef:
    """One vendor error code with everything the firmware and the service pages need.

    ``info`` is a template with named placeholders (``{dc_ma:.1f}``); ``info_values`` maps
    placeholders to threshold keys and ``info_defaults`` holds those thresholds' values,
    used when the caller gives no value. ``derate_a`` is the current limit of a derate.
    """

    code: str
    source: Source
    title: str
    ocpp16: str
    vendor_error_code: str
    info: str
    display: Mapping[str, str] = field(hash=False)
    display_shown: bool
    cause: str
    remedy: str
    scope: Scope
    effect: Effect
    recovery: Recovery
    retries: int = 0
    retry_delay_s: float = 0.0
    after_retries: Recovery | None = None
    derate_a: float | None = None
    derate_key: str | None = None
    detected_by: str = ""
    detection: str = ""
    thresholds: tuple[str, ...] = ()
    same_as: tuple[str, ...] = ()
    info_values: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    info_defaults: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)
    ocpp16_note: str = ""
    doc_ocpp16: str | None = None
    ocpp15: str | None = None
    doc_info: str | None = None
    doc_info_values: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, hash=False)
    cause_nl: str = ""
    remedy_nl: str = ""
    doc_scope: str | None = None
    note: str = ""

    @property
    def blocks(self) -> bool:
        """The fault takes the power away: it stops the session or blocks the connector."""
        return self.effect in (Effect.STOP_SESSION, Effect.BLOCK_CONNECTOR)

    def format_info(self, **values: object) -> str:
        """The informational text with ``values`` filled in, at most 50 characters.

        Never raises: a fault report must not fail on a missing or odd value. A missing
        placeholder prints ``?``, a value its format spec does not fit prints ``str()``.
        """
        merged = {**self.info_defaults, **values}
        parts: list[str] = []
        for literal, name, spec, conversion in _FORMATTER.parse(self.info):
            parts.append(literal)
            if name is None:
                continue
            if name not in merged:
                log.warning("fault %s: no value for {%s} in its info text", self.code, name)
                parts.append("?")
                continue
            value = merged[name]
            if conversion == "r":
                value = repr(value)
            elif conversion == "s":
                value = str(value)
            try:
                parts.append(format(value, spec or ""))
            except (TypeError, ValueError):
                parts.append(str(value))
        return "".join(parts)[:INFO_MAX].rstrip()

    def display_text(self, lang: str) -> str:
        """The display text in ``lang``, English where that language has none."""
        return self.display.get(lang, self.display["en"])

    def report(self, status: str, **values: object) -> StatusReport:
        """The StatusNotification content for this fault with the connector in ``status``."""
        if self.effect is Effect.DISPLAY_ONLY:
            return StatusReport(status=status)
        info = self.format_info(**values)
        return StatusReport(status, self.ocpp16, info or None, self.vendor_error_code)


@dataclass(frozen=True)
class ConditionMap:
    """The fault a condition reports on an AC connector and on a DC connector."""

    condition: Condition
    ac: FaultDef
    dc: FaultDef


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The checked catalogue. Build it with :func:`load_catalogue`."""

    path: str
    thresholds: Mapping[str, float]
    faults: Mapping[str, FaultDef]
    conditions: Mapping[Condition, ConditionMap]

    def get(self, code: str) -> FaultDef:
        """The entry of a vendor error code; ``KeyError`` for an unknown code."""
        try:
            return self.faults[code]
        except KeyError:
            raise KeyError(f"unknown fault code {code!r}") from None

    def codes(self) -> tuple[str, ...]:
        """Every code, AC list first, in file order."""
        return tuple(self.faults)

    def __iter__(self) -> Iterator[FaultDef]:
        return iter(self.faults.values())

    def __len__(self) -> int:
        return len(self.faults)

    def __contains__(self, code: object) -> bool:
        return code in self.faults

    def for_condition(self, condition: Condition | str, dc: bool) -> FaultDef:
        """The fault ``condition`` reports on a DC (``dc=True``) or AC connector."""
        try:
            entry = self.conditions[Condition(condition)]
        except ValueError:
            raise KeyError(f"unknown fault condition {condition!r}") from None
        return entry.dc if dc else entry.ac

    def conditions_of(self, code: str) -> tuple[Condition, ...]:
        """The conditions that report ``code`` (for the simulator's fault injection)."""
        return tuple(
            c for c, m in self.conditions.items() if code in (m.ac.code, m.dc.code)
        )

    @property
    def no_error(self) -> FaultDef:
        """The DC list's 0: what a DC connector reports when its last fault clears."""
        return self.faults["0"]

    def with_thresholds(self, overrides: Mapping[str, float]) -> Catalogue:
        """A copy with some thresholds changed (an installer's station settings)."""
        problems = [
            (f"thresholds.{k}", "unknown threshold" if k not in self.thresholds else "not a number")
            for k, v in overrides.items()
            if k not in self.thresholds or isinstance(v, bool) or not isinstance(v, int | float)
        ]
        if problems:
            raise CatalogueError(self.path, problems)
        thresholds = MappingProxyType({**self.thresholds, **overrides})
        faults = {c: _bind(f, thresholds) for c, f in self.faults.items()}
        conditions = {
            c: ConditionMap(c, _bind(m.ac, thresholds), _bind(m.dc, thresholds))
            for c, m in self.conditions.items()
        }
        return Catalogue(self.path, thresholds, MappingProxyType(faults),
                         MappingProxyType(conditions))


def _bind(fault: FaultDef, thresholds: Mapping[str, float]) -> FaultDef:
    """``fault`` with its threshold-derived values taken from ``thresholds``."""
    derate = thresholds[fault.derate_key] if fault.derate_key else fault.derate_a
    defaults = MappingProxyType({p: thresholds[k] for p, k in fault.info_values.items()})
    return replace(fault, derate_a=derate, info_defaults=defaults)


# --------------------------------------------------------------------------- loading


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and check a catalogue file (default: the packaged ``catalogue.toml``).

    Raises :class:`CatalogueError` naming the file, the code and every problem found.
    """
    path = path or DEFAULT_PATH
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CatalogueError(path, [("file", f"cannot read: {e.strerror or e}")]) from None
    return _build(_parse(path, data), str(path))


@cache
def default_catalogue() -> Catalogue:
    """The packaged catalogue, loaded once per process."""
    return load_catalogue()


def _parse(path: Path, data: bytes) -> dict[str, Any]:
    """The TOML document, through a parsed copy in ``__pycache__`` keyed by content.

    tomllib needs ~12 ms for this file, a JSON copy ~0.3 ms; the catalogue loads at every
    start. Like ``.pyc`` files, the copy is skipped silently where the directory is
    read-only, and the full checks run on it either way.
    """
    digest = hashlib.sha256(data).hexdigest()
    cached = path.parent / "__pycache__" / f"{path.name}.json"
    with contextlib.suppress(OSError, ValueError):
        saved = json.loads(cached.read_bytes())
        if isinstance(saved, dict) and saved.get("sha256") == digest:
            doc = saved.get("doc")
            if isinstance(doc, dict):
                return doc
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CatalogueError(path, [("file", f"not valid TOML: {e}")]) from None
    with contextlib.suppress(OSError, TypeError, ValueError):
        cached.parent.mkdir(exist_ok=True)
        text = json.dumps({"sha256": digest, "doc": doc}, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, cached)  # atomic: a concurrent reader sees old or new
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return doc


# --------------------------------------------------------------------------- checks

_FAULT_KEYS: Final = frozenset(
    {
        "code", "source", "title", "ocpp16", "ocpp16_note", "doc_ocpp16", "ocpp15",
        "vendor_error_code", "info", "info_values", "doc_info", "doc_info_values", "display",
        "display_shown", "cause", "remedy", "cause_nl", "remedy_nl", "scope", "effect",
        "derate_to", "recovery", "retries", "retry_delay_s", "after_retries", "detected_by",
        "detection", "thresholds", "same_as", "doc_scope", "note",
    }
)
_Problems = list[tuple[str, str]]
_E = TypeVar("_E", bound=StrEnum)


class _Reader:
    """Typed access to one table of the file; problems are recorded, not raised, so that
    one load reports everything that is wrong."""

    def __init__(self, raw: Mapping[str, Any], where: str, problems: _Problems) -> None:
        self.raw = raw
        self.where = where
        self.problems = problems

    def bad(self, why: str) -> None:
        self.problems.append((self.where, why))

    def text(self, key: str, default: str | None = None, empty_ok: bool = False) -> str:
        value = self.raw.get(key, default)
        if value is None:
            self.bad(f"{key} missing")
        elif not isinstance(value, str):
            self.bad(f"{key} must be a string")
        elif not value and not empty_ok:
            self.bad(f"{key} is empty")
        else:
            return value
        return ""

    def optional(self, key: str) -> str | None:
        return self.text(key, empty_ok=True) if key in self.raw else None

    def number(self, key: str, default: float | None = None) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.bad(f"{key} must be a number")
            return 0.0
        return float(value)

    def choice(self, key: str, enum: type[_E], default: str | None = None) -> _E:
        value = self.raw.get(key, default)
        try:
            return enum(value)
        except ValueError:
            self.bad(f"{key} {value!r} is not one of {', '.join(e.value for e in enum)}")
            return next(iter(enum))

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(f"{key} must be a list of strings")
            return ()
        return tuple(value)

    def table(self, key: str) -> dict[str, Any]:
        value = self.raw.get(key, {})
        if not isinstance(value, dict):
            self.bad(f"{key} must be a table")
            return {}
        return value

    def template(self, key: str, text: str) -> set[str]:
        """Check the placeholders of an info template; return their names."""
        try:
            parsed = list(_FORMATTER.parse(text))
        except ValueError as e:
            self.bad(f"{key}: malformed placeholder ({e})")
            return set()
        names: set[str] = set()
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if not name.isidentifier():
                self.bad(f"{key}: placeholder {{{name}}} must be a name")
            elif conversion not in (None, "r", "s"):
                self.bad(f"{key}: bad conversion !{conversion} in {{{name}}}")
            elif spec and ("{" in spec or not _spec_ok(spec)):
                self.bad(f"{key}: bad format spec {spec!r} in {{{name}}}")
            else:
                names.add(name)
        return names


def _spec_ok(spec: str) -> bool:
    for sample in (0.0, 0, ""):
        with contextlib.suppress(ValueError, TypeError):
            format(sample, spec)
            return True
    return False


def _build(doc: Mapping[str, Any], file: str) -> Catalogue:
    problems: _Problems = []
    for key in sorted(set(doc) - {"thresholds", "conditions", "fault"}):
        problems.append((key, "unknown table"))
    thresholds = _thresholds(doc.get("thresholds"), problems)
    entries = doc.get("fault")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append(("fault", "expected [[fault]] tables"))
        entries = []
    faults: dict[str, FaultDef] = {}
    seen: set[str] = set()  # codes with an entry, valid or not (no "missing" for those)
    for index, raw in enumerate(entries):
        _fault(raw, index, thresholds, problems, faults, seen)
    for source, codes in ((Source.AC, AC_CODES), (Source.DC, DC_CODES)):
        for code in codes:
            if code not in seen:
                problems.append((f"code {code}", f"missing: every code of the {source.name} "
                                 "list needs an entry"))
            elif code in faults and faults[code].source is not source:
                problems.append((f"code {code}", f"source must be {source.value!r}"))
    _check_same_as(faults, seen, problems)
    conditions = _conditions(doc.get("conditions"), faults, seen, problems)
    if problems:
        raise CatalogueError(file, problems)
    return Catalogue(file, MappingProxyType(thresholds), MappingProxyType(faults),
                     MappingProxyType(conditions))


def _thresholds(raw: object, problems: _Problems) -> dict[str, float]:
    if not isinstance(raw, dict):
        problems.append(("thresholds", "missing [thresholds] table"))
        return {}
    result: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append((f"thresholds.{key}", "must be a number"))
        else:
            result[key] = value
    return result


def _fault(raw: Mapping[str, Any], index: int, thresholds: Mapping[str, float],
           problems: _Problems, faults: dict[str, FaultDef], seen: set[str]) -> None:
    code = raw.get("code")
    where = f"code {code}" if isinstance(code, str) and code else f"fault[{index}]"
    before = len(problems)
    r = _Reader(raw, where, problems)
    for key in sorted(set(raw) - _FAULT_KEYS):
        r.bad(f"unknown key {key!r}")
    code = r.text("code")
    if code in seen:
        r.bad("duplicate entry")
    seen.add(code)
    source = r.choice("source", Source)
    ocpp16 = r.text("ocpp16")
    if ocpp16 and ocpp16 not in OCPP16_ERROR_CODES:
        r.bad(f"ocpp16 {ocpp16!r} is not an OCPP 1.6 ChargePointErrorCode")
    doc_ocpp16, ocpp16_note = r.optional("doc_ocpp16"), r.text("ocpp16_note", "", True)
    if doc_ocpp16 is not None and doc_ocpp16.replace(" ", "") != ocpp16 and not ocpp16_note:
        r.bad(f"ocpp16 {ocpp16!r} differs from doc_ocpp16 {doc_ocpp16!r}: say why in ocpp16_note")
    vendor_error_code = r.text("vendor_error_code")
    if vendor_error_code and vendor_error_code != code:
        r.bad("vendor_error_code must be the code itself")
    info = r.text("info", empty_ok=True)
    names = r.template("info", info)
    info_values = r.table("info_values")
    for name, key in info_values.items():
        if name not in names or key not in thresholds:
            r.bad(f"info_values.{name}: needs a placeholder {{{name}}} and a threshold {key!r}")
    doc_info_values = r.table("doc_info_values")
    for name in set(doc_info_values) - names:
        r.bad(f"doc_info_values.{name}: info has no placeholder {{{name}}}")
    display, shown = r.table("display"), raw.get("display_shown", True)
    if not isinstance(shown, bool):
        r.bad("display_shown must be true or false")
    for lang in REQUIRED_LANGUAGES:
        if not isinstance(display.get(lang), str):
            r.bad(f"display.{lang} missing: every entry needs {' and '.join(REQUIRED_LANGUAGES)}")
    for lang, text in display.items():
        if not isinstance(text, str) or bool(text) != shown:
            r.bad(f"display.{lang} must be " + ("a text" if shown else '"" (display_shown false)'))
    effect, recovery = r.choice("effect", Effect), r.choice("recovery", Recovery)
    derate_a, derate_key = _derate(r, effect, thresholds)
    retries, delay, after = _retry(r, recovery)
    used = r.strings("thresholds")
    for key in used:
        if key not in thresholds:
            r.bad(f"thresholds: {key!r} is not in [thresholds]")
    if len(problems) > before:
        return
    nl_required = source is Source.AC  # the AC list's Dutch text is kept verbatim
    fault = FaultDef(
        code=code, source=source, title=r.text("title"), ocpp16=ocpp16,
        vendor_error_code=code, info=info, display=MappingProxyType(dict(display)),
        display_shown=bool(shown), cause=r.text("cause"), remedy=r.text("remedy"),
        scope=r.choice("scope", Scope), effect=effect, recovery=recovery, retries=retries,
        retry_delay_s=delay, after_retries=after, derate_key=derate_key,
        derate_a=thresholds[derate_key] if derate_key else derate_a,
        detected_by=r.text("detected_by"), detection=r.text("detection"), thresholds=used,
        same_as=r.strings("same_as"), info_values=MappingProxyType(info_values),
        info_defaults=MappingProxyType({p: thresholds[k] for p, k in info_values.items()}),
        ocpp16_note=ocpp16_note, doc_ocpp16=doc_ocpp16, ocpp15=r.optional("ocpp15"),
        doc_info=r.optional("doc_info"), doc_info_values=MappingProxyType(doc_info_values),
        cause_nl=r.text("cause_nl", None if nl_required else "", True),
        remedy_nl=r.text("remedy_nl", None if nl_required else "", True),
        doc_scope=r.optional("doc_scope"), note=r.text("note", "", True),
    )
    if len(problems) == before:
        faults[code] = fault


def _derate(r: _Reader, effect: Effect, thresholds: Mapping[str, float]
            ) -> tuple[float | None, str | None]:
    value = r.raw.get("derate_to")
    if effect is not Effect.DERATE:
        if value is not None:
            r.bad("derate_to is for effect = \"derate\" only")
        return None, None
    if isinstance(value, str):
        if value not in thresholds:
            r.bad(f"derate_to: {value!r} is not in [thresholds]")
        return None, value
    amps = r.number("derate_to")
    if amps < 0:
        r.bad("derate_to must not be negative")
    return amps, None


def _retry(r: _Reader, recovery: Recovery) -> tuple[int, float, Recovery | None]:
    keys = ("retries", "retry_delay_s", "after_retries")
    if recovery is not Recovery.RETRY:
        for key in keys:
            if key in r.raw:
                r.bad(f"{key} is for recovery = \"retry\" only")
        return 0, 0.0, None
    retries = r.raw.get("retries")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
        r.bad("retries must be a whole number >= 1")
        retries = 0
    delay = r.number("retry_delay_s")
    if delay <= 0:
        r.bad("retry_delay_s must be > 0")
    after = r.choice("after_retries", Recovery, Recovery.CSMS_RESET.value)
    if after is Recovery.RETRY:
        r.bad("after_retries cannot be retry")
    return retries, delay, after


def _check_same_as(faults: Mapping[str, FaultDef], seen: set[str], problems: _Problems) -> None:
    for fault in faults.values():
        for other in fault.same_as:
            if other not in seen or other == fault.code:
                problems.append((f"code {fault.code}", f"same_as {other!r}: no such other code"))
            elif other in faults and fault.code not in faults[other].same_as:
                why = f"same_as {other!r}, but {other} does not list {fault.code}"
                problems.append((f"code {fault.code}", why))


def _conditions(raw: object, faults: Mapping[str, FaultDef], seen: set[str],
                problems: _Problems) -> dict[Condition, ConditionMap]:
    if not isinstance(raw, dict):
        problems.append(("conditions", "missing [conditions] table"))
        return {}
    result: dict[Condition, ConditionMap] = {}
    for key, value in raw.items():
        before = len(problems)
        r = _Reader(value if isinstance(value, dict) else {}, f"conditions.{key}", problems)
        try:
            condition = Condition(key)
        except ValueError:
            r.bad("unknown condition (not in firmware.safety.fault_catalogue.Condition)")
            continue
        for extra in sorted(set(r.raw) - {"ac", "dc", "info"}):
            r.bad(f"unknown key {extra!r}")
        codes: dict[Source, str] = {}
        for source in Source:
            code = r.optional(source.value)
            if code is None:
                continue
            if code not in seen:
                r.bad(f"{source.value}: no such code {code!r}")
            elif code in faults and faults[code].source is not source:
                r.bad(f"{source.value}: {code} is not a code of the {source.name} list")
            codes[source] = code
        if not codes:
            r.bad("needs ac or dc (or both)")
        info = r.optional("info")
        if info is not None:
            r.template("info", info)
        if len(problems) > before or any(c not in faults for c in codes.values()):
            continue
        ac = faults[codes.get(Source.AC) or codes[Source.DC]]
        dc = faults[codes.get(Source.DC) or codes[Source.AC]]
        if info is not None:
            ac, dc = replace(ac, info=info), replace(dc, info=info)
        result[condition] = ConditionMap(condition, ac, dc)
    for condition in Condition:
        if condition.value not in raw:
            problems.append((f"conditions.{condition.value}", "missing"))
    for error, condition in EV_COMM_CONDITIONS.items():
        if condition in result and result[condition].dc.code != error.value:
            problems.append((f"conditions.{condition.value}",
                             f"dc must be {error.value} (EvCommError.{error.name})"))
    return result

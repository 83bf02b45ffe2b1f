"""Loading and checking a station file (TOML) into a :class:`StationConfig`.

Everything is checked before anything starts, and every problem is collected: an installer
fixing a station file wants the whole list at once, not one error per attempt. The file
format is described in ``docs/configuration.md``.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from drivers.params import Param
from drivers.registry import BUS_KINDS, STATION_ROLES
from firmware.config.connectors import check_connectors
from firmware.config.model import BusConfig, ConfigError, DeviceConfig, Identity, StationConfig
from firmware.config.sections import DriverSections
from firmware.config.values import (
    BAD,
    Problems,
    check_keys,
    check_param,
    check_range,
    check_text,
    join,
    suggest,
    table_at,
)

TOP_LEVEL = ("station", "csms", "buses", "devices", "connectors", "thresholds")

# The charge point id ends up in the WebSocket URL (…/ocpp/<id>), so only URL-safe characters.
CHARGE_POINT_ID = re.compile(r"[A-Za-z0-9._:-]{1,48}")
CHARGE_POINT_ID_TEXT = "1 to 48 characters of A-Z a-z 0-9 . _ : -"
# Optional identity fields and their OCPP 1.6 BootNotification CiString lengths.
IDENTITY_OPTIONAL = {
    "serial_number": 25,
    "charge_box_serial_number": 25,
    "firmware_version": 50,
    "meter_type": 25,
    "meter_serial_number": 25,
    "iccid": 20,
    "imsi": 20,
}
VENDOR_MAX = 20
MODEL_MAX = 20
GRID_POWER_MAX_W = 10_000_000.0
PACKAGE = "evse-firmware"


def load_station(path: str | Path) -> StationConfig:
    """Read and check the station file at ``path``; raises :class:`ConfigError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [("<file>", f"cannot be read: {exc}")]) from None
    return parse_station(text, path)


def parse_station(text: str, path: str | Path) -> StationConfig:
    """Check the station file ``text`` (read from ``path``, named in every problem).

    Raises :class:`ConfigError` carrying every problem found, one (key, reason) each.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("<toml>", str(exc))]) from None
    problems = Problems()
    check_keys(problems, "", doc, TOP_LEVEL)
    identity, grid_power = _station(problems, doc)
    csms_url = _csms(problems, doc.get("csms"))
    bus_tables = _bus_tables(problems, doc.get("buses", {}))
    sections = DriverSections(problems, {name: kind for kind, name, _ in bus_tables})
    buses = _buses(problems, sections, bus_tables)
    devices = _devices(problems, sections, doc.get("devices", {}))
    connectors = check_connectors(problems, sections, doc.get("connectors", []))
    thresholds = _thresholds(problems, doc.get("thresholds", {}))
    if problems or identity is None or grid_power is BAD or not connectors:
        raise ConfigError(path, problems.items)
    return StationConfig(
        path=Path(path),
        identity=identity,
        max_grid_power_w=grid_power,
        connectors=connectors,
        buses=MappingProxyType(buses),
        devices=MappingProxyType(devices),
        csms_url=csms_url,
        thresholds=MappingProxyType(thresholds),
    )


def _thresholds(problems: Problems, value: Any) -> dict[str, float]:
    """``[thresholds]``: the installer's values for the fault catalogue's thresholds
    (names as in ``firmware/safety/catalogue.toml``; numbers only)."""
    table = table_at(problems, "thresholds", value, "[thresholds]")
    if table is None:
        return {}
    from firmware.safety.fault_catalogue import (
        default_catalogue,  # late: the catalogue is data, loaded once
    )

    known = default_catalogue().thresholds
    check_keys(problems, "thresholds", table, known)
    found: dict[str, float] = {}
    for name, raw in table.items():
        if name not in known:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            problems.add(f"thresholds.{name}", f"must be a number (got {raw!r})")
            continue
        found[name] = float(raw)
    return found


def check_station(path: str | Path) -> list[str]:
    """Every problem of the station file at ``path`` as ``FILE: KEY: REASON`` lines."""
    try:
        load_station(path)
    except ConfigError as exc:
        return [f"{exc.file}: {key}: {reason}" for key, reason in exc.problems]
    return []


def _station(problems: Problems, doc: dict[str, Any]) -> tuple[Identity | None, Any]:
    """The identity and max_grid_power_w of ``[station]`` (None / BAD on a problem)."""
    if "station" not in doc:
        problems.add("station", "required section [station] is missing")
        return None, BAD
    table = table_at(problems, "station", doc["station"], "[station]")
    if table is None:
        return None, BAD
    before = len(problems.items)
    required = ("charge_point_id", "vendor", "model", "max_grid_power_w")
    check_keys(problems, "station", table, (*required, *IDENTITY_OPTIONAL))
    for name in required:
        if name not in table:
            problems.add(join("station", name), "required key is missing")
    cp_id: Any = BAD
    if "charge_point_id" in table:
        cp_id = check_text(
            problems,
            "station.charge_point_id",
            table["charge_point_id"],
            max_len=48,
            pattern=CHARGE_POINT_ID,
            pattern_text=CHARGE_POINT_ID_TEXT,
        )
    fields: dict[str, Any] = {}
    for name, limit in (("vendor", VENDOR_MAX), ("model", MODEL_MAX)):
        if name in table:
            fields[name] = check_text(
                problems, join("station", name), table[name], min_len=1, max_len=limit
            )
    for name, limit in IDENTITY_OPTIONAL.items():
        if name in table:
            value = check_text(problems, join("station", name), table[name], max_len=limit)
            fields[name] = value or None  # "" in the file means "not set"
    fields.setdefault("firmware_version", _package_version())
    grid_power: Any = BAD
    if "max_grid_power_w" in table:
        key = "station.max_grid_power_w"
        grid_power = check_param(problems, key, table["max_grid_power_w"], Param(float))
        if grid_power is not BAD and not check_range(
            problems, key, grid_power, high=GRID_POWER_MAX_W, above=0
        ):
            grid_power = BAD
    if len(problems.items) != before:
        return None, BAD
    return Identity(charge_point_id=cp_id, **fields), grid_power


def _package_version() -> str | None:
    """The installed firmware version: the default of ``station.firmware_version``."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _csms(problems: Problems, value: Any) -> str | None:
    """``[csms] url``: optional, ws:// or wss:// with a host."""
    if value is None:
        return None
    table = table_at(problems, "csms", value, "[csms]")
    if table is None:
        return None
    check_keys(problems, "csms", table, ("url",))
    if "url" not in table:
        return None
    url = check_param(problems, "csms.url", table["url"], Param(str))
    if url is BAD:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        problems.add("csms.url", f"is not a valid URL: {exc} (got {url!r})")
        return None
    if parts.scheme not in ("ws", "wss") or not host:
        problems.add("csms.url", f"must be a ws:// or wss:// URL with a host (got {url!r})")
        return None
    return str(url)


def _bus_tables(problems: Problems, value: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, table) of every well-formed ``[buses.<kind>.<name>]``.

    Bus names must be unique across kinds: drivers find their bus by name alone.
    """
    buses = table_at(problems, "buses", value, "[buses.<kind>.<name>]")
    if buses is None:
        return []
    found: list[tuple[str, str, dict[str, Any]]] = []
    first: dict[str, str] = {}
    for kind, named in buses.items():
        kind_key = join("buses", kind)
        if kind not in BUS_KINDS:
            hint = suggest(kind, BUS_KINDS) or f" (bus kinds: {', '.join(BUS_KINDS)})"
            problems.add(kind_key, "unknown key" + hint)
            continue
        kind_table = table_at(problems, kind_key, named, f"[buses.{kind}.<name>]")
        for name, section in (kind_table or {}).items():
            key = join(kind_key, name)
            if name in first:
                problems.add(key, f"bus name {name!r} already used by {first[name]}")
                continue
            first[name] = key
            table = table_at(problems, key, section, f"[{key}]")
            if table is not None:
                found.append((kind, name, table))
    return found


def _buses(
    problems: Problems,
    sections: DriverSections,
    tables: list[tuple[str, str, dict[str, Any]]],
) -> dict[str, BusConfig]:
    buses: dict[str, BusConfig] = {}
    for kind, name, table in tables:
        key = f"buses.{kind}.{name}"
        checked = sections.check(f"bus.{kind}", key, table)
        if checked is not None:
            buses[name] = BusConfig(kind, name, checked.driver, checked.params, key)
            number = checked.params.get("bus")
            if kind == "i2c" and isinstance(number, int):
                # One owner per bus: two owners of one /dev/i2c-N would interleave
                # transactions behind each other's lock.
                sections.claim(("i2c_bus", number), f"I2C bus /dev/i2c-{number}",
                               join(key, "bus"))
    return buses


def _devices(problems: Problems, sections: DriverSections, value: Any) -> dict[str, DeviceConfig]:
    """The station-level roles of ``[devices.<role>]``."""
    table = table_at(problems, "devices", value, "[devices.<role>]")
    if table is None:
        return {}
    check_keys(problems, "devices", table, STATION_ROLES)
    devices: dict[str, DeviceConfig] = {}
    for role in STATION_ROLES:
        if role not in table:
            continue
        key = join("devices", role)
        section = table_at(problems, key, table[role], f"[{key}]")
        checked = sections.check(role, key, section) if section is not None else None
        if checked is not None:
            devices[role] = DeviceConfig(role, checked.driver, checked.params, key)
    return devices

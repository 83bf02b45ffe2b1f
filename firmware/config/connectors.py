"""Checking of the ``[[connectors]]`` array: ratings, ids and the hardware roles per kind."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from drivers.params import Param
from drivers.registry import CONNECTOR_ROLES
from firmware.config.model import ConnectorConfig, ConnectorKind, DeviceConfig
from firmware.config.sections import DriverSections
from firmware.config.values import (
    BAD,
    Problems,
    check_choice,
    check_keys,
    check_param,
    check_range,
    check_text,
    describe,
    join,
    table_at,
)

FIELDS = ("id", "name", "kind", "max_current_a", "phases", "max_voltage_v", "max_power_w")
DC_ROLES = ("power_stack", "imd", "ev_comm")
DC_OPTIONAL_ROLES = ("cable", "cooler")  # a liquid-cooled DC cable's sensors and cooler
NAME_MAX = 20

# Limits of the connector ratings. IEC 61851-1 pilot duty covers 6–80 A on AC.
AC_CURRENT_A = (6.0, 80.0)
DC_CURRENT_A = (1.0, 1000.0)
DC_VOLTAGE_V = (50.0, 1500.0)
DC_POWER_MAX_W = 1_000_000.0


def required_roles(kind: ConnectorKind) -> tuple[str, ...]:
    """The roles a connector of ``kind`` cannot work without."""
    roles = ["contactor", "meter"]
    if kind.is_dc:
        roles += DC_ROLES
        if kind is ConnectorKind.CCS:
            roles.append("pilot")  # CCS signals the plug state on the control pilot
    else:
        roles += ["pilot", "rcd"]
        if kind is ConnectorKind.TYPE2_SOCKET:
            roles.append("lock")  # a socket outlet must hold the plug while powered
    return tuple(roles)


def forbidden_role(kind: ConnectorKind, role: str) -> str | None:
    """Why ``role`` makes no sense on a connector of ``kind``, or None when it may be there."""
    if kind is ConnectorKind.TYPE2_CABLE and role == "lock":
        return "not allowed on a type2_cable connector (a tethered cable has no lock actuator)"
    if kind is ConnectorKind.CHADEMO and role == "pilot":
        return "not allowed on a chademo connector (CHAdeMO has no control pilot)"
    if not kind.is_dc and role in (*DC_ROLES, *DC_OPTIONAL_ROLES):
        return f"not allowed on a {kind} connector (only DC connectors: ccs, chademo)"
    return None


def check_connectors(
    problems: Problems, sections: DriverSections, value: Any
) -> tuple[ConnectorConfig, ...]:
    """All connectors, in id order (empty when any problem was found)."""
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        got = describe(value)
        problems.add("connectors", f"must be an array of [[connectors]] tables (got {got})")
        return ()
    if not value:
        problems.add("connectors", "at least one [[connectors]] table is required")
        return ()
    found: list[ConnectorConfig] = []
    ids: list[tuple[int, int]] = []  # (position, id) of every well-formed id
    for position, table in enumerate(value, start=1):
        cid, connector = _connector(problems, sections, f"connectors[{position}]", table)
        if cid is not None:
            ids.append((position, cid))
        if connector is not None:
            found.append(connector)
    _check_ids(problems, ids, len(value))
    if problems:
        return ()
    return tuple(sorted(found, key=lambda c: c.id))


def _check_ids(problems: Problems, ids: list[tuple[int, int]], count: int) -> None:
    first: dict[int, int] = {}
    for position, cid in ids:
        key = f"connectors[{position}].id"
        if cid in first:
            problems.add(key, f"duplicate connector id {cid} (also connectors[{first[cid]}].id)")
            continue
        first[cid] = position
        if cid > count:
            problems.add(key, f"connector ids must be 1..{count} without gaps (got {cid})")


def _connector(
    problems: Problems, sections: DriverSections, key: str, table: dict[str, Any]
) -> tuple[int | None, ConnectorConfig | None]:
    """The connector's id (None when bad) and the connector (None on any problem)."""
    check_keys(problems, key, table, (*FIELDS, *CONNECTOR_ROLES))
    before = len(problems.items)
    cid = _required(problems, key, table, "id", Param(int, min=1))
    kind_text = _required(problems, key, table, "kind", Param(str))
    kind: ConnectorKind | None = None
    kinds = [k.value for k in ConnectorKind]
    if kind_text is not BAD and check_choice(problems, join(key, "kind"), kind_text, kinds):
        kind = ConnectorKind(kind_text)
    name = table.get("name", "")
    if "name" in table:
        name = check_text(problems, join(key, "name"), name, max_len=NAME_MAX)
    ratings = _ratings(problems, key, table, kind)
    devices = _roles(problems, sections, key, table, kind)
    good_id = cid if isinstance(cid, int) else None
    if len(problems.items) != before or kind is None or ratings is None:
        return good_id, None
    devices_view = MappingProxyType(devices)
    return good_id, ConnectorConfig(id=cid, kind=kind, name=name, devices=devices_view, **ratings)


def _required(problems: Problems, key: str, table: dict[str, Any], name: str, param: Param) -> Any:
    if name not in table:
        problems.add(join(key, name), "required key is missing")
        return BAD
    return check_param(problems, join(key, name), table[name], param)


def _ratings(
    problems: Problems, key: str, table: dict[str, Any], kind: ConnectorKind | None
) -> dict[str, Any] | None:
    """max_current_a, phases (AC) or max_voltage_v and max_power_w (DC); None on a problem."""
    before = len(problems.items)
    current = _required(problems, key, table, "max_current_a", Param(float))
    if kind is None:
        return None
    low, high = DC_CURRENT_A if kind.is_dc else AC_CURRENT_A
    if current is not BAD:
        check_range(problems, join(key, "max_current_a"), current, low, high)
    ratings: dict[str, Any] = {"max_current_a": current}
    if kind.is_dc:
        if "phases" in table:
            problems.add(join(key, "phases"), f"only for AC connectors (this one is {kind})")
        voltage = Param(float, min=DC_VOLTAGE_V[0], max=DC_VOLTAGE_V[1])
        ratings["max_voltage_v"] = _required(problems, key, table, "max_voltage_v", voltage)
        power = _required(problems, key, table, "max_power_w", Param(float))
        if power is not BAD:
            check_range(problems, join(key, "max_power_w"), power, high=DC_POWER_MAX_W, above=0)
        ratings["max_power_w"] = power
    else:
        for dc_only in ("max_voltage_v", "max_power_w"):
            if dc_only in table:
                problems.add(join(key, dc_only), f"only for DC connectors (this one is {kind})")
        phases = table.get("phases", 3)
        ratings["phases"] = check_param(
            problems, join(key, "phases"), phases, Param(int, choices=(1, 3))
        )
    return ratings if len(problems.items) == before else None


def _roles(
    problems: Problems,
    sections: DriverSections,
    key: str,
    table: dict[str, Any],
    kind: ConnectorKind | None,
) -> dict[str, DeviceConfig]:
    devices: dict[str, DeviceConfig] = {}
    if kind is not None:
        for role in required_roles(kind):
            if role not in table:
                problems.add(join(key, role), f"required for a {kind} connector, but missing")
    # File order, so that a resource claimed twice is blamed on the later line.
    for role in (r for r in table if r in CONNECTOR_ROLES):
        role_key = join(key, role)
        why_not = forbidden_role(kind, role) if kind is not None else None
        if why_not is not None:
            problems.add(role_key, why_not)
            continue
        section = table_at(problems, role_key, table[role], f"[connectors.{role}]")
        if section is None:
            continue
        checked = sections.check(role, role_key, section)
        if checked is not None:
            devices[role] = DeviceConfig(role, checked.driver, checked.params, role_key)
    return devices

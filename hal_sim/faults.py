"""Fault injection: vendor error code → the physical condition that code describes.

Each row produces a condition in the simulated world (a pilot voltage out of range, a
meter that stops answering, a welded contactor, ...) and never tells the firmware
directly: the firmware must find it through its own drivers. Adding a code is adding a
row to :data:`FAULTS`.

Codes are spelt as the source documents spell them: the AC service list's ("106",
"406") and the DC manual's ("18", "1001").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hal_sim.world import ConnectorSim, World

log = logging.getLogger(__name__)

Action = Callable[["World", "ConnectorSim | None"], None]


class FaultError(ValueError):
    """A fault request that cannot be carried out (the API answers 400)."""


class UnknownFault(FaultError):
    def __init__(self, code: str) -> None:
        self.code = code
        self.known = sorted(FAULTS, key=_code_order)
        super().__init__(f"unknown fault code {code!r} (known: {', '.join(self.known)})")


@dataclass(frozen=True)
class FaultSpec:
    """One injectable fault. ``station`` faults ignore the connector."""

    code: str
    description: str
    inject: Action
    clear: Action
    station: bool = False
    condition: str = ""  # codes with the same condition share it: clear when none is left


# ------------------------------------------------------------------ helpers


def _conn(c: ConnectorSim | None) -> ConnectorSim:
    assert c is not None  # connector faults always get one (see inject())
    return c


def _part(c: ConnectorSim | None, name: str, what: str) -> Any:
    conn = _conn(c)
    part = getattr(conn.circuits, name, None)
    if part is None:
        raise FaultError(f"connector {conn.id} has no {what}")
    return part


def _need_pilot(c: ConnectorSim | None) -> ConnectorSim:
    _part(c, "pilot", "control pilot")
    return _conn(c)


def _need_pp(c: ConnectorSim | None) -> ConnectorSim:
    conn = _need_pilot(c)
    if conn.cfg.kind != "type2_socket":
        raise FaultError(f"connector {conn.id} has no proximity pilot (not a Type 2 socket)")
    return conn


def _need_dc(c: ConnectorSim | None) -> ConnectorSim:
    conn = _conn(c)
    if conn.dc is None:
        raise FaultError(f"connector {conn.id} is not a DC connector")
    return conn


def _pilot_out_of_range(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_pilot(c)
    # -9.8 V lies between state E (-1…2 V) and state F (-13…-10 V): no valid state.
    conn.pilot_override = (-9.8, -12.0) if on else None
    conn.write_pilot()


def _pp_out_of_range(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_pp(c)
    conn.pp_override = 30.0 if on else None  # < 60 Ω: a shorted or invalid cable
    conn.write_pilot()


def _meter_silent(c: ConnectorSim | None, on: bool) -> None:
    conn = _conn(c)
    if conn.circuits.meter is not None:
        conn.circuits.meter.silent = on
    elif conn.dc is not None:
        conn.dc_meter_silent = on
    else:
        raise FaultError(f"connector {conn.id} has no simulated meter")


def _residual_current(c: ConnectorSim | None, on: bool) -> None:
    rcd = _part(c, "rcd", "RCD")
    if on:
        rcd.trip()
    else:
        rcd.reset()


def _insulation(c: ConnectorSim | None, on: bool) -> None:
    conn = _conn(c)
    if conn.dc is None:
        # The DC manual's code 18 is also "Type 2: RCD tripped".
        _residual_current(conn, on)
        return
    conn.set_insulation(50e3 if on else 10e6)


def _contactor_welded(c: ConnectorSim | None, on: bool) -> None:
    _part(c, "contactor", "contactor").welded = on


def _lock_jammed(c: ConnectorSim | None, on: bool) -> None:
    _part(c, "lock", "lock motor").jammed = on


def _stack_fault(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_dc(c)
    assert conn.dc is not None
    conn.dc.faulted = on


def _ev_voltage(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_dc(c)
    assert conn.dc is not None
    conn.dc.foreign_v = 400.0 if on else 0.0  # the EV's battery on the open connector


def _ev_error(c: ConnectorSim | None, on: bool) -> None:
    _need_dc(c).set_ev_error(on)


def _door(w: World, on: bool) -> None:
    w.set_doors(on)


def _row(
    code: str, description: str, effect: Callable[[ConnectorSim | None, bool], None]
) -> FaultSpec:
    """A connector fault whose inject and clear are one switch."""
    return FaultSpec(
        code,
        description,
        inject=lambda _w, c: effect(c, True),
        clear=lambda _w, c: effect(c, False),
        condition=effect.__name__,
    )


FAULTS: dict[str, FaultSpec] = {
    spec.code: spec
    for spec in (
        _row("22", "DC meter stops answering", _meter_silent),
        _row("18", "insulation resistance falls to 50 kΩ (AC connector: the RCD trips)",
             _insulation),
        _row("19", "power stack module in fault, output off", _stack_fault),
        _row("50", "400 V from the EV on the DC output before the session", _ev_voltage),
        _row("51", "the EV reports an error", _ev_error),
        _row("102", "contactor welded: stays closed when commanded open", _contactor_welded),
        _row("105", "energy meter stops answering", _meter_silent),
        _row("106", "RCD (Type A 30 mA) trips", _residual_current),
        _row("211", "lock motor jammed (seen at self-test)", _lock_jammed),
        _row("404", "lock motor jammed (seen when locking a cable)", _lock_jammed),
        _row("405", "proximity pilot resistance 30 Ω (out of range)", _pp_out_of_range),
        _row("406", "control pilot high level -9.8 V (out of range)", _pilot_out_of_range),
        FaultSpec(
            "1001",
            "service door opened",
            inject=lambda w, _c: _door(w, True),
            clear=lambda w, _c: _door(w, False),
            station=True,
        ),
    )
}


def _code_order(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (1 << 30, code)


def spec(code: str) -> FaultSpec:
    try:
        return FAULTS[str(code)]
    except KeyError:
        raise UnknownFault(str(code)) from None


def catalogue() -> list[dict[str, Any]]:
    """Every injectable code with what it does (``GET /api/sim/faults``)."""
    return [
        {"code": s.code, "description": s.description, "station": s.station}
        for s in sorted(FAULTS.values(), key=lambda s: _code_order(s.code))
    ]


def inject(world: World, code: str, connector_id: int | None = None) -> None:
    """Produce the condition of ``code`` (on connector ``connector_id``, default 1)."""
    _apply(world, code, connector_id, on=True)


def clear(world: World, code: str, connector_id: int | None = None) -> None:
    """End the condition of ``code``; clearing a fault that is not active is harmless."""
    _apply(world, code, connector_id, on=False)


def active(world: World) -> list[dict[str, Any]]:
    """The injected faults: ``[{"code": ..., "connector": ...}]`` (connector 0: station)."""
    found = [{"code": code, "connector": 0} for code in sorted(world.injected)]
    for cid, conn in world.connectors.items():
        found.extend({"code": code, "connector": cid} for code in sorted(conn.injected))
    return found


def _apply(world: World, code: str, connector_id: int | None, on: bool) -> None:
    s = spec(code)
    conn = None if s.station else world.connector(1 if connector_id is None else connector_id)
    injected = world.injected if conn is None else conn.injected
    if on:
        s.inject(world, conn)
        injected.add(s.code)
    else:
        injected.discard(s.code)
        # 211 and 404 jam the same motor: the condition ends with the last code using it.
        if not any(FAULTS[other].condition == s.condition != "" for other in injected):
            s.clear(world, conn)
    where = f"connector {conn.id}: " if conn is not None else ""
    log.info(
        "%sfault %s %s: %s", where, s.code, "injected" if on else "cleared", s.description
    )

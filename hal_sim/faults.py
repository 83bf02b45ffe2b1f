"""Fault injection: vendor error code → the physical condition that code describes.

Each row produces a condition in the simulated world (a pilot voltage out of range, a
meter that stops answering, a welded contactor, ...) and never tells the firmware
directly: the firmware must find it through its own drivers. Adding a code is adding a
row to :data:`FAULTS`.

Codes are spelt as the source documents spell them: the AC service list's ("106",
"406") and the DC manual's ("18", "1001"). Every code of both lists is listed: the ones
that cannot be injected (yet) are in :data:`UNAVAILABLE` with the reason (the API lists
them with ``"available": false`` and answers 400 to an injection).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drivers.interfaces import EvCommError
from hal_sim.ev_ac import AcEv
from hal_sim.pe_sim import HEALTHY_PE_OHM
from hal_sim.world import GRID_V, RAIL_V

if TYPE_CHECKING:
    from hal_sim.world import ConnectorSim, World

log = logging.getLogger(__name__)

Action = Callable[["World", "ConnectorSim | None"], None]


class FaultError(ValueError):
    """A fault request that cannot be carried out (the API answers 400)."""


class UnknownFault(FaultError):
    def __init__(self, code: str) -> None:
        self.code = code
        self.known = sorted([*FAULTS, *UNAVAILABLE], key=_code_order)
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


def _lock_open_load(c: ConnectorSim | None, on: bool) -> None:
    _part(c, "lock", "lock motor").open_load = on


def _lock_blocked(c: ConnectorSim | None, on: bool) -> None:
    _part(c, "lock", "lock motor").blocked = on


def _stack_fault(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_dc(c)
    assert conn.dc is not None
    conn.dc.faulted = on


def _ev_voltage(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_dc(c)
    assert conn.dc is not None
    conn.dc.foreign_v = 400.0 if on else 0.0  # the EV's battery on the open connector


def _cable_sensor_open(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_dc(c)
    cable = conn.world.wiring.cables.get(conn.id)
    if cable is None:
        raise FaultError(f"connector {conn.id} has no cable temperature sensors")
    cable.set_open(0, on)  # the DC+ contact sensor's wire: its amplifier goes to the rail


def _cooler_pump_failed(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_dc(c)
    cooler = conn.world.wiring.coolers.get(conn.id)
    if cooler is None:
        raise FaultError(f"connector {conn.id} has no cable cooling unit")
    cooler.pump_failed = on


def _ev_error(c: ConnectorSim | None, on: bool) -> None:
    _need_dc(c).set_ev_error(on)


def _door(w: World, on: bool) -> None:
    w.set_doors(on)


DOOR_CYCLE_S = 0.5  # how long the door stays open for fault 1000


def _door_cycle(w: World, on: bool) -> None:
    # "All doors closed" (1000) is an event: a door opens and closes again (long enough
    # for the door driver's debounce to see it).
    if on:
        w.set_doors(True)
        asyncio.get_running_loop().call_later(DOOR_CYCLE_S, _door_cycle_ends, w)


def _door_cycle_ends(w: World) -> None:
    # A door held open by 1001 stays open: the cycle closes only the door it opened (the
    # world has one door state, so closing it would end 1001's condition behind its back).
    if "1001" not in w.injected:
        w.set_doors(False)


def _station_part(w: World, name: str, what: str) -> Any:
    part = getattr(w.hw.station, name, None) if w.hw.station is not None else None
    if part is None:
        raise FaultError(f"this station has no {what}")
    return part


def _temperature(celsius: float) -> Callable[[World, bool], None]:
    def effect(w: World, on: bool) -> None:
        _station_part(w, "temperature", "temperature sensor").temperature_c = (
            celsius if on else 25.0
        )
    effect.__name__ = f"_temperature_{celsius:g}"
    return effect


class ControllerInternalError(RuntimeError):
    """What the simulated I2C adapter raises for fault 001: no driver expects it."""


def _internal_error(w: World, on: bool) -> None:
    # A generic error has no physical form of its own; the nearest is a controller
    # peripheral failing in a way no driver handles: the I2C adapter answers the cabinet
    # temperature sensor's transfers with an error that is not an I/O error.
    sensor = _station_part(w, "temperature", "temperature sensor")
    sensor.failure = ControllerInternalError("I2C adapter in an unknown state") if on else None


def _tilt(w: World, on: bool) -> None:
    _station_part(w, "tilt", "tilt sensor").set_tilt(25.0 if on else 0.0)


def _pe_open(w: World, on: bool) -> None:
    _station_part(w, "pe_monitor", "PE monitor")
    w.set_pe_ohm(math.inf if on else HEALTHY_PE_OHM)


def _reader(w: World, on: bool) -> None:
    reader = w.hw.reader
    if "token_reader" not in w.config.devices:
        raise FaultError("this station has no token reader")
    if on:
        reader.unplug()
    else:
        reader.replug()


def _grid(volts: float) -> Callable[[World, bool], None]:
    def effect(w: World, on: bool) -> None:
        w.grid_v = volts if on else GRID_V
    effect.__name__ = f"_grid_{volts:g}"
    return effect


def _phase_missing(w: World, on: bool) -> None:
    w.phase_v[1] = 0.0 if on else None  # L2 gone


def _rail_low(w: World, on: bool) -> None:
    w.rail_v = 11.2 if on else RAIL_V  # below internal_supply_min_v (11.4 V)
    for conn in w.connectors.values():
        conn.write_pilot()


def _unavailable(w: World, on: bool, c: ConnectorSim | None) -> None:
    if w.cpo_availability is None:
        raise FaultError("no central system path to the station in this simulation")
    w.cpo_availability(_conn(c).id, not on)


def _dc_leakage(c: ConnectorSim | None, on: bool) -> None:
    rdc = _part(c, "rcd", "RCD")
    if not hasattr(rdc, "set_dc_leakage"):
        raise FaultError(f"connector {_conn(c).id}'s RCD has no DC measurement (not an RDC-DD)")
    # 8.5 mA smooth DC: above the 6 mA limit. Clearing ends the current; the module stays
    # latched until the firmware pulses its reset input.
    rdc.set_dc_leakage(8.5 if on else 0.0)


def _ac_ev(c: ConnectorSim | None) -> ConnectorSim:
    conn = _need_pilot(c)
    if conn.dc is not None:
        raise FaultError(f"connector {conn.id} is not an AC connector")
    return conn


def _ignores_pwm(c: ConnectorSim | None, on: bool) -> None:
    _ac_ev(c).ignore_pwm = on


def _overdraw(c: ConnectorSim | None, on: bool) -> None:
    # More than offered * 1.1 + 0.5 A (IEC 61851-1 tolerance) on every used phase.
    _ac_ev(c).overdraw_a = 6.0 if on else 0.0


def _toggling(c: ConnectorSim | None, on: bool) -> None:
    conn = _ac_ev(c)
    conn.toggle_s = 1.0 if on else None
    if not on and isinstance(conn.ev, AcEv) and conn.ev.paused:
        conn.resume(conn.world.now())


def _ev_comm(code: EvCommError) -> Callable[[ConnectorSim | None, bool], None]:
    def effect(c: ConnectorSim | None, on: bool) -> None:
        _need_dc(c).set_ev_error(on, code)
    effect.__name__ = f"_ev_comm_{code.name.lower()}"
    return effect


def _ev_id_missing(c: ConnectorSim | None, on: bool) -> None:
    conn = _need_dc(c)
    conn.ev_id_missing = on
    conn.notify_ev()


def _nothing(_w: World, _c: ConnectorSim | None) -> None:
    """0 = NoError: the code a DC connector clears with; there is nothing to inject."""


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


def _station_row(
    code: str, description: str, effect: Callable[[World, bool], None]
) -> FaultSpec:
    return FaultSpec(
        code,
        description,
        inject=lambda w, _c: effect(w, True),
        clear=lambda w, _c: effect(w, False),
        station=True,
        condition=getattr(effect, "__name__", ""),
    )


_TCP = _ev_comm(EvCommError.TCP)

FAULTS: dict[str, FaultSpec] = {
    spec.code: spec
    for spec in (
        FaultSpec("0", "NoError: nothing to inject (what a DC connector clears with)",
                  inject=_nothing, clear=_nothing, station=True),
        _row("1", "the EV's PLC modem stops answering", _ev_comm(EvCommError.PLC)),
        _row("2", "no SLAC match from the EV", _ev_comm(EvCommError.SLAC_TIMEOUT)),
        _row("3", "SLAC interrupted", _ev_comm(EvCommError.SLAC_INTERRUPTED)),
        _row("4", "data link setup times out", _ev_comm(EvCommError.LINK_TIMEOUT)),
        _row("5", "data link interrupted", _ev_comm(EvCommError.LINK_INTERRUPTED)),
        _row("6", "no SECC discovery request from the EV", _ev_comm(EvCommError.SDP_TIMEOUT)),
        _row("7", "SECC discovery interrupted", _ev_comm(EvCommError.SDP_INTERRUPTED)),
        _row("8", "the TCP socket to the EV fails", _TCP),
        _row("9", "the TCP socket to the EV fails (reported as 8)", _TCP),
        _row("10", "the TCP socket to the EV fails (reported as 8)", _TCP),
        _row("11", "the TCP socket to the EV fails (reported as 8)", _TCP),
        _row("12", "the TCP socket to the EV fails (reported as 8)", _TCP),
        _row("14", "the EV sends a V2G message out of sequence",
             _ev_comm(EvCommError.V2G_SEQUENCE)),
        _row("15", "lock motor jammed", _lock_jammed),
        _row("16", "lock motor wire open (no motor current)", _lock_open_load),
        _row("17", "lock pin blocked: stall current before the end position",
             _lock_blocked),
        _row("18", "insulation resistance falls to 50 kΩ (AC connector: the RCD trips)",
             _insulation),
        _row("19", "power stack module in fault, output off", _stack_fault),
        _row("20", "the DC+ contact temperature sensor's wire opens (cable)",
             _cable_sensor_open),
        _row("21", "the cable cooling unit reports a pump failure", _cooler_pump_failed),
        _row("22", "DC meter stops answering", _meter_silent),
        _row("50", "400 V from the EV on the DC output before the session", _ev_voltage),
        _row("51", "the EV reports an error", _ev_error),
        _row("101", "8.5 mA smooth DC residual current through the RDC-DD", _dc_leakage),
        _row("102", "contactor welded: stays closed when commanded open", _contactor_welded),
        _station_row("001", "the I2C adapter fails in a way no driver expects (internal error)",
                     _internal_error),
        _station_row("104", "internal +12 V rail at 11.2 V (the CP high level drops)",
                     _rail_low),
        _row("105", "energy meter stops answering", _meter_silent),
        _row("106", "RCD (Type A 30 mA) trips", _residual_current),
        _row("108", "the DC EV sends no EVCCID (Autocharge / Plug & Charge id)",
             _ev_id_missing),
        _station_row("109", "NFC reader unplugged", _reader),
        _station_row("201", "protective earth conductor open (no earth loop)", _pe_open),
        _station_row("202", "grid at 195 V on every phase", _grid(195.0)),
        FaultSpec(
            "206",
            "the CPO sets the connector unavailable (ChangeAvailability Inoperative)",
            inject=lambda w, c: _unavailable(w, True, c),
            clear=lambda w, c: _unavailable(w, False, c),
        ),
        _station_row("208", "grid at 285 V on every phase", _grid(285.0)),
        _station_row("212", "phase L2 missing (0 V)", _phase_missing),
        _row("211", "lock motor jammed (seen at self-test)", _lock_jammed),
        _row("301", "the EV enters state C without a PWM offer", _ignores_pwm),
        _row("302", "the EV draws 6 A more than offered", _overdraw),
        _row("303", "the EV toggles between C and B every second", _toggling),
        _row("304", "(plug a cable and present no card: nothing to inject)",
             lambda _c, _on: None),
        _station_row("401", "housing temperature 75 °C", _temperature(75.0)),
        _station_row("402", "housing temperature -45 °C", _temperature(-45.0)),
        _row("404", "lock motor jammed (seen when locking a cable)", _lock_jammed),
        _row("405", "proximity pilot resistance 30 Ω (out of range)", _pp_out_of_range),
        _row("406", "control pilot high level -9.8 V (out of range)", _pilot_out_of_range),
        _station_row("407", "housing tilted by 25°", _tilt),
        _station_row("1000", "a service door opens and closes again", _door_cycle),
        FaultSpec(
            "1001",
            "service door opened",
            inject=lambda w, _c: _door(w, True),
            clear=lambda w, _c: _door(w, False),
            station=True,
        ),
    )
}

# Codes listed but not injectable (yet), with why: GET /api/sim/faults shows them with
# "available": false and POST answers 400 with the reason.
UNAVAILABLE: dict[str, str] = {
    "209": "P1 smart meter link lost: comes with load management",
    "210": "Modbus TCP energy manager link lost: comes with load management",
}


def _code_order(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (1 << 30, code)


def spec(code: str) -> FaultSpec:
    code = str(code)
    if code in UNAVAILABLE:
        raise FaultError(f"fault {code} cannot be injected: {UNAVAILABLE[code]}")
    try:
        return FAULTS[code]
    except KeyError:
        raise UnknownFault(code) from None


def catalogue() -> list[dict[str, Any]]:
    """Every code of both lists with what injecting it does (``GET /api/sim/faults``);
    ``available`` is false for the codes that cannot be injected (yet), with the reason."""
    rows = [
        {"code": s.code, "description": s.description, "station": s.station,
         "available": True}
        for s in FAULTS.values()
    ]
    rows.extend(
        {"code": code, "description": why, "station": False, "available": False}
        for code, why in UNAVAILABLE.items()
    )
    return sorted(rows, key=lambda r: _code_order(str(r["code"])))


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

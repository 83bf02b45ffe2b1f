"""The simulated world: EVs and the grid, coupled to the simulated wires.

The world is what a real station's surroundings are: it puts voltages on the pilot
wire, currents through the meter and volts on the DC output, following what the
firmware does to its outputs (PWM duty, contactor). It never tells the firmware anything
directly; the firmware reads it all through its own drivers.

``World(config, hw, wiring)`` registers itself in ``wiring.extras["world"]`` so the
interface-level DC devices (``hal_sim.dc_devices``) find it; ``await world.run()`` ticks
the physics until cancelled. Every entry point (plug, fault, tick) runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Any

from drivers.interfaces import EvCommError, EvStatus
from firmware.config import ConnectorConfig, ConnectorKind, StationConfig
from hal_sim.circuits import ConnectorCircuits, SimHardware
from hal_sim.ev_ac import AcEv, AcEvParams, pilot_levels
from hal_sim.ev_dc import DcEv, DcEvParams, DcOutput
from hal_sim.pe_sim import HEALTHY_PE_OHM
from hal_sim.sim_wiring import SimWiring

log = logging.getLogger(__name__)

TICK_S = 0.05
RAIL_V = 12.0  # the control electronics' +12 V rail (the CP generator's positive level)
GRID_V = 230.0
GRID_HZ = 50.0


class WorldError(Exception):
    """A request the world cannot carry out (the API answers 409)."""


class UnknownConnector(WorldError, KeyError):
    """No connector with that id (the API answers 404)."""

    def __str__(self) -> str:
        return str(self.args[0])


IMD_HEALTHY_OHM = 10e6
IMD_ALARM_OHM = 100e3  # IEC 61851-23:2023 insulation fault threshold


class ConnectorSim:
    """The world around one connector: its EV, its supply and the faults injected there.

    Holds what the interface-level DC devices read (``dc``, ``imd_ohm``, the DC meter
    registers) and writes the wire-level circuits (pilot levels, SDM630 registers).
    """

    def __init__(self, cfg: ConnectorConfig, circuits: ConnectorCircuits, world: World) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.circuits = circuits
        self.world = world
        self.ev: AcEv | DcEv | None = None
        self.dc: DcOutput | None = DcOutput() if cfg.is_dc else None
        self.injected: set[str] = set()  # fault codes injected here (hal_sim.faults)
        self.pilot_override: tuple[float, float] | None = None  # (high, low) volts
        self.pp_override: float | None = None
        self.ev_error = False  # the next / present DC EV reports an error
        self.ev_comm_error = EvCommError.EV_ERROR  # ...and which one (hal_sim.faults)
        self.ev_id_missing = False  # the DC EV sends no EVCCID (Autocharge id, fault 108)
        # AC EV misbehaviour (hal_sim.faults): draws this much above the offer (302),
        # enters C without a PWM offer (301), toggles C/B every toggle_s seconds (303).
        self.overdraw_a = 0.0
        self.ignore_pwm = False
        self.toggle_s: float | None = None
        self._toggle_at: float | None = None
        # meter registers: the AC grid meter or the DC meter, whichever the connector has
        self.energy_wh = 0.0
        self.power_w = 0.0
        self.voltage_v: tuple[float, ...] = (GRID_V, GRID_V, GRID_V)
        self.current_a: tuple[float, ...] = (0.0, 0.0, 0.0)
        self.frequency_hz = GRID_HZ
        self.dc_meter_silent = False
        self.imd_ohm = IMD_HEALTHY_OHM
        self.imd_self_test_fails = False
        self._imd_listeners: list[Callable[[bool], None]] = []
        self._ev_listeners: list[Callable[[EvStatus], None]] = []
        self._last_status = EvStatus()

    def attach(self) -> None:
        """Connect to the circuits' callbacks and put the initial levels on the wires."""
        pilot = self.circuits.pilot
        if pilot is not None:
            pilot.on_duty(self._on_duty)
        # Opening the contactor cuts the current at once: step the physics right then
        # instead of at the next tick, so no energy is counted after the opening.
        if self.circuits.contactor is not None:
            self.circuits.contactor.on_change(lambda *_: self.world.step())
        self.write_pilot()
        self._write_meter()

    # ------------------------------------------------------------------ EV events

    def plug(self, ev: AcEv | DcEv, now: float) -> None:
        self.ev = ev
        if self.circuits.pilot is not None:
            ev.set_duty(self.circuits.pilot.duty, now)
        if isinstance(ev, DcEv) and self.ev_error:
            ev.set_error(True, now)
        log.info("connector %d: EV plugged in (%s)", self.id, ev.params)
        self.write_pilot()
        self.notify_ev()

    def unplug(self) -> None:
        self.world.step()  # count the energy up to this moment
        self.ev = None
        log.info("connector %d: EV unplugged", self.id)
        self.world.step()  # and show zero current at once
        self.write_pilot()
        self.notify_ev()

    def pause(self, now: float) -> None:
        assert self.ev is not None
        self.world.step()
        self.ev.pause(now)
        log.info("connector %d: EV pauses charging", self.id)
        self.world.step()
        self.write_pilot()
        self.notify_ev()

    def resume(self, now: float) -> None:
        assert self.ev is not None
        self.ev.resume(now)
        log.info("connector %d: EV resumes charging", self.id)
        self.write_pilot()
        self.notify_ev()

    def set_ev_error(self, error: bool, code: EvCommError = EvCommError.EV_ERROR) -> None:
        self.ev_error = error
        self.ev_comm_error = code
        if isinstance(self.ev, DcEv):
            self.ev.set_error(error, self.world.now())
            self.write_pilot()
        self.notify_ev()

    def _on_duty(self, duty: float) -> None:
        # Runs in the thread that set the PWM (the firmware's event loop). The new pilot
        # levels are written before returning: the firmware's reaction time is measured
        # from here.
        if self.ev is not None:
            self.ev.set_duty(duty, self.world.now())
        self.write_pilot()

    # ------------------------------------------------------------------ wires

    def pilot_levels(self) -> tuple[float, float, float | None]:
        """(cp_high_v, cp_low_v, pp_ohm) as the wires show them now."""
        pilot = self.circuits.pilot
        duty = pilot.duty if pilot is not None else 100.0
        ev_ohm = self.ev.ev_ohm if self.ev is not None else None
        high, low = self.pilot_override or pilot_levels(duty, ev_ohm)
        rail = self.world.rail_v
        if rail != RAIL_V and self.pilot_override is None:
            # The CP generator swings between the internal rails: a low +12 V rail lowers
            # every positive level in proportion.
            high, low = (v * rail / RAIL_V if v > 0 else v for v in (high, low))
        pp: float | None = None  # None: PP to PE open (no cable in the socket)
        if self.cfg.kind is ConnectorKind.TYPE2_SOCKET and isinstance(self.ev, AcEv):
            pp = self.ev.pp_ohm
        if self.pp_override is not None:
            pp = self.pp_override
        return high, low, pp

    def write_pilot(self) -> None:
        if self.circuits.pilot is not None:
            self.circuits.pilot.set_levels(*self.pilot_levels())

    def _write_meter(self) -> None:
        meter = self.circuits.meter
        if meter is None or self.dc is not None:
            return
        v1, v2, v3 = self.voltage_v
        i1, i2, i3 = self.current_a
        meter.set(
            voltage_v=(v1, v2, v3),
            current_a=(i1, i2, i3),
            power_phase_w=(v1 * i1, v2 * i2, v3 * i3),
            power_w=self.power_w,
            frequency_hz=self.frequency_hz,
            import_wh=self.energy_wh,
        )

    # ------------------------------------------------------------------ physics

    def step(self, now: float, dt: float) -> None:
        contactor = self.circuits.contactor
        closed = contactor is not None and contactor.closed
        if self.dc is not None:
            self._step_dc(now, dt, closed)
        else:
            self._step_ac(now, dt, closed)

    def _step_ac(self, now: float, dt: float, closed: bool) -> None:
        rcd = self.circuits.rcd
        powered = closed and not (rcd is not None and rcd.tripped)
        volts = tuple(self.world.grid_voltage(n) for n in range(3))
        self._misbehave(now)
        amps = 0.0
        phases = 0
        if isinstance(self.ev, AcEv):
            phases = min(self.ev.params.phases, self.cfg.phases)
            mean_v = sum(volts) / 3.0
            if self.ev.step(now, dt, powered, mean_v, phases):
                self.write_pilot()
            amps = self.ev.current_a
        # The meter is powered from its own voltage inputs, so it sits on the supply side
        # of the contactor and always sees the grid.
        self.voltage_v = volts
        self.current_a = tuple(amps if n < phases else 0.0 for n in range(3))
        powers = [v * i for v, i in zip(self.voltage_v, self.current_a, strict=True)]
        self.power_w = sum(powers)
        self.energy_wh += self.power_w * dt / 3600.0
        self.frequency_hz = self.world.grid_frequency()
        self._write_meter()

    def _misbehave(self, now: float) -> None:
        """Carry the injected AC EV misbehaviour over to the plugged EV (hal_sim.faults)."""
        ev = self.ev
        if not isinstance(ev, AcEv):
            self._toggle_at = None
            return
        ev.overdraw_a = self.overdraw_a
        if ev.ignore_pwm != self.ignore_pwm:
            ev.ignore_pwm = self.ignore_pwm
            if ev.set_duty(ev.duty, now):
                self.write_pilot()
        if self.toggle_s is None:
            self._toggle_at = None
        elif self._toggle_at is None:
            self._toggle_at = now + self.toggle_s
        elif now >= self._toggle_at:
            self._toggle_at = now + self.toggle_s
            (ev.resume if ev.paused else ev.pause)(now)
            self.write_pilot()

    def _step_dc(self, now: float, dt: float, closed: bool) -> None:
        assert self.dc is not None
        ev = self.ev if isinstance(self.ev, DcEv) else None
        state = ev.state if ev is not None else None
        if ev is not None:
            ev.step_state(now)
        self.dc.step(dt, closed, ev)  # may end the charge: target SoC sends the EV to B
        if ev is not None and ev.state != state:
            self.write_pilot()
        volts = self.dc.connector_v()
        amps = self.dc.current if closed else 0.0
        self.voltage_v = (volts,)
        self.current_a = (amps,)
        self.power_w = volts * amps
        self.energy_wh += self.power_w * dt / 3600.0
        self.notify_ev()

    # ------------------------------------------------------------------ DC devices

    def ev_status(self) -> EvStatus:
        """What the DC EV tells the station (EvCommunication.status())."""
        ev = self.ev
        if not isinstance(ev, DcEv):
            return EvStatus()
        bulk, full = ev.times_s(self.power_w)
        return EvStatus(
            connected=True,
            ready=ev.ready,
            target_voltage_v=ev.max_charge_voltage(),
            target_current_a=round(ev.acceptance_a(), 1) if ev.ready else 0.0,
            max_voltage_v=ev.params.max_voltage_v,
            max_current_a=ev.params.max_current_a,
            battery_voltage_v=round(ev.battery_voltage(), 1),
            power_delivery=ev.battery_connected,
            soc_percent=round(ev.soc, 1),
            time_to_bulk_s=bulk,
            time_to_full_s=full,
            ev_id=None if self.ev_id_missing else ev.ev_id,
            error=self.ev_comm_error if ev.error else None,
        )

    def subscribe_ev(self, on_change: Callable[[EvStatus], None]) -> Callable[[], None]:
        """Call ``on_change(status)`` when the EV's status changes; returns the
        unsubscribe (a station restarted in-process must not hear the old one's)."""
        self._ev_listeners.append(on_change)
        return lambda: _discard(self._ev_listeners, on_change)

    def notify_ev(self) -> None:
        if self.dc is None:
            return
        status = self.ev_status()
        if status != self._last_status:
            self._last_status = status
            for listener in list(self._ev_listeners):
                listener(status)

    @property
    def meter_silent(self) -> bool:
        """The connector's meter does not answer (faults 105 / 22)."""
        if self.circuits.meter is not None:
            return bool(self.circuits.meter.silent)
        return self.dc_meter_silent

    @property
    def imd_alarm(self) -> bool:
        return self.imd_ohm < IMD_ALARM_OHM

    def subscribe_imd(self, on_alarm: Callable[[bool], None]) -> Callable[[], None]:
        """Call ``on_alarm(alarm)`` when the IMD alarm changes; returns the unsubscribe."""
        self._imd_listeners.append(on_alarm)
        return lambda: _discard(self._imd_listeners, on_alarm)

    def set_insulation(self, ohm: float) -> None:
        was = self.imd_alarm
        self.imd_ohm = ohm
        if self.imd_alarm != was:
            log.info("connector %d: insulation %.0f ohm", self.id, ohm)
            for listener in list(self._imd_listeners):
                listener(self.imd_alarm)


class World:
    """EVs and grid of one simulated station."""

    def __init__(
        self,
        config: StationConfig,
        hw: SimHardware,
        wiring: SimWiring,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = TICK_S,
    ) -> None:
        self.config = config
        self.hw = hw
        self.wiring = wiring
        self.clock = clock
        self.tick_s = tick_s
        self.doors_open = False
        self.injected: set[str] = set()  # station-level fault codes (hal_sim.faults)
        self.grid_v = GRID_V
        self.grid_hz = GRID_HZ
        self.phase_v: list[float | None] = [None, None, None]  # per-phase overrides
        self.rail_v = RAIL_V
        self.pe_ohm = HEALTHY_PE_OHM  # the installation's earth loop (inf: PE open)
        # The CPO's requests in the simulation (ChangeAvailability for fault 206): set by
        # whoever runs the station (hal_sim.runner), called with (connector, operative).
        self.cpo_availability: Callable[[int, bool], None] | None = None
        self._rng = random.Random(0x5EED)
        self._last = clock()
        self._stepping = False
        self.connectors: dict[int, ConnectorSim] = {}
        for cfg in config.connectors:
            conn = ConnectorSim(cfg, hw.connector(cfg.id), self)
            self.connectors[cfg.id] = conn
        wiring.extras["world"] = self
        for conn in self.connectors.values():
            conn.attach()

    # ------------------------------------------------------------------ lookups

    def connector(self, connector_id: int) -> ConnectorSim:
        try:
            return self.connectors[connector_id]
        except KeyError:
            known = ", ".join(str(c) for c in self.connectors)
            raise UnknownConnector(
                f"unknown connector {connector_id} (this station has {known})"
            ) from None

    def now(self) -> float:
        return self.clock()

    # ------------------------------------------------------------------ the EV

    def ev_params_class(self, connector_id: int) -> type[AcEvParams] | type[DcEvParams]:
        """Which EV parameters a connector takes (DC for CCS / CHAdeMO, else AC)."""
        return DcEvParams if self.connector(connector_id).cfg.is_dc else AcEvParams

    def plug(
        self, connector_id: int, params: AcEvParams | DcEvParams | None = None
    ) -> ConnectorSim:
        """An EV arrives at the connector (default parameters of sim-api.md if None)."""
        conn = self.connector(connector_id)
        if conn.ev is not None:
            raise WorldError(f"connector {connector_id}: an EV is already plugged in")
        now = self.clock()
        ev: AcEv | DcEv
        if conn.cfg.is_dc:
            if not isinstance(params, DcEvParams | None):
                raise WorldError(f"connector {connector_id} is DC: it takes a DC EV")
            ccs = conn.cfg.kind is ConnectorKind.CCS
            ev = DcEv(params or DcEvParams(), ccs, connector_id, now)
        else:
            if not isinstance(params, AcEvParams | None):
                raise WorldError(f"connector {connector_id} is AC: it takes an AC EV")
            ev = AcEv(params or AcEvParams(), now)
        conn.plug(ev, now)
        return conn

    def unplug(self, connector_id: int) -> ConnectorSim:
        conn = self._with_ev(connector_id)
        conn.unplug()
        return conn

    def pause(self, connector_id: int) -> ConnectorSim:
        conn = self._with_ev(connector_id)
        conn.pause(self.clock())
        return conn

    def resume(self, connector_id: int) -> ConnectorSim:
        conn = self._with_ev(connector_id)
        conn.resume(self.clock())
        return conn

    def _with_ev(self, connector_id: int) -> ConnectorSim:
        conn = self.connector(connector_id)
        if conn.ev is None:
            raise WorldError(f"connector {connector_id}: no EV plugged in")
        return conn

    def set_doors(self, open_: bool) -> None:
        """Open or close the service door (the door circuit's wiring comes later)."""
        if open_ != self.doors_open:
            log.info("service door %s", "opened" if open_ else "closed")
        self.doors_open = open_
        doors = getattr(self.hw.station, "doors", None) if self.hw.station else None
        if doors is not None:
            doors.set_all_open(open_)  # the door contacts at the wire

    def set_pe_ohm(self, ohm: float) -> None:
        """The installation's earth-loop resistance (``math.inf``: the PE conductor is
        open), shown at the PE monitor's output when the station has one."""
        if ohm != self.pe_ohm:
            log.info("protective earth loop %s", "open" if math.isinf(ohm) else f"{ohm:g} Ohm")
        self.pe_ohm = ohm
        pe = getattr(self.hw.station, "pe_monitor", None) if self.hw.station else None
        if pe is not None:
            pe.set_ohm(ohm)  # the front end's output at the ADC

    # ------------------------------------------------------------------ physics

    def grid_voltage(self, phase: int = 0) -> float:
        override = self.phase_v[phase] if 0 <= phase < len(self.phase_v) else None
        base = self.grid_v if override is None else override
        return base + self._rng.uniform(-0.5, 0.5)

    def grid_frequency(self) -> float:
        return self.grid_hz + self._rng.uniform(-0.02, 0.02)

    def step(self) -> None:
        """Advance the physics to the clock's present time."""
        if self._stepping:  # a wire callback fired while we write the wires
            return
        self._stepping = True
        try:
            now = self.clock()
            dt = max(0.0, now - self._last)
            self._last = now
            for conn in self.connectors.values():
                conn.step(now, dt)
        finally:
            self._stepping = False

    async def run(self) -> None:
        """Tick the physics every ``tick_s`` until cancelled."""
        self._last = self.clock()
        while True:
            self.step()
            await asyncio.sleep(self.tick_s)


def _discard(listeners: list[Any], listener: object) -> None:
    if listener in listeners:
        listeners.remove(listener)

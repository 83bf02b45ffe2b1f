"""The simulated world: pilot physics, the AC and DC EV models, the grid and fault injection.

The first part checks the pure models; the second runs the world on the real simulated
wiring and circuits (SimWiring + SimHardware) of the example stations, with a manual
clock so that seconds of charging take no time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.contactor import GpioContactor
from drivers.context import DriverContext
from drivers.i2c import I2CBus
from drivers.interfaces import PilotSample
from drivers.pilot import Ads1115Pilot
from firmware.clock import ManualClock
from firmware.config import load_station
from hal_sim import faults
from hal_sim.circuits import SimHardware
from hal_sim.ev_ac import (
    EV_OHM,
    REACTION_S,
    AcEv,
    AcEvParams,
    cable_pp_ohm,
    offered_current,
    pilot_levels,
)
from hal_sim.ev_dc import DcEv, DcEvParams, DcOutput
from hal_sim.modbus_sim import Sdm630State
from hal_sim.sim_wiring import SimWiring
from hal_sim.world import UnknownConnector, World, WorldError
from tests.support.paths import SIM_STATIONS

# ---------------------------------------------------------------------- pilot physics


def test_pilot_levels_per_state_fall_in_the_iec_windows() -> None:
    duty = 50.0
    assert pilot_levels(duty, None) == (12.0, -12.0)  # A
    high_b, low_b = pilot_levels(duty, EV_OHM["B"])
    high_c, low_c = pilot_levels(duty, EV_OHM["C"])
    high_d, low_d = pilot_levels(duty, EV_OHM["D"])
    assert 8.0 <= high_b <= 10.0
    assert 5.0 <= high_c <= 7.0
    assert 2.0 <= high_d <= 4.0
    # The EV's diode blocks the negative half: the low level stays at -12 V.
    assert low_b == low_c == low_d == -12.0


def test_pilot_without_pwm_and_state_f() -> None:
    high, low = pilot_levels(100.0, EV_OHM["B"])
    assert high == low and 8.0 <= high <= 10.0  # constant level: low equals high
    assert pilot_levels(100.0, None) == (12.0, 12.0)
    assert pilot_levels(0.0, EV_OHM["C"]) == (-12.0, -12.0)  # F: constant -12 V
    assert pilot_levels(0.0, None) == (-12.0, -12.0)


@given(st.floats(min_value=0.1, max_value=99.9), st.sampled_from([None, "B", "C", "D"]))
def test_pwm_keeps_low_level_at_minus_12(duty: float, state: str | None) -> None:
    high, low = pilot_levels(duty, EV_OHM[state] if state else None)
    assert low == -12.0
    assert -12.0 < high <= 12.0


def test_offered_current_follows_table_a7() -> None:
    assert offered_current(10.0) == pytest.approx(6.0)
    assert offered_current(53.3) == pytest.approx(32.0, abs=0.05)
    assert offered_current(8.0) == 6.0
    assert offered_current(90.0) == pytest.approx(65.0)
    assert offered_current(97.0) == 80.0
    for no_offer in (0.0, 5.0, 7.9, 97.5, 100.0):
        assert offered_current(no_offer) is None


def test_cable_resistors() -> None:
    assert cable_pp_ohm(13) == 1500.0
    assert cable_pp_ohm(20) == 680.0
    assert cable_pp_ohm(32) == 220.0
    assert cable_pp_ohm(63) == 100.0


# ---------------------------------------------------------------------- AC EV model


def _ac(**kw: float) -> AcEv:
    return AcEv(AcEvParams(**kw), now=0.0)  # type: ignore[arg-type]


def test_ac_ev_goes_to_c_only_with_a_valid_pwm_after_its_reaction_time() -> None:
    ev = _ac()
    assert ev.state == "B"
    ev.set_duty(5.0, 0.0)  # digital communication: no current offered to a basic AC EV
    assert not ev.step(1.0, 1.0, False, 230.0, 3)
    assert ev.state == "B"
    ev.set_duty(53.3, 1.0)
    assert ev.state == "B"  # not at once
    ev.step(1.0 + REACTION_S / 2, REACTION_S / 2, False, 230.0, 3)
    assert ev.state == "B"
    assert ev.step(1.0 + REACTION_S, REACTION_S / 2, False, 230.0, 3)
    assert ev.state == "C"


def test_ac_ev_draws_min_of_offer_and_own_max_only_when_powered() -> None:
    ev = _ac(max_current_a=16.0)
    ev.set_duty(53.3, 0.0)  # 32 A offered
    t = 0.0
    for _ in range(10):
        t += 0.05
        ev.step(t, 0.05, False, 230.0, 3)
    assert ev.state == "C"
    assert ev.current_a == 0.0  # contactor open: nothing flows
    for _ in range(40):  # 2 s: the ramp is done within 1 s
        t += 0.05
        ev.step(t, 0.05, True, 230.0, 3)
    assert ev.current_a == pytest.approx(16.0)  # its own maximum
    ev.set_duty(16.0, t)  # 9.6 A offered
    for _ in range(40):
        t += 0.05
        ev.step(t, 0.05, True, 230.0, 3)
    assert ev.current_a == pytest.approx(9.6)
    ev.step(t + 0.05, 0.05, False, 230.0, 3)  # contactor opens
    assert ev.current_a == 0.0


def test_ac_ev_soc_rises_and_target_soc_sends_it_to_b() -> None:
    ev = _ac(battery_kwh=1.0, soc=90.0, target_soc=95.0)
    ev.set_duty(53.3, 0.0)
    t, changed_to_b = 0.0, False
    soc_before = ev.soc
    for _ in range(2000):
        t += 0.05
        if ev.step(t, 0.05, True, 230.0, 3) and ev.state == "B":
            changed_to_b = True
            break
    assert changed_to_b
    assert ev.soc >= 95.0 > soc_before
    assert ev.current_a == 0.0
    assert ev.energy_wh == pytest.approx(50.0, rel=0.05)  # 5 % of 1 kWh


def test_ac_ev_pause_and_resume() -> None:
    ev = _ac()
    ev.set_duty(53.3, 0.0)
    ev.step(1.0, 1.0, True, 230.0, 3)
    assert ev.state == "C"
    assert ev.pause(1.0)  # B at once
    assert ev.state == "B" and ev.current_a == 0.0
    ev.resume(2.0)
    ev.step(2.0 + REACTION_S, REACTION_S, True, 230.0, 3)
    assert ev.state == "C"


def test_ventilation_ev_asks_for_d() -> None:
    ev = _ac(ventilation=True)
    ev.set_duty(53.3, 0.0)
    ev.step(1.0, 1.0, True, 230.0, 3)
    assert ev.state == "D"


# ---------------------------------------------------------------------- DC EV model


def test_dc_battery_voltage_and_acceptance() -> None:
    ev = DcEv(DcEvParams(soc=0.0), ccs=True, connector_id=1, now=0.0)
    assert ev.battery_voltage() == pytest.approx(330.0)
    ev.soc = 100.0
    assert ev.battery_voltage() == pytest.approx(400.0)
    ev = DcEv(DcEvParams(soc=50.0, target_soc=100.0), ccs=True, connector_id=1, now=0.0)
    assert ev.acceptance_a() == 125.0  # CC below 80 %
    ev.soc = 90.0
    assert ev.acceptance_a() == pytest.approx(62.5)  # tapering


def test_ccs_ev_needs_5_percent_pwm_chademo_does_not() -> None:
    ccs = DcEv(DcEvParams(), ccs=True, connector_id=1, now=0.0)
    ccs.set_duty(53.3, 0.0)  # an AC offer means nothing to a DC EV
    assert not ccs.step_state(1.0) and ccs.state == "B" and not ccs.ready
    ccs.set_duty(5.0, 1.0)
    assert ccs.step_state(1.0 + REACTION_S)
    assert ccs.state == "C" and ccs.ready
    chademo = DcEv(DcEvParams(), ccs=False, connector_id=2, now=0.0)
    assert not chademo.ready
    assert chademo.step_state(REACTION_S)
    assert chademo.ready


def _dc_ready() -> tuple[DcEv, DcOutput]:
    ev = DcEv(DcEvParams(soc=50.0), ccs=False, connector_id=1, now=0.0)
    ev.step_state(1.0)
    return ev, DcOutput()


def test_dc_output_precharge_then_current_to_acceptance() -> None:
    ev, out = _dc_ready()
    out.enabled = True
    out.set_v, out.set_a = 500.0, 2.0  # cable check at 500 V
    for _ in range(20):
        out.step(0.05, True, ev)
    assert out.voltage == pytest.approx(500.0)
    assert not ev.battery_connected and out.current == 0.0  # the EV stays open
    out.set_v = ev.battery_voltage()  # precharge
    for _ in range(20):
        out.step(0.05, True, ev)
    assert ev.battery_connected
    out.set_v, out.set_a = 400.0, 100.0
    for _ in range(40):
        out.step(0.05, True, ev)
    assert out.current == pytest.approx(100.0)  # min(set, acceptance 125)
    assert out.voltage > ev.battery_voltage()
    soc = ev.soc
    out.step(1.0, True, ev)
    assert ev.soc > soc
    out.enabled = False
    out.step(0.05, True, ev)
    assert out.current == 0.0


def test_dc_output_no_current_with_contactor_open() -> None:
    ev, out = _dc_ready()
    out.enabled = True
    out.set_v, out.set_a = ev.battery_voltage(), 100.0
    for _ in range(20):
        out.step(0.05, False, ev)
    assert out.current == 0.0 and not ev.battery_connected
    assert out.connector_v() == 0.0  # nothing beyond the open contactor
    out.foreign_v = 400.0
    assert out.connector_v() == 400.0


# ---------------------------------------------------------------------- the world on wires

STATIONS = SIM_STATIONS
TICK = 0.05


class WorldRig:
    """A world on the real simulated wiring and circuits of an example station, with the
    real pilot and contactor drivers of connector ``cid`` standing in for the firmware."""

    def __init__(self, station: str, cid: int) -> None:
        self.config = load_station(STATIONS / station)
        self.cid = cid
        self.clock = ManualClock()
        self.wiring = SimWiring(self.config)
        self.hw = SimHardware.build(self.config, self.wiring)
        self.world = World(self.config, self.hw, self.wiring, self.clock.monotonic)
        self.circuits = self.hw.connector(cid)
        self.conn = self.world.connector(cid)
        devices = self.config.connector(cid).devices
        self.bus = I2CBus(self.config.buses["main"].params, self._ctx("buses.i2c.main", 0))
        self.pilot: Ads1115Pilot | None = None
        if "pilot" in devices:
            self.pilot = Ads1115Pilot(
                devices["pilot"].params, self._ctx("pilot", cid, {"main": self.bus})
            )
        self.contactor = GpioContactor(devices["contactor"].params, self._ctx("contactor", cid))

    def _ctx(self, where: str, cid: int, buses: dict[str, Any] | None = None) -> DriverContext:
        return DriverContext(self.wiring, cid, where, buses or {}, self.clock.monotonic)

    async def start(self) -> None:
        await self.wiring.start()
        await self.bus.start()
        if self.pilot is not None:
            await self.pilot.start()
        await self.contactor.start()

    async def stop(self) -> None:
        await self.contactor.release()
        if self.pilot is not None:
            await self.pilot.release()
        await self.bus.release()
        await self.wiring.stop()

    def run_for(self, seconds: float) -> None:
        """Advance the manual clock in ticks, stepping the world each time."""
        for _ in range(round(seconds / TICK)):
            self.clock.advance(TICK)
            self.world.step()

    def levels(self) -> tuple[float, float, float | None]:
        assert self.circuits.pilot is not None
        return self.circuits.pilot.levels

    def set_duty(self, duty: float) -> None:
        assert self.pilot is not None
        self.pilot.set_duty(duty)

    async def set_contactor(self, closed: bool) -> None:
        if closed:
            self.contactor.close()
        else:
            self.contactor.open()
        circuit = self.circuits.contactor
        assert circuit is not None
        await eventually(lambda: circuit.closed == closed or circuit.welded)


@pytest.fixture
async def ac() -> AsyncIterator[WorldRig]:
    rig = WorldRig("ac.toml", 1)
    await rig.start()
    yield rig
    await rig.stop()


async def eventually(predicate: Callable[[], bool], within_s: float = 3.0) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():
            await asyncio.sleep(0.002)


def _meter(rig: WorldRig) -> Sdm630State:
    assert rig.circuits.meter is not None
    return rig.circuits.meter.state


async def test_world_registers_itself_and_shows_state_a(ac: WorldRig) -> None:
    assert ac.wiring.extras["world"] is ac.world
    assert ac.levels() == (12.0, 12.0, None)  # +12 V, no PWM, no cable
    ac.set_duty(53.3)
    assert ac.levels() == (12.0, -12.0, None)  # PWM into nothing


async def test_plug_shows_b_at_once_then_c_only_with_a_valid_pwm(ac: WorldRig) -> None:
    ac.world.plug(1)
    high, low, pp = ac.levels()
    assert 8.0 <= high <= 10.0 and low == high  # B, no PWM
    assert pp == 220.0  # a 32 A cable
    ac.run_for(2.0)
    assert ac.conn.ev is not None and ac.conn.ev.state == "B"  # no offer, stays in B
    ac.set_duty(53.3)
    high, low, _ = ac.levels()
    assert 8.0 <= high <= 10.0 and low == -12.0  # the PWM shows at once
    ac.run_for(0.1)
    assert ac.conn.ev.state == "B"  # the EV reacts after ~0.3 s
    ac.run_for(0.5)
    assert ac.conn.ev.state == "C"
    assert 5.0 <= ac.levels()[0] <= 7.0


async def test_the_pilot_driver_reads_what_the_world_shows(ac: WorldRig) -> None:
    ac.world.plug(1)
    ac.set_duty(53.3)
    ac.run_for(1.0)
    assert ac.pilot is not None
    samples: list[PilotSample] = []
    task = asyncio.create_task(ac.pilot.run(samples.append))
    try:
        await eventually(lambda: len(samples) > 0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    sample = samples[-1]
    assert 5.0 <= sample.cp_high_v <= 7.0
    assert sample.cp_low_v == pytest.approx(-12.0, abs=0.1)
    assert sample.pp_ohm == pytest.approx(220.0, rel=0.02)


async def test_current_flows_only_with_the_contactor_closed(ac: WorldRig) -> None:
    ac.world.plug(1, AcEvParams(max_current_a=16.0))
    ac.set_duty(53.3)  # 32 A offered, the EV takes 16
    ac.run_for(2.0)
    assert _meter(ac).current_a == (0.0, 0.0, 0.0)
    assert _meter(ac).import_wh == 0.0
    assert _meter(ac).voltage_v[0] == pytest.approx(230.0, abs=1.0)
    await ac.set_contactor(True)
    ac.run_for(2.0)
    state = _meter(ac)
    assert state.current_a == pytest.approx((16.0, 16.0, 16.0))
    assert state.power_w == pytest.approx(3 * 230 * 16, rel=0.01)
    assert state.power_phase_w[0] == pytest.approx(230 * 16, rel=0.01)
    assert 49.9 <= state.frequency_hz <= 50.1
    energy = state.import_wh
    assert energy > 0
    await ac.set_contactor(False)
    assert _meter(ac).current_a == (0.0, 0.0, 0.0)
    ac.run_for(1.0)
    assert _meter(ac).import_wh == pytest.approx(energy, abs=0.2)  # no flow, no energy


async def test_current_follows_the_offer_and_single_phase_evs(ac: WorldRig) -> None:
    ac.world.plug(1, AcEvParams(phases=1))
    ac.set_duty(16.0)  # 9.6 A
    ac.run_for(1.0)
    await ac.set_contactor(True)
    ac.run_for(2.0)
    assert _meter(ac).current_a == pytest.approx((9.6, 0.0, 0.0))


async def test_soc_rises_and_target_soc_sends_the_ev_to_b(ac: WorldRig) -> None:
    ac.world.plug(1, AcEvParams(battery_kwh=1.0, soc=98.0, target_soc=99.0))
    ac.set_duty(53.3)
    ac.run_for(1.0)
    await ac.set_contactor(True)
    ev = ac.conn.ev
    assert ev is not None and ev.state == "C"
    ac.run_for(10.0)  # 22 kW fills 1 % of 1 kWh in under 2 s
    assert ev.soc >= 99.0
    assert ev.state == "B"
    assert 8.0 <= ac.levels()[0] <= 10.0
    assert _meter(ac).current_a == (0.0, 0.0, 0.0)
    assert _meter(ac).import_wh == pytest.approx(10.0, rel=0.1)


async def test_pause_resume_unplug(ac: WorldRig) -> None:
    ac.world.plug(1)
    ac.set_duty(53.3)
    ac.run_for(1.0)
    await ac.set_contactor(True)
    ac.run_for(1.0)
    ac.world.pause(1)
    assert 8.0 <= ac.levels()[0] <= 10.0  # B at once
    assert _meter(ac).current_a == (0.0, 0.0, 0.0)
    ac.world.resume(1)
    ac.run_for(0.5)
    assert 5.0 <= ac.levels()[0] <= 7.0
    ac.world.unplug(1)
    assert ac.levels() == (12.0, -12.0, None)  # A, PP open
    assert _meter(ac).current_a == (0.0, 0.0, 0.0)
    with pytest.raises(WorldError):
        ac.world.pause(1)
    with pytest.raises(UnknownConnector):
        ac.world.plug(9)


async def test_plug_twice_and_wrong_ev_kind_are_refused(ac: WorldRig) -> None:
    ac.world.plug(1)
    with pytest.raises(WorldError, match="already"):
        ac.world.plug(1)
    with pytest.raises(WorldError, match="AC"):
        ac.world.plug(2, DcEvParams())


# ---------------------------------------------------------------------- fault injection


async def test_406_pilot_out_of_range_and_clear(ac: WorldRig) -> None:
    ac.world.plug(1)
    before = ac.levels()
    faults.inject(ac.world, "406", 1)
    assert ac.levels()[:2] == (-9.8, -12.0)
    ac.set_duty(53.3)  # the override holds whatever the firmware does
    assert ac.levels()[:2] == (-9.8, -12.0)
    faults.clear(ac.world, "406", 1)
    ac.set_duty(100.0)
    assert ac.levels() == before


async def test_405_pp_out_of_range_and_clear(ac: WorldRig) -> None:
    ac.world.plug(1)
    faults.inject(ac.world, "405", 1)
    assert ac.levels()[2] == 30.0
    faults.clear(ac.world, "405", 1)
    assert ac.levels()[2] == 220.0


async def test_105_meter_silent_and_clear(ac: WorldRig) -> None:
    meter = ac.circuits.meter
    assert meter is not None
    faults.inject(ac.world, "105", 1)
    assert meter.silent
    faults.clear(ac.world, "105", 1)
    assert not meter.silent


@pytest.mark.parametrize("code", ["106", "18"])
async def test_rcd_trip_and_reset(ac: WorldRig, code: str) -> None:
    rcd = ac.circuits.rcd
    assert rcd is not None
    ac.world.plug(1)
    ac.set_duty(53.3)
    ac.run_for(1.0)
    await ac.set_contactor(True)
    ac.run_for(1.0)
    faults.inject(ac.world, code, 1)
    assert rcd.tripped
    ac.run_for(0.1)
    assert _meter(ac).current_a == (0.0, 0.0, 0.0)  # the RCD cut the supply
    faults.clear(ac.world, code, 1)
    assert not rcd.tripped


async def test_102_contactor_welded_and_clear(ac: WorldRig) -> None:
    circuit = ac.circuits.contactor
    assert circuit is not None
    await ac.set_contactor(True)
    faults.inject(ac.world, "102", 1)
    ac.contactor.open()
    await asyncio.sleep(circuit.mech_delay_s * 3)
    assert circuit.closed  # the contacts stay closed
    faults.clear(ac.world, "102", 1)
    await eventually(lambda: not circuit.closed)


async def test_lock_jam_codes_share_the_condition(ac: WorldRig) -> None:
    lock = ac.circuits.lock
    assert lock is not None
    faults.inject(ac.world, "211", 1)
    faults.inject(ac.world, "404", 1)
    assert lock.jammed
    faults.clear(ac.world, "211", 1)
    assert lock.jammed  # 404 still holds the motor
    faults.clear(ac.world, "404", 1)
    assert not lock.jammed


async def test_door_is_station_level(ac: WorldRig) -> None:
    faults.inject(ac.world, "1001", 2)
    assert ac.world.doors_open
    assert {"code": "1001", "connector": 0} in faults.active(ac.world)
    faults.clear(ac.world, "1001")
    assert not ac.world.doors_open
    assert faults.active(ac.world) == []


async def test_a_door_cycle_leaves_a_door_held_open_open(ac: WorldRig) -> None:
    """1000 opens a door and closes it again; a door 1001 holds open stays open, in
    either order (it closed it once, ending 1001's condition while 1001 stayed injected)."""
    faults.inject(ac.world, "1000")
    await asyncio.sleep(faults.DOOR_CYCLE_S * 2)
    assert not ac.world.doors_open  # the cycle alone: open, then closed
    faults.clear(ac.world, "1000")
    faults.inject(ac.world, "1001")
    faults.inject(ac.world, "1000")  # a cycle while 1001 holds the door
    await asyncio.sleep(faults.DOOR_CYCLE_S * 2)
    assert ac.world.doors_open
    faults.clear(ac.world, "1001")
    faults.clear(ac.world, "1000")
    assert not ac.world.doors_open
    faults.inject(ac.world, "1000")  # a cycle first, 1001 within it
    faults.inject(ac.world, "1001")
    await asyncio.sleep(faults.DOOR_CYCLE_S * 2)
    assert ac.world.doors_open


async def test_unknown_and_inapplicable_faults(ac: WorldRig) -> None:
    with pytest.raises(faults.UnknownFault) as info:
        faults.inject(ac.world, "999", 1)
    assert "406" in info.value.known and "1001" in info.value.known
    assert "406" in str(info.value)
    with pytest.raises(faults.FaultError, match="not a DC connector"):
        faults.inject(ac.world, "19", 1)
    with pytest.raises(UnknownConnector):
        faults.inject(ac.world, "406", 7)
    assert faults.active(ac.world) == []


def test_catalogue_lists_every_code_with_a_description() -> None:
    codes = [f["code"] for f in faults.catalogue()]
    for code in ("406", "405", "105", "22", "106", "102", "211", "404", "18", "19", "50",
                 "51", "1001"):
        assert code in codes
    assert codes == sorted(codes, key=int)
    assert all(f["description"] for f in faults.catalogue())

"""DC power in the simulated world: the CAN power stack charges a simulated EV through
the real contactor, the Acrel DC meter measures it, and a module lost mid-session
reduces the power while the session goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from drivers.acrel import AcrelDjsf1352Meter, decode_scaled, encode_scaled
from drivers.errors import DeviceSilent
from drivers.interfaces import PowerStackFault
from firmware.power.budget import Demand, ModuleSpec, PowerBudget, Strategy, ev_demand, rating_of
from hal_sim.acrel_sim import AcrelModel
from hal_sim.ev_dc import DcEv, DcEvParams
from tests.support.dc_power_rig import PowerRig, station_toml

CID = 2  # CHAdeMO: the EV is ready on its own, no pilot needed


@pytest.mark.parametrize(("value", "signed"), [(0.0, False), (401.37, False), (-12.5, True),
                                               (150.0, True), (61234.0, True), (999.9, False)])
def test_acrel_scaled_values_round_trip(value: float, signed: bool) -> None:
    raw, exponent = encode_scaled(value, signed)
    assert decode_scaled(raw, exponent, signed) == pytest.approx(value, rel=1e-3, abs=1e-3)


def test_acrel_model_without_world() -> None:
    model = AcrelModel(1, energy_unit_wh=10.0)
    model.set(voltage_v=400.0, current_a=100.0, import_wh=12_345.0)
    regs = model.registers()
    assert decode_scaled(regs[0], regs[1], False) == pytest.approx(400.0)
    assert decode_scaled(regs[8], regs[9], True) == pytest.approx(40_000.0)
    assert (regs[12] << 16 | regs[13]) == 1234  # 0.01 kWh counts


@pytest.fixture
async def rig() -> AsyncIterator[PowerRig]:
    rig = PowerRig(station_toml(meters="acrel"), world=True)
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()


def meter(rig: PowerRig, cid: int) -> AcrelDjsf1352Meter:
    cfg = rig.config.connector(cid).devices["meter"]
    built = rig._build("meter", cfg.driver, cfg.params, cfg.key, cid)
    assert isinstance(built, AcrelDjsf1352Meter)
    return built


async def charging(rig: PowerRig, amps: float) -> DcEv:
    """Plug, precharge through the real contactor, then ask for ``amps``."""
    world = rig.world
    assert world is not None and rig.hw is not None
    conn = world.plug(CID, DcEvParams(max_current_a=150.0, soc=20.0))
    await rig.run_for(1.0)
    ev = conn.ev
    assert isinstance(ev, DcEv) and ev.ready
    stack = rig.stacks[CID]
    await stack.set_output(ev.battery_voltage(), 2.0)
    await stack.on()
    rig.contactors[CID].close()
    circuit = rig.hw.connector(CID).contactor
    assert circuit is not None
    await rig.until(lambda: circuit.closed, "contactor closed")
    await rig.run_for(1.0)
    assert ev.battery_connected, "precharged: the EV closed its contactors"
    await stack.set_output(ev.max_charge_voltage(), amps)
    await rig.run_for(2.0)
    return ev


async def test_stack_charges_the_ev_and_the_meter_counts(rig: PowerRig) -> None:
    dc_meter = meter(rig, CID)
    await dc_meter.start()
    start = await dc_meter.read()
    ev = await charging(rig, 120.0)
    volts, amps = rig.stacks[CID].measured()
    assert amps == pytest.approx(120.0, abs=2.0)
    assert volts == pytest.approx(ev.battery_voltage() + amps * 0.05, abs=5.0)
    shares = [rig.sim.modules[a].current_a for a in (2, 3)]
    assert shares == pytest.approx([60.0, 60.0], abs=2.0)
    await rig.run_for(30.0, tick=0.25)
    reading = await dc_meter.read()
    assert reading.current_a[0] == pytest.approx(120.0, abs=2.0)
    assert reading.power_w == pytest.approx(reading.voltage_v[0] * 120.0, rel=0.02)
    # 30 s at ~42 kW is ~350 Wh (counted in 10 Wh steps)
    assert reading.energy_import_wh - start.energy_import_wh == pytest.approx(350.0, abs=40.0)
    assert max(m.temperature_c for m in rig.sim.modules.values()) > 26.0  # heating up
    assert rig.world is not None
    rig.world.connector(CID).dc_meter_silent = True  # fault 22
    with pytest.raises(DeviceSilent):
        await dc_meter.read()


async def test_lost_module_mid_session_reduces_power_and_the_session_goes_on(
    rig: PowerRig,
) -> None:
    ev = await charging(rig, 150.0)
    stack = rig.stacks[CID]
    assert stack.measured()[1] == pytest.approx(150.0, abs=2.0)
    rig.sim.set_silent(3)  # dead: its output stops at once, the driver finds out later
    await rig.run_for(2.0)
    assert stack.measured()[1] == pytest.approx(75.0, abs=3.0)
    await rig.run_for(14.0, tick=0.25)
    assert rig.pool.modules[3].lost
    assert stack.faults() == frozenset()  # the connector is not in fault
    assert stack.capabilities().max_current_a == 100.0
    await rig.run_for(2.0)
    volts, amps = stack.measured()
    # Module 2 alone, at its 30 kW: about 30000 / 350 V
    assert amps == pytest.approx(30_000.0 / volts, abs=3.0)
    assert ev.battery_connected and not ev.full
    conn = rig.world.connector(CID) if rig.world else None
    assert conn is not None and conn.current_a[0] > 50.0
    # The last module goes too: now the stack reports it, the session must stop.
    rig.sim.set_silent(2)
    await rig.run_for(16.0, tick=0.25)
    assert stack.faults() == {PowerStackFault.COMMS}


async def precharge_and_charge(rig: PowerRig, cid: int, amps: float) -> DcEv:
    """Bring the EV plugged in at ``cid`` to charging at ``amps`` through its stack."""
    assert rig.world is not None and rig.hw is not None
    ev = rig.world.connector(cid).ev
    assert isinstance(ev, DcEv) and ev.ready
    stack = rig.stacks[cid]
    await stack.set_output(ev.battery_voltage(), 2.0)
    await stack.on()
    rig.contactors[cid].close()
    circuit = rig.hw.connector(cid).contactor
    assert circuit is not None
    await rig.until(lambda: circuit.closed, "contactor closed")
    await rig.run_for(1.0)
    assert ev.battery_connected
    await stack.set_output(ev.max_charge_voltage(), amps)
    await rig.run_for(2.0)
    return ev


async def test_two_evs_fcfs_then_fair_through_the_module_pool(rig: PowerRig) -> None:
    """The budget decides, the pool moves modules, the stacks deliver: FCFS gives the
    first EV everything, FAIR then splits the station's 50 kW 50:50."""
    assert rig.world is not None
    ratings = [rating_of(c) for c in rig.config.connectors]
    budget = PowerBudget(ratings, max_grid_power_w=50_000.0)

    def modules() -> list[ModuleSpec]:
        return [ModuleSpec(a, rig.pool.rated_power_w(a)) for a in rig.pool.available()]

    for cid in (1, 2):
        rig.world.plug(cid, DcEvParams(max_current_a=150.0, soc=20.0))
    await rig.run_for(1.0)
    since = {1: 0.0, 2: 5.0}

    def demands() -> list[Demand]:
        return [ev_demand(cid, since[cid], rig.world.connector(cid).ev_status(),
                          charging=rig.stacks[cid].measured()[1] > 5.0)
                for cid in (1, 2)] if rig.world else []

    budget.set_modules(modules())
    fcfs = budget.allocate(demands(), current=rig.pool.assignment())
    assert fcfs[1].power_w == 50_000.0 and fcfs[1].modules == (0, 1)
    assert fcfs[2].suspended and fcfs[2].modules == ()
    await rig.pool.assign(fcfs.assignment())
    await precharge_and_charge(rig, 1, fcfs[1].current_a)
    volts1, amps1 = rig.stacks[1].measured()
    assert volts1 * amps1 == pytest.approx(50_000.0, rel=0.03)
    assert rig.stacks[2].capabilities().max_power_w == 0.0  # nothing to start with

    budget.strategy = Strategy.FAIR
    fair = budget.allocate(demands(), current=rig.pool.assignment())
    assert fair[1].power_w == fair[2].power_w == 25_000.0
    assert fair[1].modules == (0,) and fair[2].modules == (1,)
    # Lower the first connector's set-point first, then move the module it gives up.
    await rig.stacks[1].set_output(rig.stacks[1]._setpoint[0], fair[1].current_a)
    await rig.run_for(1.0)
    await rig.pool.assign(fair.assignment())
    await rig.until(lambda: rig.sim.modules[1].group == 2, "the matrix switched module 1")
    await precharge_and_charge(rig, 2, fair[2].current_a)
    for cid in (1, 2):
        volts, amps = rig.stacks[cid].measured()
        assert volts * amps == pytest.approx(25_000.0, rel=0.03), cid
        assert rig.world.connector(cid).power_w == pytest.approx(25_000.0, rel=0.03)

"""The interface-level DC devices follow the simulated world (example DC station)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from drivers.contactor import GpioContactor
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces import (
    EnergyMeter,
    EvCommError,
    EvCommunication,
    EvStatus,
    ImdFault,
    InsulationMonitor,
    PowerStack,
    PowerStackFault,
)
from drivers.pilot import Ads1115Pilot
from drivers.registry import driver_class
from firmware.clock import ManualClock
from firmware.config import load_station
from hal_sim import faults
from hal_sim.circuits import SimHardware
from hal_sim.dc_devices import SimDcMeter, SimEvComm, SimImd, SimPowerStack
from hal_sim.ev_dc import DcEv, DcEvParams
from hal_sim.sim_wiring import SimWiring
from hal_sim.world import World
from tests.support.paths import SIM_STATIONS

SIM_DRIVERS = {"power_stack": "sim", "imd": "sim", "ev_comm": "sim", "meter": "sim_dc"}
STATION = SIM_STATIONS / "dc.toml"
TICK = 0.05


class DcRig:
    """Connector ``cid`` of the example DC station: world on simulated wires, the four sim
    DC devices built through the registry as the station builds them, and the real pilot
    and contactor drivers standing in for the firmware."""

    def __init__(self, cid: int) -> None:
        self.config = load_station(STATION)
        self.cid = cid
        self.clock = ManualClock()
        self.wiring = SimWiring(self.config)
        self.hw = SimHardware.build(self.config, self.wiring)
        devices = self.config.connector(cid).devices

        def build(role: str) -> Any:
            # The interface-level stand-ins (the example station now runs the wire-level
            # drivers: CAN stacks, Bender IMD, Acrel meter), with their default params.
            cls = driver_class(role, SIM_DRIVERS[role])
            params = {k: p.default for k, p in cls.PARAMS.items()}
            return cls(params, self._ctx(f"connectors[{cid}].{role}", cid))

        # Built before the world exists, as a station may do: they look it up lazily.
        self.stack: SimPowerStack = build("power_stack")
        self.imd: SimImd = build("imd")
        self.ev_comm: SimEvComm = build("ev_comm")
        self.meter: SimDcMeter = build("meter")
        self.world = World(self.config, self.hw, self.wiring, self.clock.monotonic)
        self.conn = self.world.connector(cid)
        self.bus = I2CBus(self.config.buses["main"].params, self._ctx("buses.i2c.main", 0))
        self.pilot: Ads1115Pilot | None = None
        if "pilot" in devices:
            self.pilot = Ads1115Pilot(
                devices["pilot"].params, self._ctx("pilot", cid, {"main": self.bus})
            )
        self.contactor = GpioContactor(devices["contactor"].params, self._ctx("contactor", cid))
        self.statuses: list[EvStatus] = []
        self.alarms: list[bool] = []

    def _ctx(self, where: str, cid: int, buses: dict[str, Any] | None = None) -> DriverContext:
        return DriverContext(self.wiring, cid, where, buses or {}, self.clock.monotonic)

    async def start(self) -> None:
        await self.wiring.start()
        await self.bus.start()
        if self.pilot is not None:
            await self.pilot.start()
        await self.contactor.start()
        for device in (self.stack, self.imd, self.ev_comm, self.meter):
            await device.start()
        self.ev_comm.subscribe(self.statuses.append)
        self.imd.subscribe(self.alarms.append)

    async def stop(self) -> None:
        for device in (self.stack, self.imd, self.ev_comm, self.meter):
            await device.release()
        await self.contactor.release()
        if self.pilot is not None:
            await self.pilot.release()
        await self.bus.release()
        await self.wiring.stop()

    def run_for(self, seconds: float) -> None:
        for _ in range(round(seconds / TICK)):
            self.clock.advance(TICK)
            self.world.step()

    async def close_contactor(self) -> None:
        self.contactor.close()
        circuit = self.hw.connector(self.cid).contactor
        assert circuit is not None
        async with asyncio.timeout(3):
            while not circuit.closed:
                await asyncio.sleep(0.002)

    async def ready_ev(self, **ev: float) -> None:
        """Plug an EV in and bring it to 'ready' (CCS: 5 % PWM)."""
        self.world.plug(self.cid, DcEvParams(**ev))
        if self.pilot is not None:
            self.pilot.set_duty(5.0)
        self.run_for(0.5)
        assert self.ev_comm.status().ready

    async def charge(self, amps: float) -> None:
        """Cable check, precharge and current, as a DC session does."""
        await self.close_contactor()
        await self.stack.set_output(500.0, 2.0)
        await self.stack.on()
        self.run_for(1.0)
        battery_v = self.ev_comm.status().battery_voltage_v
        await self.stack.set_output(battery_v, 2.0)
        self.run_for(1.0)
        await self.stack.set_output(self.ev_comm.status().target_voltage_v, amps)
        self.run_for(2.0)


@pytest.fixture
async def ccs() -> AsyncIterator[DcRig]:
    rig = DcRig(1)
    await rig.start()
    yield rig
    await rig.stop()


@pytest.fixture
async def chademo() -> AsyncIterator[DcRig]:
    rig = DcRig(2)
    await rig.start()
    yield rig
    await rig.stop()


def test_devices_implement_the_hal_interfaces(ccs: DcRig) -> None:
    # Checked by mypy (structural typing) and at run time by the registry lookup.
    stack: PowerStack = ccs.stack
    imd: InsulationMonitor = ccs.imd
    ev_comm: EvCommunication = ccs.ev_comm
    meter: EnergyMeter = ccs.meter
    assert driver_class("meter", "sim_dc") is SimDcMeter
    devices: list[object] = [stack, imd, ev_comm, meter]
    assert [type(d) for d in devices] == [SimPowerStack, SimImd, SimEvComm, SimDcMeter]
    assert ccs.stack.health().ok


def test_power_stack_capabilities_from_params(ccs: DcRig) -> None:
    caps = ccs.stack.capabilities()
    assert caps.max_current_a == 100.0  # 2 modules × 50 A
    assert caps.max_power_w == 60000.0
    assert caps.max_voltage_v == 1000.0
    assert SimPowerStack.PARAMS["modules"].max == 12


async def test_set_output_is_limited_by_current_and_power(ccs: DcRig) -> None:
    assert ccs.conn.dc is not None
    await ccs.stack.set_output(400.0, 500.0)
    assert ccs.conn.dc.set_a == 100.0
    await ccs.stack.set_output(800.0, 500.0)
    assert ccs.conn.dc.set_a == 75.0  # 60 kW at 800 V
    await ccs.stack.set_output(2000.0, 10.0)
    assert ccs.conn.dc.set_v == 1000.0


async def test_ccs_ev_shows_b_then_c_on_5_percent(ccs: DcRig) -> None:
    assert not ccs.ev_comm.status().connected
    ccs.world.plug(1)
    status = ccs.ev_comm.status()
    assert status.connected and not status.ready
    assert ccs.statuses[-1].connected
    circuit = ccs.hw.connector(1).pilot
    assert circuit is not None
    assert 8.0 <= circuit.levels[0] <= 10.0
    assert ccs.pilot is not None
    ccs.pilot.set_duty(5.0)
    ccs.run_for(0.5)
    assert 5.0 <= circuit.levels[0] <= 7.0
    status = ccs.ev_comm.status()
    assert status.ready
    assert status.soc_percent == 20.0
    assert status.battery_voltage_v == pytest.approx(344.0)
    assert status.target_current_a == 125.0
    assert status.ev_id
    assert ccs.statuses[-1] == status


async def test_chademo_ev_has_no_pilot_and_gets_ready(chademo: DcRig) -> None:
    assert chademo.hw.connector(2).pilot is None
    chademo.world.plug(2)
    chademo.run_for(0.5)
    assert chademo.ev_comm.status().ready


async def test_cable_check_precharge_and_charging(ccs: DcRig) -> None:
    await ccs.ready_ev()
    await ccs.close_contactor()
    await ccs.stack.set_output(500.0, 2.0)
    await ccs.stack.on()
    ccs.run_for(1.0)
    volts, amps = ccs.stack.measured()
    assert volts == pytest.approx(500.0) and amps == 0.0  # the EV's battery is still open
    assert await ccs.imd.resistance_ohm() == 10e6
    assert not ccs.imd.alarm
    await ccs.imd.self_test()
    reading = await ccs.meter.read()
    assert reading.voltage_v[0] == pytest.approx(500.0)

    battery_v = ccs.ev_comm.status().battery_voltage_v
    await ccs.stack.set_output(battery_v, 2.0)
    ccs.run_for(1.0)
    assert isinstance(ccs.conn.ev, DcEv) and ccs.conn.ev.battery_connected
    await ccs.stack.set_output(ccs.ev_comm.status().target_voltage_v, 80.0)
    ccs.run_for(2.0)
    volts, amps = ccs.stack.measured()
    assert amps == pytest.approx(80.0)  # min(set 80, acceptance 125)
    assert volts == pytest.approx(battery_v, abs=10.0)
    first = await ccs.meter.read()
    assert first.current_a[0] == pytest.approx(80.0)
    assert first.power_w == pytest.approx(volts * amps, rel=0.02)
    soc = ccs.ev_comm.status().soc_percent
    ccs.run_for(10.0)
    second = await ccs.meter.read()
    assert second.energy_import_wh > first.energy_import_wh
    status = ccs.ev_comm.status()
    assert status.soc_percent is not None and soc is not None and status.soc_percent > soc
    assert status.time_to_bulk_s is not None and status.time_to_bulk_s > 0
    assert status.time_to_full_s is not None and status.time_to_full_s > status.time_to_bulk_s


async def test_off_returns_once_the_current_has_fallen(ccs: DcRig) -> None:
    await ccs.ready_ev()
    await ccs.charge(100.0)
    assert ccs.stack.measured()[1] == pytest.approx(100.0)

    async def ticker() -> None:  # the world's time runs while off() waits
        while True:
            ccs.clock.advance(0.005)
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    try:
        await asyncio.wait_for(ccs.stack.off(), 5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert ccs.stack.measured()[1] < 2.0


async def test_ev_stops_at_target_soc(chademo: DcRig) -> None:
    await chademo.ready_ev(battery_kwh=1.0, soc=79.5, target_soc=80.0)
    await chademo.charge(100.0)
    chademo.run_for(5.0)
    status = chademo.ev_comm.status()
    assert status.soc_percent is not None and status.soc_percent >= 80.0
    assert not status.ready
    assert chademo.stack.measured()[1] == 0.0


async def test_ccs_ev_at_target_soc_goes_back_to_b(ccs: DcRig) -> None:
    await ccs.ready_ev(battery_kwh=1.0, soc=79.8, target_soc=80.0)
    circuit = ccs.hw.connector(1).pilot
    assert circuit is not None
    assert 5.0 <= circuit.levels[0] <= 7.0
    await ccs.charge(100.0)
    ccs.run_for(2.0)
    assert not ccs.ev_comm.status().ready
    assert 8.0 <= circuit.levels[0] <= 10.0


async def test_unplug_disconnects(ccs: DcRig) -> None:
    await ccs.ready_ev()
    ccs.world.unplug(1)
    assert ccs.ev_comm.status() == EvStatus()
    assert not ccs.statuses[-1].connected


async def test_present_reaches_the_ev(ccs: DcRig) -> None:
    await ccs.ready_ev()
    ccs.ev_comm.present(400.0, 50.0, 100.0)
    ev = ccs.conn.ev
    assert isinstance(ev, DcEv)
    assert (ev.present_v, ev.present_a, ev.present_limit_a) == (400.0, 50.0, 100.0)


# ---------------------------------------------------------------------- faults


async def test_22_dc_meter_silent(ccs: DcRig) -> None:
    faults.inject(ccs.world, "22", 1)
    with pytest.raises(DeviceSilent):
        await ccs.meter.read()
    faults.clear(ccs.world, "22", 1)
    assert (await ccs.meter.read()).energy_import_wh == 0.0


async def test_18_insulation_fault(ccs: DcRig) -> None:
    faults.inject(ccs.world, "18", 1)
    assert await ccs.imd.resistance_ohm() == 50e3
    assert ccs.imd.alarm and ccs.alarms == [True]
    faults.clear(ccs.world, "18", 1)
    assert not ccs.imd.alarm and ccs.alarms == [True, False]


async def test_imd_self_test_failure(ccs: DcRig) -> None:
    ccs.conn.imd_self_test_fails = True
    with pytest.raises(DeviceFaulted) as info:
        await ccs.imd.self_test()
    assert info.value.fault is ImdFault.SELF_TEST_FAILED


async def test_19_stack_fault(ccs: DcRig) -> None:
    await ccs.ready_ev()
    await ccs.charge(50.0)
    faults.inject(ccs.world, "19", 1)
    assert ccs.stack.faults() == {PowerStackFault.GENERIC}
    ccs.run_for(0.2)
    assert ccs.stack.measured()[1] == 0.0  # the faulted module dropped its output
    with pytest.raises(DeviceFaulted):
        await ccs.stack.on()
    faults.clear(ccs.world, "19", 1)
    assert ccs.stack.faults() == frozenset()
    await ccs.stack.on()


async def test_50_ev_voltage_before_session(ccs: DcRig) -> None:
    faults.inject(ccs.world, "50", 1)
    ccs.run_for(0.1)
    assert (await ccs.meter.read()).voltage_v == (400.0,)
    faults.clear(ccs.world, "50", 1)
    ccs.run_for(0.1)
    assert (await ccs.meter.read()).voltage_v == (0.0,)


async def test_51_ev_error(ccs: DcRig) -> None:
    await ccs.ready_ev()
    faults.inject(ccs.world, "51", 1)
    status = ccs.ev_comm.status()
    assert status.error is EvCommError.EV_ERROR and not status.ready
    assert ccs.statuses[-1].error is EvCommError.EV_ERROR
    faults.clear(ccs.world, "51", 1)
    ccs.run_for(0.5)
    status = ccs.ev_comm.status()
    assert status.error is None and status.ready


async def test_device_without_world_says_so() -> None:
    config = load_station(STATION)
    wiring = SimWiring(config)
    dev = config.connector(1).devices["imd"]
    imd = SimImd(dev.params, DriverContext(wiring, 1, dev.key))
    with pytest.raises(RuntimeError, match="no simulated world"):
        await imd.resistance_ohm()

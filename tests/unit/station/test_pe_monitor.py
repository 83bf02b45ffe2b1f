"""The protective-earth monitor (AC list 201): the driver's contract on the simulated wire
(and on a bench: ``hil``), the 201 rule, the station monitor raising and clearing 201
through the safety supervisor, and the simulated station's PE from the station file."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pytest

from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.interfaces_station import SensorFault
from drivers.pe_monitor import Ads1115PeMonitor
from drivers.registry import driver_class
from firmware.config import load_station
from firmware.config.model import ConnectorConfig, ConnectorKind, Identity, StationConfig
from firmware.safety.fault_catalogue import Condition
from firmware.safety.gate import InterlockOpen
from firmware.station.pe_verdict import PeSupervision, PeVerdict
from hal_sim import faults as sim_faults
from hal_sim.circuits import SimHardware
from hal_sim.pe_sim import HEALTHY_PE_OHM, PeCircuit
from hal_sim.sim_wiring import SimWiring
from hal_sim.world import World
from tests.conftest import AC_STATION, DC_STATION
from tests.support.hil_bench import bench_from_env
from tests.support.monitor_env import MonitorEnv, make_monitor_env
from tests.support.station_configs import dev, rig_station

if TYPE_CHECKING:
    from tests.support.station_fixtures import RigStation

pytest_plugins = ("tests.support.station_fixtures",)

PE_KEY = "devices.pe_monitor"


def pe_station() -> StationConfig:
    """The rig station with a PE monitor on a free ADS1115 of its I2C bus."""
    base = rig_station()
    devices = dict(base.devices)
    devices["pe_monitor"] = dev("pe_monitor", "ads1115", PE_KEY, bus="main", address=0x49,
                                channel=2)
    return replace(base, devices=MappingProxyType(devices))


# ------------------------------------------------------------------ driver contract


class PeRig:
    """The PE monitor driver on the simulator (``circuit``) or on a bench (``relay`` and
    the bench's ``[stimulus.pe_monitor]``: ``expect_ohm`` the bench's earth loop,
    ``open_pin`` a relay opening the PE conductor, ``series_pin`` / ``series_ohm`` a relay
    opening the bypass of a resistor in the loop)."""

    def __init__(self, kind: str, monitor: Ads1115PeMonitor, circuit: PeCircuit | None,
                 stimulus: Mapping[str, Any], relay: Callable[[int, bool], None]) -> None:
        self.kind = kind
        self.monitor = monitor
        self.circuit = circuit
        self._stimulus = stimulus
        self._relay = relay
        if circuit is None:
            low, high = stimulus.get("expect_ohm", [0.0, 10.0])
            self.expect_ohm = (float(low), float(high))
            self.series_ohm = float(stimulus.get("series_ohm", 150.0))
            self.capabilities = {k for k in ("open", "series") if f"{k}_pin" in stimulus}
        else:
            self.expect_ohm = (HEALTHY_PE_OHM - 0.1, HEALTHY_PE_OHM + 0.1)
            self.series_ohm = 150.0
            self.capabilities = {"open", "series", "set", "silence", "dead_output"}

    def require(self, capability: str) -> None:
        if capability not in self.capabilities:
            pytest.skip(f"PeRig on {self.kind} cannot {capability}")

    def open_pe(self, open_: bool) -> None:
        if self.circuit is None:
            self._relay(int(self._stimulus["open_pin"]), open_)
        else:
            self.circuit.set_ohm(math.inf if open_ else HEALTHY_PE_OHM)

    def add_series(self, on: bool) -> None:
        """``series_ohm`` more in the earth loop."""
        if self.circuit is None:
            self._relay(int(self._stimulus["series_pin"]), on)
        else:
            self.circuit.set_ohm(HEALTHY_PE_OHM + (self.series_ohm if on else 0.0))


def _no_relay(pin: int, on: bool) -> None:
    raise AssertionError("the simulator has no bench relays")


@pytest.fixture
async def pe_rig(request: pytest.FixtureRequest) -> AsyncIterator[PeRig]:
    # Imported here, not at the top: the plugin module is registered by pytest_plugins.
    from tests.support.station_fixtures import HilRigStation, SimRigStation

    st: RigStation
    circuit: PeCircuit | None = None
    stimulus: Mapping[str, Any] = {}
    relay: Callable[[int, bool], None] = _no_relay
    if request.param == "hil":
        bench = bench_from_env()
        if bench is None:
            pytest.skip("EVSE_HIL_CONFIG is not set: no bench")
        if not bench.has("pe_monitor"):
            pytest.skip("the bench has no pe_monitor")
        hil = HilRigStation(bench)
        stimulus, relay, st = hil.stimulus("pe_monitor"), hil.relay, hil
    else:
        sim = SimRigStation(pe_station())
        await sim.wiring.start()
        circuit, st = sim.station.pe_monitor, sim
        assert circuit is not None
    monitor: Ads1115PeMonitor | None = None
    try:
        monitor = await st.build(st.config.devices["pe_monitor"])
        assert isinstance(monitor, Ads1115PeMonitor)
        yield PeRig(st.kind, monitor, circuit, stimulus, relay)
    finally:
        if monitor is not None:
            await monitor.release()
        await st.close()


RIGS = pytest.mark.parametrize(
    "pe_rig", ["sim", pytest.param("hil", marks=pytest.mark.hil)], indirect=True
)


@RIGS
async def test_reads_the_earth_loop(pe_rig: PeRig) -> None:
    low, high = pe_rig.expect_ohm
    assert low <= await pe_rig.monitor.read_ohm() <= high


@RIGS
async def test_follows_the_earth_loop_resistance(pe_rig: PeRig) -> None:
    pe_rig.require("series")
    base = await pe_rig.monitor.read_ohm()
    pe_rig.add_series(True)
    try:
        more = await pe_rig.monitor.read_ohm()
    finally:
        pe_rig.add_series(False)
    assert more - base == pytest.approx(pe_rig.series_ohm, rel=0.05, abs=1.0)
    assert await pe_rig.monitor.read_ohm() == pytest.approx(base, abs=1.0)


@RIGS
async def test_open_pe_reads_infinite(pe_rig: PeRig) -> None:
    pe_rig.require("open")
    pe_rig.open_pe(True)
    try:
        assert await pe_rig.monitor.read_ohm() == math.inf
    finally:
        pe_rig.open_pe(False)
    assert math.isfinite(await pe_rig.monitor.read_ohm())


@RIGS
async def test_scale_and_saturation(pe_rig: PeRig) -> None:
    pe_rig.require("set")
    circuit = pe_rig.circuit
    assert circuit is not None
    for ohm in (0.0, 42.0, 99.5, 100.5, 400.0):
        circuit.set_ohm(ohm)
        assert await pe_rig.monitor.read_ohm() == pytest.approx(ohm, abs=0.2)
    circuit.set_ohm(5000.0)  # beyond the front end's range: saturated, reads as open
    assert await pe_rig.monitor.read_ohm() == math.inf


@RIGS
async def test_silent_adc(pe_rig: PeRig) -> None:
    pe_rig.require("silence")
    assert pe_rig.circuit is not None
    pe_rig.circuit.adc.silent = True
    with pytest.raises(DeviceSilent):
        await pe_rig.monitor.read_ohm()
    pe_rig.circuit.adc.silent = False
    assert await pe_rig.monitor.read_ohm() == pytest.approx(HEALTHY_PE_OHM, abs=0.2)


@RIGS
async def test_dead_front_end_is_out_of_range(pe_rig: PeRig) -> None:
    """0 V is below the live zero: a dead front end, not a perfect earth."""
    pe_rig.require("dead_output")
    assert pe_rig.circuit is not None
    pe_rig.circuit.output_override_v = 0.0
    with pytest.raises(DeviceFaulted) as raised:
        await pe_rig.monitor.read_ohm()
    assert raised.value.fault is SensorFault.OUT_OF_RANGE
    pe_rig.circuit.output_override_v = None
    assert await pe_rig.monitor.read_ohm() == pytest.approx(HEALTHY_PE_OHM, abs=0.2)


# ------------------------------------------------------------------ the 201 rule


def test_bad_reading_raises_at_once_and_the_limit_itself_is_good() -> None:
    pe = PeSupervision(100.0)
    assert pe.feed(100.0) is PeVerdict.GOOD
    assert pe.feed(100.1) is PeVerdict.BAD
    assert pe.feed(math.inf) is PeVerdict.BAD
    assert pe.shown() == "open"


def test_clears_only_after_three_good_readings_in_a_row() -> None:
    pe = PeSupervision(100.0)
    pe.feed(math.inf)
    # Unstable: crossing the limit back and forth never gets three good in a row.
    for ohm in (20.0, 20.0, 180.0, 20.0, 250.0, 20.0, 20.0, 130.0):
        assert pe.feed(ohm) is not PeVerdict.CLEAR
    assert [pe.feed(20.0) for _ in range(3)] == [PeVerdict.GOOD, PeVerdict.GOOD,
                                                 PeVerdict.CLEAR]


def test_an_unreadable_monitor_breaks_the_good_run() -> None:
    pe = PeSupervision(100.0)
    pe.feed(20.0)
    pe.feed(20.0)
    pe.unreadable()
    assert pe.shown() is None
    assert [pe.feed(20.0) for _ in range(3)][-1] is PeVerdict.CLEAR


# ------------------------------------------------------------------ the station monitor


def monitor_station() -> StationConfig:
    """A PE monitor and one connector with a contactor."""
    base = pe_station()
    connector = ConnectorConfig(1, ConnectorKind.TYPE2_CABLE, 32, devices=MappingProxyType({
        "contactor": dev("contactor", "gpio", "connectors[1].contactor", pin=17),
    }))
    return StationConfig(
        path=Path("pe-monitor.toml"),
        identity=Identity("TEST-PE-1", "Test", "PE"),
        max_grid_power_w=44000,
        connectors=(connector,),
        buses=MappingProxyType({"main": base.buses["main"]}),
        devices=MappingProxyType({"pe_monitor": base.devices["pe_monitor"]}),
    )


Env = MonitorEnv


def pe(env: Env) -> PeCircuit:
    """The simulated PE front end."""
    assert env.sim.pe_monitor is not None
    return env.sim.pe_monitor


async def polls(env: Env, *ohms: float) -> None:
    """One poll of the monitor at each earth-loop resistance."""
    for ohm in ohms:
        pe(env).set_ohm(ohm)
        await env.monitor.poll_pe()


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    environment = await make_monitor_env(monitor_station())
    try:
        yield environment
    finally:
        await environment.close()


async def test_earth_loop_above_100_ohm_makes_everything_safe_and_blocks(env: Env) -> None:
    await polls(env, HEALTHY_PE_OHM)
    assert env.monitor.state()["pe_ohm"] == pytest.approx(HEALTHY_PE_OHM, abs=0.2)
    env.safety.close(1)
    await polls(env, 150.0)
    assert env.contactor.commanded_closed is False  # power first ...
    assert env.codes() == {"201"}  # ... then the report on connector 0
    assert env.faults.active[0].info == "PE connection, check protective earth wiring."
    assert env.monitor.state()["pe_ohm"] == pytest.approx(150.0, abs=0.2)
    with pytest.raises(InterlockOpen) as refused:
        env.safety.close(1)
    assert "station_faults" in {name for name, _ in refused.value.failing}


async def test_open_pe_raises_and_shows_open(env: Env) -> None:
    await polls(env, math.inf)
    assert env.codes() == {"201"}
    assert env.monitor.state()["pe_ohm"] == "open"


async def test_unstable_pe_stays_raised_until_good_readings_in_a_row(env: Env) -> None:
    await polls(env, math.inf)
    await polls(env, 5.0, 5.0, 140.0, 5.0, 300.0, 5.0, 5.0, 120.0, 5.0, 5.0)
    assert env.codes() == {"201"}
    with pytest.raises(InterlockOpen):
        env.safety.close(1)
    await polls(env, 5.0)  # the third good reading in a row
    assert env.codes() == set()
    env.safety.close(1)
    assert env.contactor.commanded_closed


async def test_unreadable_monitor_neither_raises_nor_clears(env: Env) -> None:
    pe(env).adc.silent = True
    await env.monitor.poll_pe()
    assert env.codes() == set()
    assert "pe_monitor" in env.monitor.device_problems
    assert env.monitor.state()["pe_ohm"] is None
    pe(env).adc.silent = False
    await polls(env, math.inf)
    pe(env).set_ohm(5.0)
    await env.monitor.poll_pe()
    await env.monitor.poll_pe()
    pe(env).adc.silent = True  # breaks the run of good readings
    await env.monitor.poll_pe()
    pe(env).adc.silent = False
    await polls(env, 5.0, 5.0)
    assert env.codes() == {"201"}
    await polls(env, 5.0)
    assert env.codes() == set()
    assert env.monitor.device_problems == {}


async def test_the_limit_is_the_catalogue_threshold() -> None:
    environment = await make_monitor_env(monitor_station(),
                                         thresholds={"pe_resistance_max_ohm": 50.0})
    try:
        await polls(environment, 60.0)
        assert environment.codes() == {"201"}
    finally:
        await environment.close()


async def test_run_checks_the_pe(env: Env) -> None:
    """The monitor's loops sleep on the station's clock: a test moves it by hand."""
    pe(env).set_ohm(math.inf)
    task = asyncio.create_task(env.monitor.run())
    try:
        await _eventually(lambda: env.faults.is_active(Condition.PE_MISSING))
        pe(env).set_ohm(HEALTHY_PE_OHM)
        await _eventually(lambda: not env.faults.is_active(Condition.PE_MISSING),
                          tick=lambda: env.clock.advance(env.monitor.periods.pe_s))
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def _eventually(
    predicate: Callable[[], bool], within_s: float = 5.0,
    tick: Callable[[], None] = lambda: None,
) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():
            tick()
            await asyncio.sleep(0.005)


# ------------------------------------------------------------------ the simulated station


async def test_ac_example_station_fault_201_opens_the_pe_at_the_wire() -> None:
    config = load_station(AC_STATION)
    wiring = SimWiring(config)
    hw = SimHardware.build(config, wiring)
    world = World(config, hw, wiring)
    hw.attach_world(world)
    section = config.devices["pe_monitor"]
    bus_cfg = config.buses[section.params["bus"]]
    bus = driver_class("bus.i2c", "smbus")(
        bus_cfg.params, DriverContext(wiring, 0, bus_cfg.key, {}, time.monotonic))
    await bus.start()
    monitor = driver_class("pe_monitor", section.driver)(
        section.params, DriverContext(wiring, 0, section.key, {bus_cfg.name: bus}))
    try:
        await monitor.start()
        assert await monitor.read_ohm() == pytest.approx(HEALTHY_PE_OHM, abs=0.2)
        sim_faults.inject(world, "201")
        assert await monitor.read_ohm() == math.inf
        assert hw.readings()["pe_monitor"]["ohm"] == "open"
        sim_faults.clear(world, "201")
        assert await monitor.read_ohm() == pytest.approx(HEALTHY_PE_OHM, abs=0.2)
        assert hw.readings()["pe_monitor"]["ohm"] == HEALTHY_PE_OHM
    finally:
        await monitor.release()
        await bus.release()


def test_dc_example_station_has_no_pe_monitor_and_201_is_refused_there() -> None:
    config = load_station(DC_STATION)
    assert "pe_monitor" not in config.devices
    wiring = SimWiring(config)
    hw = SimHardware.build(config, wiring)
    world = World(config, hw, wiring)
    with pytest.raises(sim_faults.FaultError, match="no PE monitor"):
        sim_faults.inject(world, "201")

"""Contract tests of the DC cable's contact temperature sensors (Pt1000CableMonitor) on
simulated wires (the sensors' amplifiers on ADS1115 inputs) and, marked ``hil``, on a
bench whose station file has a ``cable`` role (normal reading only: a bench has no
actuator for the sensor wires); plus the firmware's derating curve."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import MappingProxyType

import pytest

from drivers.cable_monitor import Pt1000CableMonitor
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.interfaces_station import CableFault
from firmware.config.model import (
    BusConfig,
    ConnectorConfig,
    ConnectorKind,
    Identity,
    StationConfig,
)
from firmware.connector.cable_supervision import derated_a
from hal_sim.cable_sim import CableCircuit
from hal_sim.csms_demo import DemoCsms
from hal_sim.fake_smbus import Ads1115Model
from hal_sim.runner import SimulatedStation
from hal_sim.sim_wiring import SimWiring
from tests.conftest import DC_STATION
from tests.support.hil_bench import bench_from_env
from tests.support.station_configs import _filled, dev
from tests.support.station_fixtures import (
    RIG_KINDS,
    HilRigStation,
    RigStation,
    SimRigStation,
)

ADDRESS = 0x49


def cable_station() -> StationConfig:
    """One CCS connector whose cable sensors sit on channels 2 and 3 of an ADS1115."""
    buses = [BusConfig("i2c", "main", "smbus", _filled("bus.i2c", "smbus", {"bus": 1}),
                       "buses.i2c.main")]
    cable = dev("cable", "pt1000_ads1115", "connectors[1].cable", bus="main",
                address=ADDRESS, channels=(2, 3))
    one = ConnectorConfig(1, ConnectorKind.CCS, 125, max_voltage_v=920, max_power_w=50000,
                          devices=MappingProxyType({"cable": cable}))
    return StationConfig(
        path=Path("cable-rig.toml"),
        identity=Identity("TEST-CABLE-1", "Test", "Rig"),
        max_grid_power_w=50000,
        connectors=(one,),
        buses=MappingProxyType({b.name: b for b in buses}),
        devices=MappingProxyType({}),
    )


class CableRig:
    """The driver under test and what the rig can do to its sensors."""

    def __init__(self, st: RigStation, cable: Pt1000CableMonitor, connector_id: int) -> None:
        self.st = st
        self.cable = cable
        self.capabilities: frozenset[str] = frozenset()
        if isinstance(st, SimRigStation):
            self.circuit: CableCircuit = st.wiring.cables[connector_id]
            self.capabilities = frozenset({"set_c", "open", "short", "silence"})

    def require(self, capability: str) -> None:
        if capability not in self.capabilities:
            pytest.skip(f"the {self.st.kind} cable rig cannot {capability}")

    def silence(self, on: bool) -> None:
        adc = self.circuit.adc
        assert isinstance(adc, Ads1115Model)
        adc.silent = on


@pytest.fixture(params=RIG_KINDS)
async def cable_rig(request: pytest.FixtureRequest) -> AsyncIterator[CableRig]:
    st: RigStation
    if request.param == "hil":
        bench = bench_from_env()
        if bench is None:
            pytest.skip("EVSE_HIL_CONFIG is not set: no bench")
        if not bench.has("cable"):
            pytest.skip("the bench has no cable")
        st = HilRigStation(bench)
        cid = bench.connector_for("cable")
    else:
        sim = SimRigStation(cable_station())
        await sim.wiring.start()
        st, cid = sim, 1
    try:
        cable = await st.build(st.config.connector(cid).devices["cable"], cid)
        yield CableRig(st, cable, cid)
    finally:
        await st.close()


async def test_normal_reading(cable_rig: CableRig) -> None:
    temperatures = await cable_rig.cable.read_c()
    assert len(temperatures) == 2  # DC+ and DC-
    assert all(-30.0 < t < 60.0 for t in temperatures)  # a cable at rest, indoors or out
    assert cable_rig.cable.last_c == temperatures


async def test_reading_follows_the_contact_temperature(cable_rig: CableRig) -> None:
    rig = cable_rig
    rig.require("set_c")
    for celsius in (-20.0, 42.5, 85.0):
        rig.circuit.set_temperature(celsius)
        assert await rig.cable.read_c() == pytest.approx((celsius, celsius), abs=0.1)


async def test_open_sensor(cable_rig: CableRig) -> None:
    rig = cable_rig
    rig.require("open")
    rig.circuit.set_open(1)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.cable.read_c()
    assert raised.value.fault is CableFault.SENSOR_OPEN
    assert "DC-" in raised.value.detail
    rig.circuit.set_open(1, False)
    assert len(await rig.cable.read_c()) == 2


async def test_shorted_sensor(cable_rig: CableRig) -> None:
    rig = cable_rig
    rig.require("short")
    rig.circuit.set_short(0)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.cable.read_c()
    assert raised.value.fault is CableFault.SENSOR_SHORT
    assert "DC+" in raised.value.detail


async def test_silent_adc(cable_rig: CableRig) -> None:
    rig = cable_rig
    rig.require("silence")
    rig.silence(True)
    with pytest.raises(DeviceSilent):
        await rig.cable.read_c()
    rig.silence(False)
    assert len(await rig.cable.read_c()) == 2


def test_scale_round_trips() -> None:
    config = cable_station()
    ctx = DriverContext(SimWiring(config), 1, "connectors[1].cable")
    cable = Pt1000CableMonitor(config.connector(1).devices["cable"].params, ctx)
    for celsius in (-40.0, 0.0, 25.0, 90.0):
        assert cable.to_celsius(cable.to_volts(celsius)) == pytest.approx(celsius)
    assert (cable.derate_from_c, cable.derate_to_c) == (70.0, 90.0)


@pytest.mark.parametrize(
    ("hottest_c", "expected"),
    [(25.0, None), (69.9, None), (70.0, 125.0), (80.0, 62.5), (85.0, 31.0), (90.0, 0.0),
     (120.0, 0.0)],
)
def test_derating_is_linear_from_start_to_max(hottest_c: float, expected: float | None
                                               ) -> None:
    assert derated_a(125.0, hottest_c, 70.0, 90.0) == expected


# ------------------------------------------------------------------ on the DC station


async def test_station_shows_contact_temperatures_and_derates(demo_csms: DemoCsms) -> None:
    async with SimulatedStation(DC_STATION, csms_url=demo_csms.url) as s:
        cable = s.sim.wiring.cables[1]
        await demo_csms.wait_for("EVSE-DC-0001", "StatusNotification", count=2)
        await s.wait_connector(1, lambda c: len(c["cable_temperatures_c"]) == 2,
                               what="contact temperatures")
        assert all(20.0 < t < 30.0 for t in (await s.connector(1))["cable_temperatures_c"])
        await s.api("POST", "/api/sim/connectors/1/plug")
        await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
        await s.wait_connector(1, lambda c: c["status"] == "Charging"
                               and c["current_a"][0] > 80.0, timeout=20, what="charging")

        # 80 °C, halfway between derate_from_c and derate_to_c: half the rated 125 A.
        cable.set_temperature(80.0)
        await s.wait_connector(1, lambda c: c["cable_temperatures_c"][0] == pytest.approx(
            80.0, abs=0.2) and 55.0 < c["current_a"][0] <= 63.0, timeout=10,
            what="derated to 62.5 A")
        state = await s.connector(1)
        assert state["status"] == "Charging" and state["vendor_error_code"] in (None, "0")
        # The power budget has it as a named limit: the load-management view says so.
        view = (await s.state())["station"]["load_management"]["connectors"]
        assert view["1"]["binding"] == "cable_temperature"

        # At derate_to_c the cable may carry nothing: paused, not faulted.
        cable.set_temperature(92.0)
        await s.wait_connector(1, lambda c: c["status"] == "SuspendedEVSE", timeout=10,
                               what="paused")
        assert (await s.connector(1))["faults"] == []

        cable.set_temperature(None)  # cooled down: the full current again
        await s.wait_connector(1, lambda c: c["status"] == "Charging"
                               and c["current_a"][0] > 80.0, timeout=20, what="full current")
        view = (await s.state())["station"]["load_management"]["connectors"]
        assert view["1"]["binding"] != "cable_temperature"

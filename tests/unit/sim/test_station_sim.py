"""The station-level simulation: readings for /api/sim/state, and the world reaching the
wire-level IMD (fault 18 opens the Bender's alarm relay, which the driver sees)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from drivers.context import DriverContext
from drivers.registry import driver_class
from firmware.config import load_station
from hal_sim.circuits import SimHardware
from hal_sim.sim_wiring import SimWiring
from hal_sim.station_circuits import StationCircuits
from hal_sim.world import World
from tests.support.paths import SIM_STATIONS
from tests.support.station_configs import rig_station

STATIONS = SIM_STATIONS


@pytest.mark.parametrize("name", ["ac.toml", "dc.toml"])
async def test_example_stations_show_every_station_device(name: str) -> None:
    config = load_station(STATIONS / name)
    wiring = SimWiring(config)
    await wiring.start()
    try:
        hw = SimHardware.build(config, wiring)
        readings = hw.readings()
        json.dumps(readings)  # JSON-ready
        for key in ("doors", "temperature", "tilt", "display", "modem", "token_reader"):
            assert key in readings, key
        assert ("stop_button" in readings) is (name == "dc.toml")
        assert set(readings["connectors"]) == {str(c.id) for c in config.connectors}
        assert all("led" in view for view in readings["connectors"].values())
        if name == "dc.toml":
            assert "imd" in readings["connectors"]["1"]
            assert "rdc" in readings["connectors"]["3"]
    finally:
        await wiring.stop()


async def test_doors_and_button_show_in_the_readings() -> None:
    config = rig_station()
    wiring = SimWiring(config)
    hw = SimHardware.build(config, wiring)
    st = hw.station
    assert isinstance(st, StationCircuits) and st.doors and st.stop_button
    st.doors.set_open(2, True)
    st.stop_button.press()
    readings = hw.readings()
    assert readings["doors"] == {"open_doors": [2], "open": True}
    assert readings["stop_button"] == {"pressed": True}


async def test_world_insulation_fault_reaches_the_bender_driver() -> None:
    config = rig_station()
    wiring = SimWiring(config)
    await wiring.start()
    hw = SimHardware.build(config, wiring)
    world = World(config, hw, wiring)
    bus_cfg = config.buses["rs485"]
    bus = driver_class("bus.modbus", "rtu")(
        bus_cfg.params, DriverContext(wiring, 0, bus_cfg.key, {}, time.monotonic)
    )
    await bus.start()
    imd_cfg = config.connector(2).devices["imd"]
    imd = driver_class("imd", imd_cfg.driver)(
        imd_cfg.params, DriverContext(wiring, 2, imd_cfg.key, {"rs485": bus}, time.monotonic)
    )
    try:
        await imd.start()  # writes the thresholds: the simulated IMD finds the world
        seen: list[bool] = []
        imd.subscribe(seen.append)
        world.connector(2).set_insulation(50e3)  # what fault 18 does
        async with asyncio.timeout(3.0):
            while seen != [True]:
                await asyncio.sleep(0.005)
        assert await imd.resistance_ohm() == pytest.approx(50e3)
        world.connector(2).set_insulation(10e6)
        async with asyncio.timeout(3.0):
            while seen != [True, False]:
                await asyncio.sleep(0.005)
    finally:
        await imd.release()
        await bus.release()
        await wiring.stop()

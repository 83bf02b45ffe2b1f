"""LED rings and the display follow the connectors' status (real drivers, simulated I2C)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from drivers.context import DriverContext
from drivers.registry import driver_class
from firmware.station.indicators import ConnectorIndicators, status_text
from hal_sim.circuits import SimHardware
from hal_sim.sim_wiring import SimWiring
from hal_sim.station_circuits import StationCircuits
from tests.support.station_configs import rig_station


@dataclass
class Setup:
    sim: StationCircuits
    indicators: ConnectorIndicators
    task: asyncio.Task[None]

    def lines(self) -> list[str]:
        assert self.sim.display is not None
        return [line.rstrip() for line in self.sim.display.lines(20, 4)]


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    config = rig_station()
    wiring = SimWiring(config)
    await wiring.start()
    hw = SimHardware.build(config, wiring)
    bus_cfg = config.buses["main"]
    bus = driver_class("bus.i2c", "smbus")(
        bus_cfg.params, DriverContext(wiring, 0, bus_cfg.key, {}, time.monotonic)
    )
    await bus.start()

    async def build(role: str, params: Any, key: str, cid: int = 0) -> Any:
        driver = driver_class(role, params.driver)(
            params.params, DriverContext(wiring, cid, key, {"main": bus}, time.monotonic)
        )
        await driver.start()
        return driver

    ring = await build("led", config.connector(1).devices["led"], "connectors[1].led", 1)
    display = await build("display", config.devices["display"], "devices.display")
    indicators = ConnectorIndicators({1: ring}, display, retry_s=0.05)
    task = asyncio.create_task(indicators.run())
    assert isinstance(hw.station, StationCircuits)
    try:
        yield Setup(hw.station, indicators, task)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await bus.release()
        await wiring.stop()


async def until(predicate: Any) -> None:
    async with asyncio.timeout(3.0):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_status_sets_colour_and_text(setup: Setup) -> None:
    s = setup
    s.indicators.update(1, "Available")
    await until(lambda: s.sim.leds[1].rgb == (0, 255, 0))
    await until(lambda: s.lines()[:2] == ["Available. Present", "your card."])
    s.indicators.update(1, "Charging")
    await until(lambda: s.sim.leds[1].rgb == (0, 0, 255))
    await until(lambda: s.lines()[0] == "Charging.")


async def test_fault_text_wins_over_the_status_text(setup: Setup) -> None:
    s = setup
    s.indicators.update(1, "Faulted", "Cannot lock the cable. Reconnect the cable.")
    await until(lambda: s.sim.leds[1].rgb == (255, 0, 0))
    await until(lambda: s.lines()[:2] == ["Cannot lock the", "cable. Reconnect the"])


async def test_station_message_and_new_colours(setup: Setup) -> None:
    s = setup
    s.indicators.update(1, "Finishing")
    await until(lambda: s.sim.leds[1].rgb == (255, 255, 255))
    s.indicators.update(0, "Unavailable", "Out of service: service door open.")
    await until(lambda: s.lines()[:2] == ["Out of service:", "service door open."])
    s.indicators.set_colors(",00FF00,0000FF,FF8000,FF0000")
    await until(lambda: s.sim.leds[1].rgb == (255, 128, 0))
    with pytest.raises(ValueError):
        s.indicators.set_colors("red,green")


async def test_a_silent_led_driver_is_retried(setup: Setup) -> None:
    s = setup
    chip = s.sim.leds[1].chip
    chip.silent = True
    s.indicators.update(1, "Faulted")
    await asyncio.sleep(0.02)
    assert s.sim.leds[1].rgb == (0, 0, 0)
    chip.silent = False
    await until(lambda: s.sim.leds[1].rgb == (255, 0, 0))


def test_status_texts_in_dutch_with_english_fallback() -> None:
    assert status_text("Charging", "nl") == "Bezig met laden."
    assert status_text("Charging", "de") == "Charging."

"""StationHardware: every device of a station started and released through the HAL
lifecycle contract (``drivers.interfaces.Device``), on the example DC station (CCS with a
module pool on CAN, an AC connector with an RDC-DD, every station device) over simulated
wires."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from drivers.errors import DriverError
from drivers.interfaces import Device
from firmware.config import load_station
from firmware.station.hardware import StationHardware
from hal_sim.simulator import Simulation
from tests.support.paths import SIM_STATIONS


@pytest.fixture
async def sim() -> AsyncIterator[Simulation]:
    simulation = await Simulation.create(load_station(SIM_STATIONS / "dc.toml"))
    try:
        yield simulation
    finally:
        await simulation.close()


async def test_a_released_station_leaves_its_hardware_free_for_the_next(
    sim: Simulation,
) -> None:
    """A Reset builds the station again on the same board: it can claim every pin, bus
    and module only if the previous one released them all."""
    for _ in range(2):
        hw = StationHardware(sim.config, sim.wiring)
        await hw.start()
        try:
            assert hw.start_failures == []
            for devices in hw.connectors.values():
                assert devices.contactor.commanded_closed is False
                if devices.pilot is not None:
                    assert devices.pilot.duty == 100.0  # +12 V: state A/B, no PWM
        finally:
            await hw.close()


def test_a_connector_starts_its_pilot_first_and_its_contactor_second(
    sim: Simulation,
) -> None:
    hw = StationHardware(sim.config, sim.wiring)
    for cid, devices in hw.connectors.items():
        roles = [role for role, _ in devices.named()]
        expected = ["pilot", "contactor"] if devices.pilot is not None else ["contactor"]
        assert roles[:len(expected)] == expected, cid
        assert len(roles) == len(sim.config.connector(cid).devices)  # every device, once


def test_the_station_devices_include_the_token_reader_once(sim: Simulation) -> None:
    hw = StationHardware(sim.config, sim.wiring)
    roles = [role for role, _ in hw.station_devices.named()]
    assert roles.count("token_reader") == 1
    assert hw.token_reader is hw.station_devices.token_reader is not None


class _ReleaseFails:
    """A device stuck on its bus: it starts, but releasing it fails (the real display
    it stands for is started and released by the test itself)."""

    def __init__(self, device: Device) -> None:
        self.device = device

    async def start(self) -> None:
        await self.device.start()

    async def release(self) -> None:
        await self.device.release()
        raise DriverError("display does not answer")


async def test_a_failing_release_is_logged_and_the_rest_is_still_released(
    sim: Simulation, caplog: pytest.LogCaptureFixture,
) -> None:
    hw = StationHardware(sim.config, sim.wiring)
    display = hw.station_devices.display
    assert display is not None
    hw.station_devices.display = _ReleaseFails(display)  # type: ignore[assignment]
    await hw.start()
    assert hw.start_failures == []
    with caplog.at_level(logging.ERROR, logger="firmware.station.hardware"):
        await hw.close()  # does not raise
    assert any("display: release failed" in r.getMessage() for r in caplog.records)
    # Devices before buses, and every bus released after the failure: the I2C bus the
    # display was on is closed.
    with pytest.raises(DriverError, match="not open"):
        hw.buses["main"].locked_call(lambda _bus: None)  # type: ignore[attr-defined]
    again = StationHardware(sim.config, sim.wiring)  # everything free again
    await again.start()
    try:
        assert again.start_failures == []
    finally:
        await again.close()

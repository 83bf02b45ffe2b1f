"""Contract tests of the TMP117 temperature sensor driver on the simulated I2C bus."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.interfaces_station import SensorFault
from drivers.tmp117 import c_to_raw, raw_to_c

if TYPE_CHECKING:
    from tests.support.station_fixtures import TemperatureRig

pytest_plugins = ("tests.support.station_fixtures",)


@pytest.mark.parametrize("celsius", [-55.0, -40.0, -0.0078125, 0.0, 25.5, 71.8, 150.0])
def test_register_conversion_round_trips(celsius: float) -> None:
    assert raw_to_c(c_to_raw(celsius)) == pytest.approx(celsius, abs=0.004)


async def test_reads_the_temperature(temperature_rig: TemperatureRig) -> None:
    low, high = temperature_rig.expect_c
    assert low <= await temperature_rig.sensor.read_c() <= high


async def test_follows_changes_to_a_hundredth(temperature_rig: TemperatureRig) -> None:
    rig = temperature_rig
    rig.require("set")
    for value in (71.8, -30.0, 0.01):
        rig.set_c(value)
        assert await rig.sensor.read_c() == pytest.approx(value, abs=0.01)


async def test_silent_sensor(temperature_rig: TemperatureRig) -> None:
    rig = temperature_rig
    rig.require("silence")
    rig.silence(True)
    with pytest.raises(DeviceSilent):
        await rig.sensor.read_c()
    rig.silence(False)
    assert await rig.sensor.read_c() == pytest.approx(25.0, abs=0.01)


async def test_no_conversion_and_impossible_values_are_out_of_range(
    temperature_rig: TemperatureRig,
) -> None:
    rig = temperature_rig
    rig.require("no_conversion")
    assert rig.model is not None
    rig.model.no_conversion = True  # the power-on value -256 °C: no result yet
    with pytest.raises(DeviceFaulted) as raised:
        await rig.sensor.read_c()
    assert raised.value.fault is SensorFault.OUT_OF_RANGE
    rig.model.no_conversion = False
    rig.set_c(180.0)  # beyond the part's -55..150 °C
    with pytest.raises(DeviceFaulted) as raised:
        await rig.sensor.read_c()
    assert raised.value.fault is SensorFault.OUT_OF_RANGE


async def test_another_part_at_the_address_is_refused(temperature_rig: TemperatureRig) -> None:
    rig = temperature_rig
    rig.require("wrong_device")
    assert rig.model is not None
    rig.model.device_id = 0x0A5A
    rig.sensor._identified = False  # as after a restart with the wrong part fitted
    with pytest.raises(DeviceFaulted) as raised:
        await rig.sensor.read_c()
    assert raised.value.fault is SensorFault.WRONG_DEVICE

"""Contract tests of the ADXL345 tilt sensor driver on the simulated I2C bus."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from drivers.adxl345 import tilt_deg
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.interfaces_station import SensorFault

if TYPE_CHECKING:
    from tests.support.station_fixtures import TiltRig

pytest_plugins = ("tests.support.station_fixtures",)


@pytest.mark.parametrize(
    ("g", "axis", "expected"),
    [
        ((0.0, 0.0, 1.0), "+z", 0.0),
        ((0.0, 0.0, -1.0), "+z", 180.0),
        ((1.0, 0.0, 0.0), "+z", 90.0),
        ((0.0, -1.0, 0.0), "-y", 0.0),
        ((0.0, 0.5, 0.866), "+z", 30.0),
    ],
)
def test_tilt_angle(g: tuple[float, float, float], axis: str, expected: float) -> None:
    assert tilt_deg(g, axis) == pytest.approx(expected, abs=0.05)


async def test_standing_level(tilt_rig: TiltRig) -> None:
    reading = await tilt_rig.sensor.read()
    assert reading.tilt_deg <= tilt_rig.level_max_deg
    assert sum(v * v for v in reading.g) == pytest.approx(1.0, abs=0.15)


async def test_tilt_shows_in_angle_and_raw_axes(tilt_rig: TiltRig) -> None:
    rig = tilt_rig
    rig.require("tilt")
    rig.model.set_tilt(15.0)
    reading = await rig.sensor.read()
    assert reading.tilt_deg == pytest.approx(15.0, abs=0.5)
    assert reading.raw == rig.model.counts()  # what 407's info shows
    assert reading.raw[2] == pytest.approx(247, abs=2)  # cos 15° x 256 counts/g


async def test_self_test_passes(tilt_rig: TiltRig) -> None:
    await tilt_rig.sensor.self_test()
    reading = await tilt_rig.sensor.read()  # back to normal measurement afterwards
    assert reading.tilt_deg <= tilt_rig.level_max_deg


async def test_broken_self_test(tilt_rig: TiltRig) -> None:
    rig = tilt_rig
    rig.require("break_self_test")
    rig.model.self_test_broken = True
    with pytest.raises(DeviceFaulted) as raised:
        await rig.sensor.self_test()
    assert raised.value.fault is SensorFault.SELF_TEST_FAILED


async def test_stuck_sensor_is_out_of_range(tilt_rig: TiltRig) -> None:
    rig = tilt_rig
    rig.require("stick")
    rig.model.stuck = True  # reads 0 g: no gravity at all is not a tilt
    with pytest.raises(DeviceFaulted) as raised:
        await rig.sensor.read()
    assert raised.value.fault is SensorFault.OUT_OF_RANGE


async def test_silent_sensor(tilt_rig: TiltRig) -> None:
    rig = tilt_rig
    rig.require("silence")
    rig.model.silent = True
    with pytest.raises(DeviceSilent):
        await rig.sensor.read()
    rig.model.silent = False
    assert (await rig.sensor.read()).tilt_deg < 1.0

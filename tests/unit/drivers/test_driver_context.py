"""What a driver is given: borrowing a bus by name (every bus-using driver's start)."""

from __future__ import annotations

from typing import Any, cast

import pytest

from drivers.context import DriverContext
from drivers.errors import DeviceSilent
from drivers.tmp117 import Tmp117


def test_a_bus_is_borrowed_by_name() -> None:
    bus = object()
    ctx = DriverContext(cast(Any, None), where="devices.temperature", buses={"env": bus})
    assert ctx.bus("env", "I2C") is bus


async def test_a_missing_bus_is_a_silent_device_naming_the_section() -> None:
    ctx = DriverContext(cast(Any, None), where="devices.temperature", buses={})
    with pytest.raises(DeviceSilent, match=r"devices\.temperature: no I2C bus 'env'"):
        ctx.bus("env", "I2C")
    sensor = Tmp117({"bus": "env", "address": 0x48}, ctx)
    with pytest.raises(DeviceSilent, match="no I2C bus 'env'"):
        await sensor.start()

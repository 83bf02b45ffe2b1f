"""Station configurations of the station-device tests (plain helpers, not a plugin)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from drivers.registry import driver_params
from firmware.config.model import (
    BusConfig,
    ConnectorConfig,
    ConnectorKind,
    DeviceConfig,
    Identity,
    StationConfig,
)


def _filled(role: str, driver: str, params: Mapping[str, Any]) -> MappingProxyType[str, Any]:
    full = {k: p.default for k, p in driver_params(role, driver).items() if not p.required}
    full.update(params)
    return MappingProxyType(full)


def dev(role: str, driver: str, key: str, **params: Any) -> DeviceConfig:
    return DeviceConfig(role, driver, _filled(role, driver, params), key)


def rig_station() -> StationConfig:
    """Every station device, an RDC-DD and LED ring on #1, a Bender IMD on #2."""
    c1, c2 = "connectors[1]", "connectors[2]"
    buses = [
        BusConfig("i2c", "main", "smbus", _filled("bus.i2c", "smbus", {"bus": 1}),
                  "buses.i2c.main"),
        BusConfig("modbus", "rs485", "rtu",
                  _filled("bus.modbus", "rtu", {"port": "/dev/ttyAMA2", "baudrate": 19200,
                                                "timeout_ms": 150}),
                  "buses.modbus.rs485"),
    ]
    devices = {
        "doors": dev("doors", "gpio", "devices.doors", pins=(4, 22)),
        "stop_button": dev("stop_button", "gpio", "devices.stop_button", pin=23),
        "temperature": dev("temperature", "tmp117", "devices.temperature", bus="main",
                           address=0x4B),
        "tilt": dev("tilt", "adxl345", "devices.tilt", bus="main", address=0x53),
        "display": dev("display", "hd44780", "devices.display", bus="main", address=0x27),
        "modem": dev("modem", "at", "devices.modem", port="/dev/ttyUSB2", timeout_ms=300),
    }
    one = ConnectorConfig(1, ConnectorKind.TYPE2_CABLE, 32, devices=MappingProxyType({
        "rcd": dev("rcd", "rdc_dd", f"{c1}.rcd", trip_pin=5, test_pin=6, reset_pin=7,
                   self_test_timeout_ms=300, reset_pulse_ms=20, reset_timeout_ms=300,
                   bus="main", address=0x4A, channel=0, sample_period_ms=20),
        "led": dev("led", "pca9685", f"{c1}.led", bus="main", address=0x40),
    }))
    two = ConnectorConfig(2, ConnectorKind.CCS, 125, max_voltage_v=920, max_power_w=50000,
                          devices=MappingProxyType({
        "imd": dev("imd", "bender_isocha425", f"{c2}.imd", bus="rs485", address=3,
                   alarm_pin=18, self_test_timeout_s=3.0, poll_ms=20),
    }))
    return StationConfig(
        path=Path("rig.toml"),
        identity=Identity("TEST-RIG-1", "Test", "Rig"),
        max_grid_power_w=44000,
        connectors=(one, two),
        buses=MappingProxyType({b.name: b for b in buses}),
        devices=MappingProxyType(devices),
    )



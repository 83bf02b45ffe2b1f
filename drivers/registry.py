"""Driver names as the station file spells them, mapped to their classes.

Classes are named by import path and loaded only when used, so a station starts without
importing drivers it does not have. Every class takes ``(params, ctx)`` where ``params``
is its checked configuration section (defaults filled in) and ``ctx`` a
:class:`drivers.context.DriverContext`, and declares ``PARAMS`` (``drivers.params``).
"""

from __future__ import annotations

import importlib
from typing import Any

from drivers.params import Param

# role -> driver name -> "module:Class"
DRIVERS: dict[str, dict[str, str]] = {
    # shared buses: one owner each, borrowed by the drivers on them
    "bus.i2c": {"smbus": "drivers.i2c:I2CBus"},
    "bus.modbus": {"rtu": "drivers.modbus:ModbusRtuBus", "tcp": "drivers.modbus:ModbusTcpBus"},
    "bus.can": {
        "socketcan": "drivers.can_bus:CanBusOwner",
        "virtual": "drivers.can_bus:CanBusOwner",
    },
    # connector roles
    "pilot": {"ads1115": "drivers.pilot:Ads1115Pilot"},
    "contactor": {"gpio": "drivers.contactor:GpioContactor"},
    "lock": {"gpio_hbridge": "drivers.lock:HBridgeLock"},
    "rcd": {"gpio": "drivers.rcd:GpioRcd"},
    "meter": {"sdm630": "drivers.sdm630:Sdm630Meter", "sim_dc": "hal_sim.dc_devices:SimDcMeter"},
    "power_stack": {"sim": "hal_sim.dc_devices:SimPowerStack"},
    "imd": {"sim": "hal_sim.dc_devices:SimImd"},
    "ev_comm": {"sim": "hal_sim.dc_devices:SimEvComm"},
    # station roles
    "token_reader": {"nfcpy": "drivers.nfc:NfcpyReader"},
}

# Station devices and the extras of some connector roles (issue "Hardware layer complete").
DRIVERS["rcd"]["rdc_dd"] = "drivers.rdc:RdcDd"
DRIVERS["imd"]["bender_isocha425"] = "drivers.imd_bender:BenderIsoCha425"
DRIVERS.update(
    {
        "led": {"pca9685": "drivers.leds:Pca9685Ring"},
        "doors": {"gpio": "drivers.doors:GpioDoors"},
        "stop_button": {"gpio": "drivers.doors:GpioStopButton"},
        "temperature": {"tmp117": "drivers.tmp117:Tmp117"},
        "tilt": {"adxl345": "drivers.adxl345:Adxl345Tilt"},
        "display": {
            "hd44780": "drivers.display:Hd44780Display",
            "log": "drivers.display:LogDisplay",
        },
        "modem": {"at": "drivers.modem:AtModem"},
    }
)

CONNECTOR_ROLES: tuple[str, ...] = (
    "pilot", "contactor", "lock", "rcd", "meter", "power_stack", "imd", "ev_comm", "led"
)
STATION_ROLES: tuple[str, ...] = (
    "token_reader", "doors", "stop_button", "temperature", "tilt", "display", "modem"
)
BUS_KINDS = ("i2c", "modbus", "can")

# DC power (issue "DC fast charging"): CAN bus owners per interface, the power-module pool
# (a station device), each DC connector's module group, the DC meter.
DRIVERS["bus.can"].update(
    {"socketcan": "drivers.can_bus:SocketCanBus", "virtual": "drivers.can_bus:VirtualCanBus"}
)
DRIVERS["power_modules"] = {"infypower": "drivers.infypower:InfyPowerModules"}
DRIVERS["power_stack"]["module_group"] = "drivers.module_group:ModuleGroupStack"
DRIVERS["meter"]["acrel_djsf1352"] = "drivers.acrel:AcrelDjsf1352Meter"
STATION_ROLES = (*STATION_ROLES, "power_modules")

# Protective-earth monitor (AC list 201): a front end read through an ADS1115 input.
DRIVERS["pe_monitor"] = {"ads1115": "drivers.pe_monitor:Ads1115PeMonitor"}
STATION_ROLES = (*STATION_ROLES, "pe_monitor")

# A liquid-cooled DC cable (DC list 20, 21): its contact temperature sensors on ADS1115
# inputs and its cooling unit on the RS-485 Modbus bus. DC connectors only.
DRIVERS["cable"] = {"pt1000_ads1115": "drivers.cable_monitor:Pt1000CableMonitor"}
DRIVERS["cooler"] = {"modbus": "drivers.cooler:ModbusCableCooler"}
CONNECTOR_ROLES = (*CONNECTOR_ROLES, "cable", "cooler")


class UnknownDriver(LookupError):
    def __init__(self, role: str, name: str) -> None:
        known = ", ".join(sorted(DRIVERS.get(role, {}))) or "none"
        super().__init__(f"unknown driver {name!r} for {role} (known: {known})")
        self.role = role
        self.name = name


def driver_class(role: str, name: str) -> type[Any]:
    """The class serving ``name`` in ``role``; raises :class:`UnknownDriver`."""
    try:
        path = DRIVERS[role][name]
    except KeyError:
        raise UnknownDriver(role, name) from None
    module, _, cls = path.partition(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def driver_params(role: str, name: str) -> dict[str, Param]:
    """The declared parameters of a driver (without importing hardware libraries)."""
    return dict(driver_class(role, name).PARAMS)

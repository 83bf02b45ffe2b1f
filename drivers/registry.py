"""Driver names as the station file spells them, mapped to their classes.

Classes are named by import path and loaded only when used, so a station starts without
importing drivers it does not have. Every class takes ``(params, ctx)`` where ``params``
is its checked configuration section (defaults filled in) and ``ctx`` a
:class:`drivers.context.DriverContext`, and declares ``PARAMS`` (``drivers.params``).

:data:`DRIVERS` names the board's drivers, all of them in ``drivers``. Other installed
packages add drivers through the entry-point group :data:`ENTRY_POINT_GROUP`
(``evse.drivers``): an entry named ``ROLE.NAME`` whose value is ``module:Class``, e.g.

.. code-block:: toml

    [project.entry-points."evse.drivers"]
    "imd.sim" = "hal_sim.dc_devices:SimImd"

The group is read only when a name is not built in (the simulator's DC devices), and
once per process (:class:`DriverRegistry`). A built-in name wins over a registered one.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any, TypeAlias

from drivers.params import Param

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "evse.drivers"

DriverTable: TypeAlias = Mapping[str, Mapping[str, str]]  # role -> name -> "module:Class"

# The board's drivers, all in ``drivers`` (see the module doc for the others).
DRIVERS: DriverTable = MappingProxyType({
    # shared buses: one owner each, borrowed by the drivers on them
    "bus.i2c": {"smbus": "drivers.i2c:I2CBus"},
    "bus.modbus": {"rtu": "drivers.modbus:ModbusRtuBus", "tcp": "drivers.modbus:ModbusTcpBus"},
    "bus.can": {
        "socketcan": "drivers.can_bus:SocketCanBus",
        "virtual": "drivers.can_bus:VirtualCanBus",
    },
    # connector roles
    "pilot": {"ads1115": "drivers.pilot:Ads1115Pilot"},
    "contactor": {"gpio": "drivers.contactor:GpioContactor"},
    "lock": {"gpio_hbridge": "drivers.lock:HBridgeLock"},
    "rcd": {"gpio": "drivers.rcd:GpioRcd", "rdc_dd": "drivers.rdc:RdcDd"},
    "meter": {
        "sdm630": "drivers.sdm630:Sdm630Meter",
        "acrel_djsf1352": "drivers.acrel:AcrelDjsf1352Meter",
    },
    "power_stack": {"module_group": "drivers.module_group:ModuleGroupStack"},
    "imd": {"bender_isocha425": "drivers.imd_bender:BenderIsoCha425"},
    "ev_comm": {},  # no board driver yet (ISO 15118 / CHAdeMO CAN stack): simulated only
    "led": {"pca9685": "drivers.leds:Pca9685Ring"},
    # a liquid-cooled DC cable (DC list 20, 21): contact temperatures, cooling unit
    "cable": {"pt1000_ads1115": "drivers.cable_monitor:Pt1000CableMonitor"},
    "cooler": {"modbus": "drivers.cooler:ModbusCableCooler"},
    # station roles
    "token_reader": {"nfcpy": "drivers.nfc:NfcpyReader"},
    "doors": {"gpio": "drivers.doors:GpioDoors"},
    "stop_button": {"gpio": "drivers.doors:GpioStopButton"},
    "temperature": {"tmp117": "drivers.tmp117:Tmp117"},
    "tilt": {"adxl345": "drivers.adxl345:Adxl345Tilt"},
    "display": {
        "hd44780": "drivers.display:Hd44780Display",
        "log": "drivers.display:LogDisplay",
    },
    "modem": {"at": "drivers.modem:AtModem"},
    "power_modules": {"infypower": "drivers.infypower:InfyPowerModules"},
    "pe_monitor": {"ads1115": "drivers.pe_monitor:Ads1115PeMonitor"},  # AC list 201
})

CONNECTOR_ROLES: tuple[str, ...] = (
    "pilot", "contactor", "lock", "rcd", "meter", "power_stack", "imd", "ev_comm", "led",
    "cable", "cooler",
)
STATION_ROLES: tuple[str, ...] = (
    "token_reader", "doors", "stop_button", "temperature", "tilt", "display", "modem",
    "power_modules", "pe_monitor",
)
BUS_KINDS = ("i2c", "modbus", "can")


def extensions_from(points: Iterable[EntryPoint]) -> dict[str, dict[str, str]]:
    """role -> name -> ``module:Class`` of the given ``evse.drivers`` entry points.

    An entry's name is ``ROLE.NAME``; roles may hold a dot themselves (``bus.can.NAME``),
    driver names do not. Entries without a role are skipped with a warning: one broken
    package must not stop the station's own drivers from loading."""
    table: dict[str, dict[str, str]] = {}
    for point in points:
        role, dot, name = point.name.rpartition(".")
        if not dot or not role or not name:
            log.warning("entry point %s = %s in %s: expected ROLE.NAME; ignored",
                        point.name, point.value, ENTRY_POINT_GROUP)
            continue
        table.setdefault(role, {})[name] = point.value
    return table


def installed_extensions() -> dict[str, dict[str, str]]:
    """The drivers installed packages register (``evse.drivers`` entry points)."""
    return extensions_from(entry_points(group=ENTRY_POINT_GROUP))


class DriverRegistry:
    """Built-in drivers first, then the ones other packages register.

    ``extensions`` is called at most once, and only when a name is not built in:
    scanning the installed distributions costs milliseconds that a board station (built-in
    drivers only) need not spend at start-up."""

    def __init__(self, builtin: DriverTable, extensions: Callable[[], DriverTable]) -> None:
        self._builtin = builtin
        self._load_extensions = extensions
        self._extensions: DriverTable | None = None

    def _registered(self) -> DriverTable:
        if self._extensions is None:
            self._extensions = self._load_extensions()
        return self._extensions

    def path(self, role: str, name: str) -> str:
        """The ``module:Class`` serving ``name`` in ``role``; raises :class:`UnknownDriver`."""
        builtin = self._builtin.get(role, {}).get(name)
        if builtin is not None:
            return builtin
        registered = self._registered().get(role, {}).get(name)
        if registered is None:
            raise UnknownDriver(role, name, self.known(role))
        return registered

    def known(self, role: str) -> list[str]:
        """Every driver name ``role`` accepts, built in and registered, sorted."""
        return sorted({*self._builtin.get(role, {}), *self._registered().get(role, {})})

    def table(self) -> dict[str, dict[str, str]]:
        """role -> name -> ``module:Class`` for every driver; a built-in name wins over a
        registered one."""
        table = {role: dict(names) for role, names in self._builtin.items()}
        for role, names in self._registered().items():
            for name, path in names.items():
                table.setdefault(role, {}).setdefault(name, path)
        return table


REGISTRY = DriverRegistry(DRIVERS, installed_extensions)


class UnknownDriver(LookupError):
    """A station file names a driver no installed package serves.

    Not a :class:`~drivers.errors.DriverError`: no device misbehaved, the station file (or
    the installation) is wrong. The configuration loader turns it into a ConfigError
    before any device exists; a DriverError is what the firmware reports as that device's
    problem, and an unknown name must never be taken for one."""

    def __init__(self, role: str, name: str, known: Iterable[str] | None = None) -> None:
        names = ", ".join(REGISTRY.known(role) if known is None else known) or "none"
        super().__init__(f"unknown driver {name!r} for {role} (known: {names})")
        self.role = role
        self.name = name


def all_drivers() -> dict[str, dict[str, str]]:
    """role -> name -> ``module:Class`` for every driver, built in and registered."""
    return REGISTRY.table()


def driver_class(role: str, name: str) -> type[Any]:
    """The class serving ``name`` in ``role``; raises :class:`UnknownDriver`, or
    ImportError / AttributeError when the named module or class is not installed."""
    module, _, cls = REGISTRY.path(role, name).partition(":")
    # The class named by the table's "module:Class" string (data), not a contract lookup.
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def driver_params(role: str, name: str) -> dict[str, Param]:
    """The declared parameters of a driver (without importing hardware libraries)."""
    return dict(driver_class(role, name).PARAMS)

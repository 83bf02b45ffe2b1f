"""Checking of driver sections (``[buses.*.*]``, ``[devices.*]``, ``[connectors.<role>]``).

A driver section names its driver with ``driver = "…"``; every other key is a parameter
the driver class declares in ``PARAMS`` (:mod:`drivers.params`). One
:class:`DriverSections` checks all sections of a station, so that a GPIO pin, a bus
address or a serial port claimed twice anywhere in the file is found, with the key of
its first user in the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from drivers.params import Param, normalise_port
from drivers.registry import UnknownDriver, driver_class
from firmware.config.values import BAD, Problems, check_keys, check_param, join

_ADDRESS_LABELS = {"i2c": "I2C address", "modbus": "Modbus address", "can": "CAN address"}


@dataclass(frozen=True)
class CheckedSection:
    """A driver section that passed every check: its driver and complete parameters."""

    driver: str
    params: Mapping[str, Any]


class DriverSections:
    """Checks the driver sections of one station file and the resources they claim.

    ``buses`` maps every bus name declared in the file to its kind (``"modbus"``), so that
    a driver's ``bus`` parameter can be checked before the bus sections themselves are.
    """

    def __init__(self, problems: Problems, buses: Mapping[str, str]) -> None:
        self._problems = problems
        self._buses = dict(buses)
        # (resource kind, ...) -> dotted key of the first user
        self._claims: dict[tuple[Any, ...], str] = {}
        self._shared: set[tuple[Any, ...]] = set()  # claims every ADS1115 user may share

    def check(self, role: str, key: str, table: Mapping[str, Any]) -> CheckedSection | None:
        """Check the section at ``key`` for ``role``; None when any problem was found."""
        before = len(self._problems.items)
        found = self._driver(role, key, table)
        if found is None:
            return None
        name, cls, declared = found
        check_keys(self._problems, key, table, ["driver", *declared])
        params = self._params(key, table, declared)
        # Data a bus-using driver declares on its class (the others have none); the class
        # came from the registry's "module:Class" table, so it is checked, not trusted.
        bus_kind = getattr(cls, "BUS_KIND", None)
        if isinstance(bus_kind, str) and not _optional_bus_left_out(declared, params):
            self._check_bus_reference(key, bus_kind, params)
        self._claim_resources(key, table, declared, params)
        if len(self._problems.items) != before:
            return None
        ordered = {p: params[p] for p in declared}
        return CheckedSection(name, MappingProxyType(ordered))

    def _driver(
        self, role: str, key: str, table: Mapping[str, Any]
    ) -> tuple[str, type[Any], Mapping[str, Param]] | None:
        """The driver name, class and declared parameters, or None (problem recorded)."""
        driver_key = join(key, "driver")
        if "driver" not in table:
            self._problems.add(driver_key, "required key is missing")
            return None
        name = check_param(self._problems, driver_key, table["driver"], Param(str))
        if name is BAD:
            return None
        try:
            cls = driver_class(role, name)
        except UnknownDriver as exc:
            self._problems.add(driver_key, str(exc))
            return None
        except (ImportError, AttributeError) as exc:
            # The registry names a module or class that is not there: a broken install.
            self._problems.add(driver_key, f"driver {name!r} for {role} cannot be loaded: {exc}")
            return None
        # Validated, not assumed: a class named by a registered entry point may not follow
        # the driver contract, and that is an installation error to report, not a crash.
        declared = getattr(cls, "PARAMS", None)
        if not isinstance(declared, Mapping):
            reason = f"{cls.__qualname__} declares no PARAMS"
            self._problems.add(driver_key, f"driver {name!r} for {role} cannot be loaded: {reason}")
            return None
        return name, cls, declared

    def _params(
        self, key: str, table: Mapping[str, Any], declared: Mapping[str, Param]
    ) -> dict[str, Any]:
        """The parameters that passed their checks, defaults filled in."""
        params: dict[str, Any] = {}
        for name, param in declared.items():
            if name in table:
                value = check_param(self._problems, join(key, name), table[name], param)
                if value is not BAD:
                    params[name] = value
            elif param.required:
                self._problems.add(join(key, name), "required key is missing")
            elif param.type is float and type(param.default) is int:
                params[name] = float(param.default)  # drivers see the declared type
            else:
                params[name] = param.default
        return params

    def _check_bus_reference(self, key: str, bus_kind: str, params: Mapping[str, Any]) -> None:
        bus = params.get("bus")
        if not isinstance(bus, str) or self._buses.get(bus) == bus_kind:
            return  # a missing or mistyped `bus` is reported already
        configured = sorted(n for n, k in self._buses.items() if k == bus_kind)
        reason = f"no {bus_kind} bus named {bus!r} (configured: {', '.join(configured) or 'none'})"
        if bus in self._buses:
            reason += f"; {bus!r} is buses.{self._buses[bus]}.{bus}"
        self._problems.add(join(key, "bus"), reason)

    def _claim_resources(
        self,
        key: str,
        table: Mapping[str, Any],
        declared: Mapping[str, Param],
        params: Mapping[str, Any],
    ) -> None:
        # Claim in the order the installer wrote the keys, so that "already used by" names
        # the earlier line of the file; defaults come last.
        order = [n for n in table if n in declared] + [n for n in declared if n not in table]
        for name in order:
            resource = declared[name].resource
            if resource is None or name not in params:
                continue
            value = params[name]
            if isinstance(value, tuple):  # a list parameter: every element claims
                for n, element in enumerate(value, 1):
                    self._claim_one(key, f"{name}[{n}]", resource, element, params)
            else:
                self._claim_one(key, name, resource, value, params)

    def _claim_one(
        self, key: str, name: str, resource: str, value: Any, params: Mapping[str, Any]
    ) -> None:
        claim: tuple[Any, ...]
        if resource == "gpio":
            if not isinstance(value, int) or value < 0:
                return  # -1: not wired, claims nothing
            claim, label = ("gpio", value), f"GPIO {value}"
        elif resource == "bus_address":
            bus = params.get("bus")
            if not isinstance(bus, str) or bus not in self._buses:
                return
            kind = self._buses[bus]
            shown = f"0x{value:02x}" if kind == "i2c" and isinstance(value, int) else value
            label = f"{_ADDRESS_LABELS.get(kind, 'address')} {shown} on bus {bus!r}"
            claim = ("bus_address", bus, value)
        elif resource == "adc_address":
            bus = params.get("bus")
            if not isinstance(bus, str) or bus not in self._buses:
                return
            claim = ("bus_address", bus, value)
            label = f"I2C address 0x{value:02x} on bus {bus!r}"
            if claim in self._shared:
                return  # another input of the same ADS1115
            if claim in self._claims:
                self._problems.add(join(key, name), f"{label} already used by "
                                   f"{self._claims[claim]}, which is not an ADS1115")
                return
            self._shared.add(claim)
        elif resource == "adc_channel":
            bus, address = params.get("bus"), params.get("address")
            if (not isinstance(value, int) or value < 0 or not isinstance(bus, str)
                    or bus not in self._buses or not isinstance(address, int)):
                return  # -1: no input; a missing bus or address is reported already
            claim = ("adc_channel", bus, address, value)
            label = f"ADS1115 input AIN{value} at 0x{address:02x} on bus {bus!r}"
        elif resource == "port":
            # tty:AMA0:pn532 (nfcpy) and /dev/ttyAMA0 are the same UART.
            claim, label = ("port", normalise_port(str(value))), f"serial port {value!r}"
        else:
            claim, label = (resource, value), f"{resource.replace('_', ' ')} {value!r}"
        self._claim(claim, label, join(key, name))

    def claim(self, claim: tuple[Any, ...], label: str, key: str) -> None:
        """Claim a resource found outside a driver's ``PARAMS`` (e.g. an I2C bus number);
        a second claim of the same resource is a problem at ``key``."""
        self._claim(claim, label, key)

    def _claim(self, claim: tuple[Any, ...], label: str, key: str) -> None:
        other = self._claims.setdefault(claim, key)
        if other != key:
            self._problems.add(key, f"{label} already used by {other}")


def _optional_bus_left_out(declared: Mapping[str, Param], params: Mapping[str, Any]) -> bool:
    """A driver whose ``bus`` defaults to "" uses the bus only if one is named (e.g. an
    optional ADC reading); left at "" it references no bus and claims no address."""
    bus = declared.get("bus")
    return bus is not None and bus.default == "" and params.get("bus") == ""

"""One exception root per layer: FirmwareError for ``firmware``, DriverError for ``drivers``.

The walk imports every module of both packages and looks at each exception class defined
there, so a new class that forgets its root fails here, not in a caller's ``except``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import drivers
import firmware
from drivers.errors import DriverError
from drivers.modem import AtError
from drivers.registry import UnknownDriver
from firmware.config.model import ConfigError
from firmware.errors import FirmwareError
from firmware.ocpp.key_specs import InvalidValue
from firmware.ocpp.rpc import CallFailed, InvalidMessage, RpcClosed
from firmware.safety.fault_catalogue import CatalogueError
from firmware.safety.gate import InterlockOpen

# Exception classes of ``drivers`` that are deliberately not device errors, with the reason.
NOT_DRIVER_ERRORS = {
    UnknownDriver: "a wrong driver name in a station file: the loader makes it a ConfigError",
}


def _modules(package: ModuleType) -> list[ModuleType]:
    return [package] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    ]


def _exceptions_defined_in(package: ModuleType) -> set[type[BaseException]]:
    return {
        obj
        for module in _modules(package)
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
    }


def test_every_exception_of_the_firmware_is_a_firmware_error() -> None:
    found = _exceptions_defined_in(firmware)
    # The walk reaches the known ones (it would pass vacuously if it found nothing).
    assert {ConfigError, InterlockOpen, CatalogueError, RpcClosed, CallFailed,
            InvalidMessage, InvalidValue} <= found
    forgotten = sorted(f"{c.__module__}.{c.__qualname__}"
                       for c in found if not issubclass(c, FirmwareError))
    assert forgotten == []


def test_every_exception_of_the_drivers_is_a_driver_error_or_says_why_not() -> None:
    found = _exceptions_defined_in(drivers)
    assert {AtError, UnknownDriver} <= found
    forgotten = sorted(f"{c.__module__}.{c.__qualname__}" for c in found
                       if not issubclass(c, DriverError) and c not in NOT_DRIVER_ERRORS)
    assert forgotten == []
    # The exempt ones really are outside, and the firmware's root stays out of drivers.
    assert not any(issubclass(c, DriverError) for c in NOT_DRIVER_ERRORS)
    assert not any(issubclass(c, FirmwareError) for c in found)


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (CatalogueError("catalogue.toml", [("file", "broken")]), ValueError),
        (InvalidValue("HeartbeatInterval: 'x' is not an integer"), ValueError),
        (RpcClosed("Heartbeat"), ConnectionError),
        (UnknownDriver("meter", "sdm360", ["sdm630"]), LookupError),
    ],
)
def test_the_builtin_bases_callers_catch_are_kept(error: Exception,
                                                  builtin: type[Exception]) -> None:
    with pytest.raises(builtin):
        raise error


def test_firmware_error_is_not_a_catch_all() -> None:
    assert not issubclass(DriverError, FirmwareError)
    assert not issubclass(TypeError, FirmwareError)
    assert issubclass(FirmwareError, Exception)

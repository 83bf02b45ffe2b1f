"""Every class the driver registry hands out follows the HAL lifecycle contract
(``drivers.interfaces.Device``): the station starts and releases each device through it
and no longer looks for the methods, so a driver that strays from it must fail here."""

from __future__ import annotations

import inspect

import pytest

from drivers.params import Param
from drivers.registry import DRIVERS, driver_class

REGISTERED = sorted((role, name) for role, names in DRIVERS.items() for name in names)


def _is_async(cls: type, method: str) -> bool:
    return inspect.iscoroutinefunction(getattr(cls, method, None))


def test_the_registry_is_not_empty() -> None:
    roles = {role for role, _ in REGISTERED}
    assert {"bus.i2c", "bus.modbus", "bus.can", "pilot", "contactor", "rcd",
            "token_reader", "power_modules"} <= roles


@pytest.mark.parametrize(("role", "name"), REGISTERED)
def test_registered_driver_follows_the_lifecycle_contract(role: str, name: str) -> None:
    cls = driver_class(role, name)
    assert _is_async(cls, "start"), f"{cls.__name__}.start must be async"
    assert _is_async(cls, "release"), f"{cls.__name__}.release must be async"
    params = cls.PARAMS
    assert isinstance(params, dict)
    assert all(isinstance(key, str) and isinstance(p, Param) for key, p in params.items())
    # One lifecycle end: release(). Only a contactor has a close(), and it closes the
    # contacts (a synchronous command, never the lifecycle end).
    if role == "contactor":
        assert not _is_async(cls, "close")
    else:
        assert not hasattr(cls, "close"), f"{cls.__name__} has close(): use release()"


@pytest.mark.parametrize("name", sorted(DRIVERS["token_reader"]))
def test_token_readers_are_supervised_devices(name: str) -> None:
    assert _is_async(driver_class("token_reader", name), "run")


@pytest.mark.parametrize("name", sorted(DRIVERS["rcd"]))
def test_rcds_declare_their_dc_capability(name: str) -> None:
    """Every RCD driver answers the capability question (what it answers: the RCD and
    RDC-DD contract tests)."""
    assert callable(getattr(driver_class("rcd", name), "dc_monitor", None))

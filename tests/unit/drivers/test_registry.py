"""The driver registry: the board's drivers in one table, the others registered by their
packages through the ``evse.drivers`` entry points (the simulator's DC devices)."""

from __future__ import annotations

import logging
from importlib.metadata import EntryPoint

import pytest

from drivers.registry import (
    CONNECTOR_ROLES,
    DRIVERS,
    ENTRY_POINT_GROUP,
    STATION_ROLES,
    DriverRegistry,
    DriverTable,
    UnknownDriver,
    all_drivers,
    driver_class,
    extensions_from,
    installed_extensions,
)
from hal_sim.dc_devices import SimDcMeter, SimEvComm, SimImd, SimPowerStack


def test_the_board_table_names_only_board_drivers() -> None:
    paths = [path for names in DRIVERS.values() for path in names.values()]
    assert paths
    assert [p for p in paths if not p.startswith("drivers.")] == []
    roles = {role for role in DRIVERS if not role.startswith("bus.")}
    assert roles == {*CONNECTOR_ROLES, *STATION_ROLES}


def test_the_simulator_registers_its_dc_devices() -> None:
    assert installed_extensions() == {
        "meter": {"sim_dc": "hal_sim.dc_devices:SimDcMeter"},
        "power_stack": {"sim": "hal_sim.dc_devices:SimPowerStack"},
        "imd": {"sim": "hal_sim.dc_devices:SimImd"},
        "ev_comm": {"sim": "hal_sim.dc_devices:SimEvComm"},
    }
    assert driver_class("meter", "sim_dc") is SimDcMeter
    assert driver_class("power_stack", "sim") is SimPowerStack
    assert driver_class("imd", "sim") is SimImd
    assert driver_class("ev_comm", "sim") is SimEvComm
    assert all_drivers()["imd"] == {
        "bender_isocha425": "drivers.imd_bender:BenderIsoCha425",
        "sim": "hal_sim.dc_devices:SimImd",
    }


def test_an_unknown_driver_lists_the_built_in_and_the_registered_names() -> None:
    with pytest.raises(UnknownDriver) as err:
        driver_class("imd", "bender_isocha999")
    assert str(err.value) == (
        "unknown driver 'bender_isocha999' for imd (known: bender_isocha425, sim)"
    )
    with pytest.raises(UnknownDriver, match=r"for ev_comm \(known: sim\)$"):
        driver_class("ev_comm", "iso15118")
    with pytest.raises(UnknownDriver, match=r"for teleporter \(known: none\)$"):
        driver_class("teleporter", "x")


def test_entry_point_names_are_role_dot_name(caplog: pytest.LogCaptureFixture) -> None:
    points = [
        EntryPoint("bus.can.loopback", "vendor.can:Loopback", ENTRY_POINT_GROUP),
        EntryPoint("meter.em24", "vendor.meters:Em24", ENTRY_POINT_GROUP),
        EntryPoint("meter.em340", "vendor.meters:Em340", ENTRY_POINT_GROUP),
        EntryPoint("nodot", "vendor.x:X", ENTRY_POINT_GROUP),
        EntryPoint("meter.", "vendor.x:Y", ENTRY_POINT_GROUP),
    ]
    with caplog.at_level(logging.WARNING, logger="drivers.registry"):
        table = extensions_from(points)
    assert table == {
        "bus.can": {"loopback": "vendor.can:Loopback"},
        "meter": {"em24": "vendor.meters:Em24", "em340": "vendor.meters:Em340"},
    }
    assert "entry point nodot = vendor.x:X in evse.drivers: expected ROLE.NAME" in caplog.text
    assert "entry point meter. = vendor.x:Y" in caplog.text


class _Extensions:
    """The registered drivers of a made-up installation, counting how often they are read."""

    def __init__(self, table: DriverTable) -> None:
        self.table = table
        self.reads = 0

    def __call__(self) -> DriverTable:
        self.reads += 1
        return self.table


BUILTIN: DriverTable = {"meter": {"sdm630": "drivers.sdm630:Sdm630Meter"}}


def test_registered_drivers_are_read_once_and_only_for_a_name_not_built_in() -> None:
    extensions = _Extensions({"meter": {"em24": "vendor.meters:Em24"}})
    registry = DriverRegistry(BUILTIN, extensions)
    assert registry.path("meter", "sdm630") == "drivers.sdm630:Sdm630Meter"
    assert extensions.reads == 0  # a board station never scans the installation
    assert registry.path("meter", "em24") == "vendor.meters:Em24"
    assert registry.path("meter", "em24") == "vendor.meters:Em24"
    with pytest.raises(UnknownDriver, match=r"\(known: em24, sdm630\)$"):
        registry.path("meter", "em25")
    assert extensions.reads == 1


def test_a_built_in_name_wins_over_a_registered_one() -> None:
    registry = DriverRegistry(
        BUILTIN, _Extensions({"meter": {"sdm630": "vendor.meters:Fake", "em24": "v.m:Em24"}})
    )
    assert registry.path("meter", "sdm630") == "drivers.sdm630:Sdm630Meter"
    assert registry.table() == {
        "meter": {"sdm630": "drivers.sdm630:Sdm630Meter", "em24": "v.m:Em24"}
    }
    assert registry.known("meter") == ["em24", "sdm630"]

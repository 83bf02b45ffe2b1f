"""Contract tests of the HD44780 display driver (PCF8574 backpack) and the log display."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from drivers.context import DriverContext
from drivers.display import LogDisplay, fold, layout
from drivers.errors import DeviceSilent
from drivers.wiring import BoardWiring

if TYPE_CHECKING:
    from tests.support.station_fixtures import DisplayRig

pytest_plugins = ("tests.support.station_fixtures",)


def test_layout_wraps_and_pads() -> None:
    text = "Supply voltage is too low, cannot charge. Call your installer."
    rows = layout(text, 20, 2)
    assert rows == ["Supply voltage is   ", "too low, cannot     "]
    assert layout("", 16, 2) == [" " * 16] * 2
    assert fold("Inwendige temperatuur: geïnstalleerd €") == (
        "Inwendige temperatuur: geinstalleerd ?"
    )


async def test_messages_per_connector(display_rig: DisplayRig) -> None:
    rig = display_rig
    await rig.display.show(1, "Available. Present your card.")
    await rig.display.show(2, "Charging.")
    assert rig.display.text(1) == "Available. Present your card."
    if "see" in rig.capabilities:
        assert [line.rstrip() for line in rig.lines()] == [
            "Available. Present", "your card.", "Charging.", "",
        ]


async def test_station_message_takes_the_screen(display_rig: DisplayRig) -> None:
    rig = display_rig
    rig.require("see")
    await rig.display.show(1, "Charging.")
    await rig.display.show(0, "Out of service: service door open.")
    assert [line.rstrip() for line in rig.lines()] == [
        "Out of service:", "service door open.", "", "",
    ]
    await rig.display.show(0, "")
    assert rig.lines()[0].rstrip() == "Charging."


async def test_silent_lcd_is_rewritten_when_back(display_rig: DisplayRig) -> None:
    rig = display_rig
    rig.require("silence")
    await rig.display.show(1, "Charging.")
    rig.silence(True)
    with pytest.raises(DeviceSilent):
        await rig.display.show(1, "Charging finished. Unplug the cable.")
    rig.silence(False)
    await rig.display.show(2, "Available.")  # the LCD is set up again, every row rewritten
    assert [line.rstrip() for line in rig.lines()] == [
        "Charging finished.", "Unplug the cable.", "Available.", "",
    ]


async def test_log_display_keeps_the_texts() -> None:
    display = LogDisplay({}, DriverContext(BoardWiring(), 0, "devices.display"))
    await display.start()
    await display.show(1, "Charging.")
    assert display.text(1) == "Charging."
    assert display.text(2) == ""

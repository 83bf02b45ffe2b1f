"""Contract tests of the door contacts (GpioDoors) and the stop button (GpioStopButton)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.interfaces import DigitalInput

if TYPE_CHECKING:
    from tests.support.station_fixtures import DoorsRig, StopButtonRig

pytest_plugins = ("tests.support.station_fixtures",)


async def test_doors_start_closed(doors_rig: DoorsRig) -> None:
    assert doors_rig.doors.open is False
    assert doors_rig.doors.open_doors == ()


async def test_any_open_door_is_open_and_all_closed_is_closed(doors_rig: DoorsRig) -> None:
    rig = doors_rig
    rig.require("open_door")
    seen: list[bool] = []
    rig.doors.subscribe(seen.append)
    rig.open_door(rig.count, True)
    await rig.eventually(lambda: seen == [True])
    assert rig.doors.open_doors == (rig.count,)
    if rig.count > 1:
        rig.open_door(1, True)  # a second door: still "open", no new report
        await rig.eventually(lambda: rig.doors.open_doors == (1, rig.count))
        rig.open_door(rig.count, False)
        await rig.eventually(lambda: rig.doors.open_doors == (1,))
        assert seen == [True]
        rig.open_door(1, False)
    else:
        rig.open_door(1, False)
    await rig.eventually(lambda: seen == [True, False])
    assert rig.doors.open is False


async def test_broken_wire_reads_open(doors_rig: DoorsRig) -> None:
    rig = doors_rig
    rig.require("break_wire")
    seen: list[bool] = []
    rig.doors.subscribe(seen.append)
    rig.break_wire(1)
    await rig.eventually(lambda: seen == [True])
    assert rig.doors.open_doors == (1,)
    rig.break_wire(1, broken=False)
    await rig.eventually(lambda: seen == [True, False])


async def test_a_wire_stuck_at_closed_hides_the_door(doors_rig: DoorsRig) -> None:
    """The limit of one contact per door: a wire shorted to the closed level reads closed
    whatever the door does (docs/hil.md: use a second contact where that matters)."""
    rig = doors_rig
    rig.require("short_wire")
    rig.short_wire(1)
    rig.open_door(1, True)
    assert rig.doors.open is False
    rig.short_wire(1, shorted=False)
    await rig.eventually(lambda: rig.doors.open is True)


async def test_stop_button_press_and_release(stop_button_rig: StopButtonRig) -> None:
    rig = stop_button_rig
    assert rig.button.pressed is False
    assert isinstance(rig.button, DigitalInput)
    rig.require("press")
    seen: list[bool] = []
    rig.button.subscribe(seen.append)
    rig.press(True)
    await rig.eventually(lambda: seen == [True])
    assert rig.button.pressed is True
    assert rig.button.active is True
    rig.press(False)
    await rig.eventually(lambda: seen == [True, False])


async def test_stop_button_broken_wire_reads_pressed(stop_button_rig: StopButtonRig) -> None:
    rig = stop_button_rig
    rig.require("break_wire")
    rig.break_wire()
    await rig.eventually(lambda: rig.button.pressed is True)

"""Contract tests of the PCA9685 LED ring driver, and the holder colours."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceSilent
from drivers.leds import (
    DEFAULT_HOLDER_COLORS,
    channel_bytes,
    parse_holder_colors,
    prescale_for,
)

if TYPE_CHECKING:
    from tests.support.station_fixtures import LedRig

pytest_plugins = ("tests.support.station_fixtures",)


def test_default_holder_colours_are_the_dc_manuals() -> None:
    colors = parse_holder_colors(DEFAULT_HOLDER_COLORS)
    assert colors.for_status("Available") == (0, 255, 0)
    assert colors.for_status("Charging") == (0, 0, 255)
    assert colors.for_status("SuspendedEV") == (0, 0, 255)
    assert colors.for_status("Finishing") == (255, 255, 255)
    assert colors.for_status("Faulted") == (255, 0, 0)
    assert colors.for_status("Unavailable") == (0, 0, 0)  # empty entry: off
    assert colors.to_csl() == "000000,00FF00,0000FF,FFFFFF,FF0000"


def test_holder_colours_accept_hash_and_lower_case() -> None:
    colors = parse_holder_colors("#101010, 00ff00,0000ff,ffffff,#ff8000")
    assert colors.for_status("Unavailable") == (16, 16, 16)
    assert colors.for_status("Faulted") == (255, 128, 0)


@pytest.mark.parametrize(
    "csl", ["", "00FF00,0000FF", "GG0000,00FF00,0000FF,FFFFFF,FF0000", "1,2,3,4,5,6"]
)
def test_bad_holder_colours_are_refused(csl: str) -> None:
    with pytest.raises(ValueError):
        parse_holder_colors(csl)


def test_pwm_encoding() -> None:
    assert channel_bytes(0) == [0, 0, 0, 0x10]  # full off
    assert channel_bytes(255) == [0, 0x10, 0, 0]  # full on
    assert channel_bytes(128) == [0, 0, 0x08, 0x08]  # OFF at 2056 of 4096
    assert prescale_for(1000.0) == 5  # 25 MHz / (4096 x 6) = 1017 Hz


async def test_ring_starts_off(led_rig: LedRig) -> None:
    assert led_rig.ring.color == (0, 0, 0)
    if "see" in led_rig.capabilities:
        assert led_rig.shown() == (0, 0, 0)
        assert led_rig.view.chip.prescale == 5  # the chip was set up (1 kHz)


async def test_colours_are_shown(led_rig: LedRig) -> None:
    for rgb in ((0, 255, 0), (0, 0, 255), (255, 255, 255), (255, 0, 0), (255, 128, 0)):
        await led_rig.ring.set_color(rgb)
        assert led_rig.ring.color == rgb
        if "see" in led_rig.capabilities:
            assert led_rig.shown() == rgb


async def test_silent_driver_chip(led_rig: LedRig) -> None:
    rig = led_rig
    rig.require("silence")
    rig.silence(True)
    with pytest.raises(DeviceSilent):
        await rig.ring.set_color((255, 0, 0))
    rig.silence(False)
    await rig.ring.set_color((255, 0, 0))
    assert rig.shown() == (255, 0, 0)

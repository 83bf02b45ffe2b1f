"""Contract tests of the control pilot driver (Ads1115Pilot) on a pilot rig."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from drivers.ads1115 import code_to_volts, single_shot_config, swap16
from drivers.errors import DeviceSilent
from drivers.interfaces import PilotSample
from hal_sim.fake_smbus import Ads1115Model, FakeSMBus

if TYPE_CHECKING:
    from tests.support.sim_fixtures import PilotRig

pytest_plugins = ("tests.support.sim_fixtures",)



class Sampling:
    """The pilot's run() in a task, collecting samples."""

    def __init__(self, rig: PilotRig) -> None:
        self.rig = rig
        self.samples: list[PilotSample] = []
        self.task: asyncio.Task[None] | None = None

    async def fresh(self) -> PilotSample:
        """A sample taken wholly after the caller's last change on the wire."""
        seen = len(self.samples)
        await self.rig.eventually(lambda: len(self.samples) >= seen + 2)
        return self.samples[-1]


@pytest.fixture
async def sampling(pilot_rig: PilotRig) -> AsyncIterator[Sampling]:
    s = Sampling(pilot_rig)
    s.task = asyncio.create_task(pilot_rig.pilot.run(s.samples.append))
    try:
        yield s
    finally:
        s.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await s.task


@pytest.mark.parametrize(
    ("state", "high", "low"),
    [("A", 12.0, 12.0), ("B", 9.0, -12.0), ("C", 6.0, -12.0), ("D", 3.0, -12.0),
     ("E", 0.0, 0.0), ("F", -12.0, -12.0)],
)
async def test_samples_follow_the_pilot_levels(
    pilot_rig: PilotRig, sampling: Sampling, state: str, high: float, low: float
) -> None:
    pilot_rig.require("set_levels")
    pilot_rig.set_levels(high, low, 220.0)
    sample = await sampling.fresh()
    tol = pilot_rig.level_tolerance_v
    assert sample.cp_high_v == pytest.approx(high, abs=tol), state
    assert sample.cp_low_v == pytest.approx(low, abs=tol), state


@pytest.mark.parametrize("ohm", [1500.0, 680.0, 220.0, 100.0])
async def test_pp_resistance_is_measured(
    pilot_rig: PilotRig, sampling: Sampling, ohm: float
) -> None:
    pilot_rig.require("set_levels")
    if not pilot_rig.has_pp:
        pytest.skip("rig without PP")
    pilot_rig.set_levels(9.0, -12.0, ohm)
    sample = await sampling.fresh()
    assert sample.pp_ohm == pytest.approx(ohm, rel=pilot_rig.pp_tolerance)


async def test_open_pp_reads_infinite(pilot_rig: PilotRig, sampling: Sampling) -> None:
    pilot_rig.require("set_levels")
    pilot_rig.set_levels(12.0, 12.0, None)
    sample = await sampling.fresh()
    if not pilot_rig.has_pp:
        pytest.skip("rig without PP")
    assert sample.pp_ohm is not None and math.isinf(sample.pp_ohm)


async def test_out_of_window_levels_are_reported_as_measured(
    pilot_rig: PilotRig, sampling: Sampling
) -> None:
    # The driver does not judge: > 13 V (a fault for the pilot state machine) and a
    # shorted pilot (0 V) come through as they are.
    pilot_rig.require("set_levels")
    pilot_rig.set_levels(15.0, -14.0, 30.0)
    sample = await sampling.fresh()
    assert sample.cp_high_v == pytest.approx(15.0, abs=0.05)
    assert sample.cp_low_v == pytest.approx(-14.0, abs=0.05)
    assert sample.pp_ohm == pytest.approx(30.0, rel=0.02)


async def test_sample_time_comes_from_the_injected_clock(
    pilot_rig: PilotRig, sampling: Sampling
) -> None:
    pilot_rig.clock.advance(42.0)
    sample = await sampling.fresh()
    assert sample.t == pilot_rig.clock.monotonic()


async def test_duty_shows_on_the_pwm_pin(pilot_rig: PilotRig) -> None:
    pilot_rig.require("read_pwm")
    assert pilot_rig.pilot.duty == 100.0
    assert pilot_rig.pwm_duty() == pytest.approx(100.0)  # +12 V from start()
    for duty in (53.3, 10.0, 0.0, 100.0, 5.0):
        pilot_rig.pilot.set_duty(duty)
        assert pilot_rig.pilot.duty == duty
        assert pilot_rig.pwm_duty() == pytest.approx(duty)


async def test_duty_is_clamped_to_0_100(pilot_rig: PilotRig) -> None:
    pilot_rig.pilot.set_duty(130.0)
    assert pilot_rig.pilot.duty == 100.0
    pilot_rig.pilot.set_duty(-5.0)
    assert pilot_rig.pilot.duty == 0.0


async def test_silent_adc_ends_run_with_device_silent(pilot_rig: PilotRig) -> None:
    pilot_rig.require("adc_silent")
    samples: list[PilotSample] = []
    task = asyncio.create_task(pilot_rig.pilot.run(samples.append))
    await pilot_rig.eventually(lambda: len(samples) > 0)
    pilot_rig.adc_silent(True)
    with pytest.raises(DeviceSilent):
        await asyncio.wait_for(task, timeout=5.0)


async def test_run_stops_when_cancelled(pilot_rig: PilotRig) -> None:
    samples: list[PilotSample] = []
    task = asyncio.create_task(pilot_rig.pilot.run(samples.append))
    await pilot_rig.eventually(lambda: len(samples) > 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(samples)
    await asyncio.sleep(0.02)  # several sample periods
    assert len(samples) == count


# ------------------------------------------------------------------ the chip functions


def test_ads1115_words_are_byte_swapped_on_the_smbus() -> None:
    # The config word for AIN2, ±4.096 V, single shot, 860 SPS, comparator off.
    assert single_shot_config(2) == 0xE3E3
    assert swap16(0x1234) == 0x3412
    assert code_to_volts(0x7FFF) == pytest.approx(4.096, abs=1e-3)
    assert code_to_volts(0x8000) == pytest.approx(-4.096)


def test_fake_ads1115_clips_to_the_full_scale_range() -> None:
    bus = FakeSMBus()
    adc = Ads1115Model()
    bus.add_device(0x48, adc)
    adc.set_channel(0, 5.0)
    bus.write_word_data(0x48, 1, swap16(single_shot_config(0)))
    assert code_to_volts(swap16(bus.read_word_data(0x48, 0))) == pytest.approx(4.096, abs=1e-3)
    with pytest.raises(OSError):
        bus.read_word_data(0x49, 0)

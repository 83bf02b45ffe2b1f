"""The clocks' ``sleep``: the system clock sleeps in real time, the manual clock only as
far as a test moves it."""

from __future__ import annotations

import asyncio
import time

import pytest

from firmware.clock import Clock, ManualClock, SystemClock


async def settle() -> None:
    """Let every task that can run, run (woken sleepers resume on the next rounds)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_manual_sleep_waits_for_advance_not_for_real_time() -> None:
    clock = ManualClock()
    task = asyncio.create_task(clock.sleep(10.0))
    await asyncio.sleep(0.05)  # real time passes: nothing happens
    assert not task.done() and clock.sleepers == 1
    clock.advance(9.9)
    await settle()
    assert not task.done()
    clock.advance(0.1)
    await settle()
    assert task.done() and task.exception() is None and clock.sleepers == 0


async def test_manual_sleep_wakes_in_deadline_order_and_sees_the_new_time() -> None:
    clock = ManualClock(start=0.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3.0), ("a", 1.0),
                                                              ("b", 2.0), ("late", 9.0))]
    await settle()
    clock.advance(5.0)
    await settle()
    assert woke == [("a", 5.0), ("b", 5.0), ("c", 5.0)]  # one advance passes all three
    assert not tasks[3].done()
    clock.advance(4.0)
    await settle()
    assert woke[-1] == ("late", 9.0)


async def test_manual_sleep_adds_up_small_steps_despite_float_rounding() -> None:
    clock = ManualClock(start=1000.0)
    task = asyncio.create_task(clock.sleep(0.3))
    await settle()
    for _ in range(3):  # 1000.0 + 0.1 + 0.1 + 0.1 < 1000.0 + 0.3 in floating point
        clock.advance(0.1)
    await settle()
    assert task.done()


async def test_a_periodic_loop_runs_once_per_advance() -> None:
    clock = ManualClock(start=0.0)
    rounds: list[float] = []

    async def loop() -> None:
        while True:
            await clock.sleep(0.2)
            rounds.append(clock.monotonic())

    task = asyncio.create_task(loop())
    await settle()
    clock.advance(10.0)  # one jump: the loop sleeps again from the new time
    await settle()
    assert rounds == [10.0]
    for _ in range(3):
        clock.advance(0.2)
        await settle()
    assert rounds == pytest.approx([10.0, 10.2, 10.4, 10.6])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancelled_sleep_is_forgotten() -> None:
    clock = ManualClock()
    task = asyncio.create_task(clock.sleep(5.0))
    await settle()
    assert clock.sleepers == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0
    clock.advance(10.0)  # waking nobody is fine


async def test_a_sleep_cancelled_after_its_wake_is_cancelled() -> None:
    clock = ManualClock()
    task = asyncio.create_task(clock.sleep(1.0))
    await settle()
    clock.advance(1.0)
    task.cancel()  # before the task ran again: cancellation wins, nothing is left over
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.sleepers == 0


async def test_sleep_zero_yields_once() -> None:
    clock = ManualClock()
    order: list[str] = []
    asyncio.get_running_loop().call_soon(lambda: order.append("soon"))
    await clock.sleep(0)  # no advance needed, and what was ready ran first
    await clock.sleep(-1.0)
    order.append("after")
    assert order == ["soon", "after"]
    assert clock.sleepers == 0


async def test_manual_time_moves_monotonic_and_wall_clock_together() -> None:
    clock = ManualClock(start=50.0)
    before = clock.now()
    clock.advance(90.0)
    assert clock.monotonic() == 140.0
    assert (clock.now() - before).total_seconds() == 90.0
    with pytest.raises(ValueError):
        clock.advance(-1.0)


async def test_system_clock_sleeps_in_real_time() -> None:
    clock: Clock = SystemClock()
    start = time.monotonic()
    t0 = clock.monotonic()
    await clock.sleep(0.05)
    assert time.monotonic() - start >= 0.045
    assert clock.monotonic() - t0 >= 0.045


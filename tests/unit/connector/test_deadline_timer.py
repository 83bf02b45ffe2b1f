"""The connector's deadline timer on a manual clock: it sleeps until the next deadline,
re-reads it when woken, and never acts on real time."""

from __future__ import annotations

import asyncio

from firmware.clock import ManualClock
from firmware.connector.deadline_timer import DeadlineTimer


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_deadlines_on_clock_time_and_a_wake_up_rereads_them() -> None:
    clock = ManualClock(start=0.0)
    timer = DeadlineTimer(clock)
    deadlines = [120.0]
    seen: list[float] = []
    task = asyncio.create_task(
        timer.run(lambda: deadlines[0] if deadlines else None, seen.append))
    try:
        await settle()
        await asyncio.sleep(0.05)  # real time: nothing
        assert seen == []
        clock.advance(119.0)
        await settle()
        assert seen == []
        deadlines[0] = 121.0  # something moved the deadline: wake the loop to re-read it
        timer.wake()
        await settle()
        assert seen == [119.0]
        clock.advance(1.0)  # 120: the old deadline means nothing any more
        await settle()
        assert seen == [119.0]
        clock.advance(1.0)
        await settle()
        assert seen == [119.0, 121.0]
        deadlines.clear()  # no deadline: only a wake-up runs it
        timer.wake()
        await settle()
        clock.advance(1000.0)
        await settle()
        assert seen == [119.0, 121.0, 121.0]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

"""A loop that sleeps on the connector's clock until the next deadline or a wake-up.

The session state machines have deadlines (ConnectionTimeOut, the pilot's fault hold,
DC phase timeouts) and answer ``poll(now)`` when one passes; what they do in between
(an action executed) may move the next deadline, so the loop is woken to re-read it.
Sleeping on the :class:`~firmware.clock.Clock` lets a test on a ``ManualClock`` run a
two-minute timeout in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from firmware.clock import Clock


class DeadlineTimer:
    """``await run(next_deadline, on_time)``: ``on_time(now)`` after every wake-up and
    every deadline reached; :meth:`wake` makes it re-read ``next_deadline()`` at once."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(
        self, next_deadline: Callable[[], float | None], on_time: Callable[[float], None]
    ) -> None:
        """Until cancelled."""
        while True:
            await self._woken_or_due(next_deadline())
            self._wake.clear()
            on_time(self._clock.monotonic())

    async def _woken_or_due(self, deadline: float | None) -> None:
        if self._wake.is_set():
            return
        if deadline is None:
            await self._wake.wait()
            return
        woken = asyncio.ensure_future(self._wake.wait())
        due = asyncio.ensure_future(self._sleep_until(deadline))
        try:
            await asyncio.wait((woken, due), return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            due.cancel()

    async def _sleep_until(self, deadline: float) -> None:
        # The time left is read when this task first runs, in the same step as the sleep
        # starts: time the clock moved in between is not slept again.
        await self._clock.sleep(deadline - self._clock.monotonic())

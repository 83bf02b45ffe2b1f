"""Injected time.

State machines and timers take a :class:`Clock` so that a test of a two-minute timeout
runs in milliseconds on a :class:`ManualClock`. ``monotonic()`` is for durations,
``now()`` for timestamps that leave the station (OCPP, logs), ``sleep()`` for the periodic
loops, so they too run on the clock they are given.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC."""

    def set_time(self, current: datetime) -> None:
        """Adopt the central system's time (BootNotification / Heartbeat answers): ``now()``
        follows it from here on; ``monotonic()`` does not jump."""

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock's ``monotonic()``."""


class SystemClock:
    """The real clock. ``set_offset`` applies time taken from the central system."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def set_time(self, current: datetime) -> None:
        """Adopt the central system's time (BootNotification / Heartbeat answers)."""
        self._offset = current - datetime.now(UTC)


# Time moved by advance() wakes a sleeper this close to its deadline: 0.1 + 0.1 added to
# the clock must end a sleep(0.2) started at the same time, whatever the float rounding.
_SLEEP_TOLERANCE_S = 1e-9


class ManualClock:
    """A clock tests move by hand.

    ``sleep(s)`` returns only once :meth:`advance` has moved ``monotonic()`` to ``s`` past
    the time the sleep started (never on its own, however long the test waits in real
    time); one ``advance`` wakes every sleeper it passes, in deadline order, each seeing
    the new time. A sleeper that re-sleeps from there sleeps from the new time: a loop
    with a 0.2 s period runs once per ``advance(10)``, not fifty times. ``sleep(0)`` (or
    less) yields to the event loop once, like ``asyncio.sleep(0)``. Sleep and advance on
    the event loop's thread only.
    """

    def __init__(self, start: float = 1000.0, wall: datetime | None = None) -> None:
        self._t = start
        self._wall = wall or datetime(2026, 1, 1, tzinfo=UTC)
        self._t0 = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self._wall + timedelta(seconds=self._t - self._t0)

    def advance(self, seconds: float) -> None:
        """Move time forward and wake the sleepers whose deadline it reached. They run
        when the caller next yields to the event loop (``await asyncio.sleep(0)``)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._t += seconds
        reached = self._t + _SLEEP_TOLERANCE_S
        due = sorted((s for s in self._sleepers if s[0] <= reached), key=lambda s: s[0])
        if not due:
            return
        self._sleepers = [s for s in self._sleepers if s[0] > reached]
        for _deadline, waiter in due:
            if not waiter.done():  # its sleeper may have been cancelled meanwhile
                waiter.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many tasks sleep on this clock now (a test waits for its loops with it)."""
        return len(self._sleepers)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._t + seconds, waiter))
        try:
            await waiter
        finally:
            if not waiter.done() or waiter.cancelled():
                # Cancelled before its time: forget it now, so that a loop woken by
                # events (the connector's timer loop) leaves nothing behind.
                self._sleepers = [s for s in self._sleepers if s[1] is not waiter]

    def set_time(self, current: datetime) -> None:
        self._wall = current - timedelta(seconds=self._t - self._t0)

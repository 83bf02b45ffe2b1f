"""Injected time.

State machines and timers take a :class:`Clock` so that a test of a two-minute timeout
runs in milliseconds on a :class:`ManualClock`. ``monotonic()`` is for durations,
``now()`` for timestamps that leave the station (OCPP, logs).
"""

from __future__ import annotations

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


class SystemClock:
    """The real clock. ``set_offset`` applies time taken from the central system."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def set_time(self, current: datetime) -> None:
        """Adopt the central system's time (BootNotification / Heartbeat answers)."""
        self._offset = current - datetime.now(UTC)


class ManualClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1000.0, wall: datetime | None = None) -> None:
        self._t = start
        self._wall = wall or datetime(2026, 1, 1, tzinfo=UTC)
        self._t0 = start

    def monotonic(self) -> float:
        return self._t

    def now(self) -> datetime:
        return self._wall + timedelta(seconds=self._t - self._t0)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._t += seconds

    def set_time(self, current: datetime) -> None:
        self._wall = current - timedelta(seconds=self._t - self._t0)

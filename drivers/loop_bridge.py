"""The one way a library's thread hands work to the event loop.

Blocking libraries (smbus2 in the pilot's sampling thread, nfcpy's ``connect`` loop,
gpiozero's edge callbacks on real pins) call back from threads of their own, but every
callback the firmware gets must run on the event loop thread (see
:mod:`drivers.interfaces`). :class:`LoopBridge` captures the loop on the loop thread and
posts calls to it with ``call_soon_threadsafe``.

A thread may outlive the loop it reports to (a daemon sampling thread during interpreter
shutdown, an edge on a pin while the station stops): ``call_soon_threadsafe`` then raises
``RuntimeError``. The bridge drops such a call and answers False, so the thread can stop
quietly instead of dying with a traceback nobody asked for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVarTuple

logger = logging.getLogger(__name__)

Ts = TypeVarTuple("Ts")


class LoopBridge:
    """Posts calls from any thread to one event loop; see the module docstring."""

    def __init__(self, loop: asyncio.AbstractEventLoop, what: str = "") -> None:
        self._loop = loop
        self._what = what or "a thread"

    @classmethod
    def to_running_loop(cls, what: str = "") -> LoopBridge:
        """A bridge to the loop running in this thread (call it on the loop thread,
        before starting the thread that will post). ``what`` names the caller in the
        debug line logged for a dropped call."""
        return cls(asyncio.get_running_loop(), what)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def post(self, callback: Callable[[*Ts], object], *args: *Ts) -> bool:
        """Schedule ``callback(*args)`` on the loop; safe from any thread.

        Returns False, without raising, when the loop is closed: the call is dropped
        (nobody is left to hear it) and the caller should stop producing more."""
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed (or closing): nothing left to tell
            logger.debug("%s: call after the event loop closed, dropped", self._what)
            return False
        return True

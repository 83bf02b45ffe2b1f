"""One way to run a firmware task: supervised.

A task of the firmware that fails with an error nobody foresaw (a defect, not a device
fault its driver knows) must not end the station: the power path is made safe and the
generic fault 001 is raised, the OCPP link stays up so the operator sees it, and a Reset
from the central system starts everything again. :func:`supervised` wraps a coroutine so
that such a failure goes to a :data:`FailureHandler` (the connector's 001, or connector
0's); :class:`TaskHost` starts supervised tasks in a TaskGroup while that group runs.

Cancellation is never a failure: it passes through untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

log = logging.getLogger(__name__)

FailureHandler = Callable[[str, Exception], None]
"""Called with what failed (the task's name) and the error, after it was logged."""


async def supervised(
    coro: Coroutine[Any, Any, None],
    what: str,
    on_failure: FailureHandler,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = log,
) -> None:
    """Await ``coro``; an exception (not a cancellation) is logged with its traceback on
    ``logger`` and handed to ``on_failure`` instead of propagating into the TaskGroup."""
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        logger.exception("%s failed", what)
        on_failure(what, exc)


def start_supervised(
    tg: asyncio.TaskGroup,
    coro: Coroutine[Any, Any, None],
    what: str,
    on_failure: FailureHandler,
    *,
    name: str | None = None,
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger] = log,
) -> bool:
    """Start ``coro`` supervised in ``tg``. False (and ``coro`` closed, so nothing is left
    un-awaited) when the group no longer takes tasks: it is ending."""
    wrapped = supervised(coro, what, on_failure, logger)
    try:
        tg.create_task(wrapped, name=name or what)
    except RuntimeError:  # the TaskGroup is shutting down or finished
        wrapped.close()
        coro.close()
        logger.debug("%s not started: stopping", what)
        return False
    return True


class TaskSpawner(Protocol):
    """Starts a task of the station's own (a request the central system made, a card at
    the reader): supervised, dropped with a warning when the station is not running."""

    @property
    def running(self) -> bool:
        """Tasks are started now (the station runs)."""

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None: ...


class TaskHost:
    """Starts supervised tasks in the TaskGroup it is bound to (see the module docstring).

    The runtime binds it to its TaskGroup when the station runs and unbinds it when the
    group ends; in between, :meth:`spawn` starts tasks there, each supervised with the
    host's failure handler. Outside that window a coroutine is closed unstarted."""

    def __init__(self, on_failure: FailureHandler) -> None:
        self._on_failure = on_failure
        self._tg: asyncio.TaskGroup | None = None

    @property
    def running(self) -> bool:
        return self._tg is not None

    def bind(self, tg: asyncio.TaskGroup | None) -> None:
        """Start spawning into ``tg`` (None: stop; the group is ending)."""
        self._tg = tg

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        if self._tg is None:
            coro.close()
            log.warning("%s ignored: station not running", what)
            return
        start_supervised(self._tg, coro, what, self._on_failure)

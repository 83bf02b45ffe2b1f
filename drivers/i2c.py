"""Owner of one I2C bus: the SMBus handle and the lock that serialises transactions."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from drivers.context import DriverContext
from drivers.errors import DeviceSilent, DriverError
from drivers.interfaces import Device
from drivers.params import Param
from drivers.wiring import SMBusLike

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class I2CBus:
    """Bus owner for ``/dev/i2c-<bus>``, borrowed by the drivers on it (``ctx.buses``).

    smbus2 blocks, so chip functions take the handle as their first argument and run
    under the bus lock: :meth:`locked_call` in the calling thread (a driver's own
    sampling thread), :meth:`call` in a worker thread for code on the event loop. A
    multi-step chip transaction (write config, poll, read result) runs as one call so
    no other driver's traffic gets between its steps.
    """

    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(int, min=0, max=20, doc="the /dev/i2c-N number"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._number: int = params["bus"]
        self._lock = threading.Lock()
        self._smbus: SMBusLike | None = None

    @property
    def number(self) -> int:
        return self._number

    async def start(self) -> None:
        """Open the bus device."""
        if self._smbus is not None:
            return
        try:
            self._smbus = await asyncio.to_thread(self._ctx.wiring.open_smbus, self._number)
        except OSError as exc:
            raise DeviceSilent(f"{self._ctx.where}: cannot open /dev/i2c-{self._number}") from exc
        logger.info("I2C bus %d open", self._number)

    async def release(self) -> None:
        with self._lock:
            if self._smbus is not None:
                try:
                    self._smbus.close()
                except OSError as exc:
                    logger.warning("I2C bus %d: close failed: %s", self._number, exc)
                self._smbus = None

    def locked_call(
        self, fn: Callable[Concatenate[SMBusLike, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(smbus, *args)`` under the bus lock, in this thread (it blocks)."""
        with self._lock:
            if self._smbus is None:
                raise DriverError(f"I2C bus {self._number} is not open")
            return fn(self._smbus, *args, **kwargs)

    async def call(
        self, fn: Callable[Concatenate[SMBusLike, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(smbus, *args)`` under the bus lock in a worker thread."""
        return await asyncio.to_thread(lambda: self.locked_call(fn, *args, **kwargs))


# The registry hands driver classes out untyped: mypy checks each against its role here.
_I2_C_BUS_ROLE: type[Device] = I2CBus

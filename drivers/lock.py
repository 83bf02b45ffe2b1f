"""Cable lock motor on an H-bridge (two direction pins) with an end-position switch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from drivers import gpio
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted
from drivers.interfaces import LockFault
from drivers.params import Param, pin

logger = logging.getLogger(__name__)


class HBridgeLock:
    """:class:`drivers.interfaces.ConnectorLock` driven by pulses on an H-bridge.

    A move drives one direction pin for ``pulse_ms`` (never both pins at once), waits
    ``check_delay_ms`` and reads the feedback switch; it tries ``1 + retries`` times and
    then raises ``DeviceFaulted(LockFault.NO_FEEDBACK)``. A lock already in the wanted
    position is left alone. Moves are serialised: a second call waits for the first.
    """

    PARAMS: ClassVar[dict[str, Param]] = {
        "lock_pin": pin("H-bridge input driving towards locked"),
        "unlock_pin": pin("H-bridge input driving towards unlocked"),
        "feedback_pin": pin("end-position switch input"),
        "feedback_locked_high": Param(bool, True, doc="the switch reads high when locked"),
        "pulse_ms": Param(int, 500, min=1, max=4000, doc="motor pulse length"),
        "check_delay_ms": Param(int, 100, min=0, max=1000, doc="wait before reading feedback"),
        "retries": Param(int, 2, min=0, max=5, doc="extra attempts before a fault"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._lock_pin: int = params["lock_pin"]
        self._unlock_pin: int = params["unlock_pin"]
        self._feedback_pin: int = params["feedback_pin"]
        self._feedback_locked_high: bool = params.get("feedback_locked_high", True)
        self._pulse_s: float = params.get("pulse_ms", 500) / 1000.0
        self._check_s: float = params.get("check_delay_ms", 100) / 1000.0
        self._retries: int = params.get("retries", 2)
        self._lock_out: Any = None
        self._unlock_out: Any = None
        self._fb: Any = None
        self._moving = asyncio.Lock()

    async def start(self) -> None:
        """Claim the pins (motor off)."""
        self._lock_out = gpio.output_device(self._ctx, self._lock_pin)
        self._unlock_out = gpio.output_device(self._ctx, self._unlock_pin)
        self._fb = gpio.input_device(
            self._ctx, self._feedback_pin, active_high=self._feedback_locked_high
        )
        logger.info(
            "connector %d: lock on GPIO%d/%d, feedback GPIO%d reads %s",
            self._cid,
            self._lock_pin,
            self._unlock_pin,
            self._feedback_pin,
            "locked" if self.locked else "unlocked",
        )

    def close(self) -> None:
        """Stop the motor and free the pins (the lock stays where it is)."""
        for device in (self._lock_out, self._unlock_out):
            if device is not None:
                device.off()
        for device in (self._lock_out, self._unlock_out, self._fb):
            gpio.close_quietly(device)
        self._lock_out = self._unlock_out = self._fb = None

    @property
    def locked(self) -> bool | None:
        """True locked, False unlocked (the switch is off), None before start."""
        if self._fb is None:
            return None
        return bool(self._fb.is_active)

    async def lock(self) -> None:
        """Drive to locked and verify; raises ``DeviceFaulted(LockFault.NO_FEEDBACK)``."""
        await self._move(True)

    async def unlock(self) -> None:
        """Drive to unlocked and verify; raises ``DeviceFaulted(LockFault.NO_FEEDBACK)``."""
        await self._move(False)

    async def _move(self, to_locked: bool) -> None:
        if self._fb is None:
            raise RuntimeError("lock used before start()")
        what = "lock" if to_locked else "unlock"
        async with self._moving:
            if self.locked == to_locked:
                return
            drive, other = (
                (self._lock_out, self._unlock_out)
                if to_locked
                else (self._unlock_out, self._lock_out)
            )
            attempts = 1 + self._retries
            for attempt in range(1, attempts + 1):
                logger.info("connector %d: %s pulse %d/%d", self._cid, what, attempt, attempts)
                other.off()  # never both H-bridge inputs at once
                drive.on()
                try:
                    await asyncio.sleep(self._pulse_s)
                finally:
                    drive.off()  # also when cancelled: a stalled motor burns out
                await asyncio.sleep(self._check_s)
                if self.locked == to_locked:
                    logger.info("connector %d: %sed", self._cid, what)
                    return
                logger.warning(
                    "connector %d: %s pulse %d/%d: feedback did not follow",
                    self._cid,
                    what,
                    attempt,
                    attempts,
                )
        raise DeviceFaulted(
            LockFault.NO_FEEDBACK, f"connector {self._cid}: {what} failed after {attempts} tries"
        )

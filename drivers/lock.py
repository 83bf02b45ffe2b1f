"""Cable lock motor on an H-bridge (two direction pins) with an end-position switch, and
optional motor-current sensing through an ADS1115 channel (a shunt and an amplifier in the
H-bridge supply)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from drivers import ads1115, gpio
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces import ConnectorLock, LockFault
from drivers.params import Param, adc_address, adc_channel, pin

logger = logging.getLogger(__name__)


class HBridgeLock:
    """:class:`drivers.interfaces.ConnectorLock` driven by pulses on an H-bridge.

    A move drives one direction pin for ``pulse_ms`` (never both pins at once), waits
    ``check_delay_ms`` and reads the feedback switch; it tries ``1 + retries`` times and
    then raises ``DeviceFaulted(LockFault.NO_FEEDBACK)``. A lock already in the wanted
    position is left alone. Moves are serialised: a second call waits for the first.

    With current sensing (``bus`` names an I2C bus) the pulse is watched: after
    ``blanking_ms`` (inrush) the motor current is sampled every ``sample_ms``. The pulse
    ends as soon as the switch reports the target position; no current (below
    ``open_load_a``) stops it with ``DeviceFaulted(LockFault.OPEN_LOAD)``, a current above
    ``over_current_a`` before the switch reports the target switches the motor off at
    once with ``DeviceFaulted(LockFault.OVER_CURRENT)`` (neither is retried). A silent ADC
    leaves that pulse timed and unwatched (logged). Without ``bus`` the behaviour is the
    plain timed pulse.
    """

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        "lock_pin": pin("H-bridge input driving towards locked"),
        "unlock_pin": pin("H-bridge input driving towards unlocked"),
        "feedback_pin": pin("end-position switch input"),
        "feedback_locked_high": Param(bool, True, doc="the switch reads high when locked"),
        "pulse_ms": Param(int, 500, min=1, max=4000, doc="motor pulse length"),
        "check_delay_ms": Param(int, 100, min=0, max=1000, doc="wait before reading feedback"),
        "retries": Param(int, 2, min=0, max=5, doc="extra attempts before a fault"),
        "bus": Param(str, "", doc="I2C bus of the ADS1115 sensing motor current ('': none)"),
        "address": adc_address("ADS1115 address", 0x49),
        "channel": adc_channel("ADS1115 input of the current amplifier", 0),
        "current_a_per_volt": Param(float, 1.0, min=0.01, max=100, doc="amplifier scale"),
        "current_offset_v": Param(float, 0.0, min=-1, max=3, doc="amplifier output at 0 A"),
        "open_load_a": Param(float, 0.05, min=0.0, max=5, doc="below: motor wire open"),
        "over_current_a": Param(float, 1.5, min=0.05, max=20, doc="above: stalled / blocked"),
        "blanking_ms": Param(int, 30, min=0, max=1000, doc="inrush not judged"),
        "sample_ms": Param(int, 10, min=2, max=200, doc="current sampling period"),
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
        self._bus_name: str = params.get("bus", "")
        self._address: int = params.get("address", 0x49)
        self._channel: int = params.get("channel", 0)
        self._a_per_volt: float = params.get("current_a_per_volt", 1.0)
        self._offset_v: float = params.get("current_offset_v", 0.0)
        self._open_load_a: float = params.get("open_load_a", 0.05)
        self._over_current_a: float = params.get("over_current_a", 1.5)
        self._blanking_s: float = params.get("blanking_ms", 30) / 1000.0
        self._sample_s: float = params.get("sample_ms", 10) / 1000.0
        self._bus: I2CBus | None = None
        self._lock_out: Any = None
        self._unlock_out: Any = None
        self._fb: Any = None
        self._moving = asyncio.Lock()
        self.last_current_a: float | None = None  # the last motor current read (sensing)

    @property
    def senses_current(self) -> bool:
        """Motor-current sensing is configured (``bus`` names an I2C bus)."""
        return bool(self._bus_name)

    async def start(self) -> None:
        """Borrow the I2C bus (with sensing) and claim the pins (motor off)."""
        if self._bus_name:
            self._bus = self._ctx.bus(self._bus_name, "I2C")
        self._lock_out = gpio.output_device(self._ctx, self._lock_pin)
        self._unlock_out = gpio.output_device(self._ctx, self._unlock_pin)
        self._fb = gpio.input_device(
            self._ctx, self._feedback_pin, active_high=self._feedback_locked_high
        )
        logger.info(
            "connector %d: lock on GPIO%d/%d, feedback GPIO%d reads %s, current sensing %s",
            self._cid,
            self._lock_pin,
            self._unlock_pin,
            self._feedback_pin,
            "locked" if self.locked else "unlocked",
            f"ADS1115 0x{self._address:02x} ch{self._channel}" if self._bus else "none",
        )

    async def release(self) -> None:
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
        """Drive to locked and verify; raises ``DeviceFaulted(LockFault)``."""
        await self._move(True)

    async def unlock(self) -> None:
        """Drive to unlocked and verify; raises ``DeviceFaulted(LockFault)``."""
        await self._move(False)

    async def read_current_a(self) -> float:
        """Convert the motor current now (amps, >= 0). Raises ``DeviceSilent``."""
        if self._bus is None:
            raise RuntimeError(f"{self._ctx.where}: no current sensing configured")
        volts = await self._bus.call(ads1115.read_single_ended, self._address, self._channel)
        self.last_current_a = max(0.0, (volts - self._offset_v) * self._a_per_volt)
        return self.last_current_a

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
                    if self._bus is None:
                        await asyncio.sleep(self._pulse_s)
                    else:
                        await self._watched_pulse(to_locked, what)
                finally:
                    drive.off()  # also when cancelled or faulted: a stalled motor burns out
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

    async def _watched_pulse(self, to_locked: bool, what: str) -> None:
        """The pulse with current sensing: returns when the switch reports the target or
        the pulse time is up; raises on open load / over-current (the caller switches
        the motor off)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self._pulse_s
        await asyncio.sleep(min(self._blanking_s, self._pulse_s))
        while True:
            try:
                amps = await self.read_current_a()
            except DeviceSilent as exc:
                logger.warning("connector %d: %s pulse unwatched, current not read: %s",
                               self._cid, what, exc)
                await asyncio.sleep(max(0.0, end - loop.time()))
                return
            if self.locked == to_locked:
                return  # there: stop now rather than stall against the end stop
            if amps < self._open_load_a:
                logger.error("connector %d: %s: no motor current (%.3f A): open load",
                             self._cid, what, amps)
                raise DeviceFaulted(LockFault.OPEN_LOAD,
                                    f"connector {self._cid}: {what}: motor current {amps:.3f} A")
            if amps > self._over_current_a:
                logger.error("connector %d: %s: motor current %.2f A before the end position",
                             self._cid, what, amps)
                raise DeviceFaulted(LockFault.OVER_CURRENT,
                                    f"connector {self._cid}: {what}: motor current {amps:.2f} A")
            left = end - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(self._sample_s, left))


# The registry hands driver classes out untyped: mypy checks each against its role here.
_H_BRIDGE_LOCK_ROLE: type[ConnectorLock] = HBridgeLock

"""Main contactor on a GPIO output, with an optional auxiliary-contact feedback input."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from drivers import gpio
from drivers.context import DriverContext
from drivers.interfaces import Contactor, ContactorFault
from drivers.params import Param, optional_pin, pin

logger = logging.getLogger(__name__)


class GpioContactor:
    """:class:`drivers.interfaces.Contactor` on a GPIO pin driving the coil relay.

    ``close()`` / ``open()`` write the pin synchronously. With a feedback pin wired,
    ``fault()`` reports a disagreement between command and auxiliary contact that has
    lasted ``settle_ms``: it started at the later of the last command and the last
    feedback edge, so a contact that welds after opening or drops out while closed is
    caught the same way as one that never moved.

    ``close`` is the contactor command here, so the lifecycle release is :meth:`release`.
    """

    PARAMS: ClassVar[dict[str, Param]] = {
        "pin": pin("coil relay output"),
        "feedback_pin": optional_pin("auxiliary contact input (-1: not wired)"),
        "active_high": Param(bool, True, doc="the coil is energised with the pin high"),
        "feedback_active_high": Param(bool, True, doc="the aux contact reads high when closed"),
        "settle_ms": Param(int, 150, min=10, max=2000, doc="time the contacts may take"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._pin: int = params["pin"]
        self._feedback_pin: int = params.get("feedback_pin", -1)
        self._active_high: bool = params.get("active_high", True)
        self._feedback_active_high: bool = params.get("feedback_active_high", True)
        self._settle_s: float = params.get("settle_ms", 150) / 1000.0
        self._out: Any = None
        self._fb: Any = None
        self._watch: gpio.InputWatch | None = None
        self._pending: list[Callable[[bool], None]] = []
        self._commanded = False
        self._command_t = ctx.monotonic()
        self._feedback_t = self._command_t

    async def start(self) -> None:
        """Claim the pins; the contactor starts commanded open."""
        loop = asyncio.get_running_loop()
        self._out = gpio.output_device(self._ctx, self._pin, active_high=self._active_high)
        self._commanded = False
        self._command_t = self._ctx.monotonic()
        if self._feedback_pin >= 0:
            self._fb = gpio.input_device(
                self._ctx, self._feedback_pin, active_high=self._feedback_active_high
            )
            self._feedback_t = self._ctx.monotonic()
            self._watch = gpio.InputWatch(self._fb, loop, in_thread=self._feedback_edge)
            for callback in self._pending:
                self._watch.subscribe(callback)
            self._pending.clear()
        logger.info(
            "connector %d: contactor on GPIO%d, feedback %s",
            self._cid,
            self._pin,
            f"GPIO{self._feedback_pin}" if self._fb is not None else "not wired",
        )

    # ------------------------------------------------------------------ commands

    def close(self) -> None:
        """Energise the coil. Callers must have checked every interlock."""
        self._command(True)

    def open(self) -> None:
        """De-energise the coil, before returning. Never raises for a contactor that is
        not started or already released: its output is not driven then (the safe path
        may run during a shutdown)."""
        if self._out is None:
            logger.debug("connector %d: contactor open: output not claimed", self._cid)
            return
        self._command(False)

    def _command(self, closed: bool) -> None:
        if self._out is None:
            raise RuntimeError("contactor used before start()")
        if closed:
            self._out.on()
        else:
            self._out.off()
        if closed != self._commanded:
            self._command_t = self._ctx.monotonic()
        self._commanded = closed
        logger.info("connector %d: contactor %s", self._cid, "close" if closed else "open")

    async def release(self) -> None:
        """Lifecycle end: open the contactor and free the pins."""
        if self._out is not None:
            try:
                self.open()
            finally:
                if self._watch is not None:
                    self._watch.close()
                gpio.close_quietly(self._fb)
                gpio.close_quietly(self._out)
                self._out = self._fb = self._watch = None

    # ------------------------------------------------------------------ readings

    @property
    def commanded_closed(self) -> bool:
        return self._commanded

    @property
    def feedback_closed(self) -> bool | None:
        if self._fb is None:
            return None
        return bool(self._fb.is_active)

    def fault(self) -> ContactorFault | None:
        """Feedback disagreeing with the command for longer than the settle time."""
        feedback = self.feedback_closed
        if feedback is None or feedback == self._commanded:
            return None
        since = max(self._command_t, self._feedback_t)
        if self._ctx.monotonic() - since < self._settle_s:
            return None
        return ContactorFault.FAILED_TO_CLOSE if self._commanded else ContactorFault.WELDED

    @property
    def settle_s(self) -> float:
        """How long the contacts may take to follow a command (seconds)."""
        return self._settle_s

    def subscribe_feedback(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(closed)`` on the event loop whenever the aux contact changes.
        Without a feedback pin it is never called."""
        if self._watch is not None:
            self._watch.subscribe(callback)
        else:
            self._pending.append(callback)

    def _feedback_edge(self, closed: bool) -> None:
        # Runs in the thread that saw the edge: the disagreement clock starts now.
        self._feedback_t = self._ctx.monotonic()
        logger.debug("connector %d: contactor feedback %s", self._cid, closed)


# The registry hands driver classes out untyped: mypy checks each against its role here.
_GPIO_CONTACTOR_ROLE: type[Contactor] = GpioContactor

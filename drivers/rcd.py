"""RCD / RDC-DD supervised through its auxiliary trip contact, with an optional test input."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NoReturn

from drivers import gpio
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted
from drivers.interfaces import DcResidualCurrentMonitor, RcdFault, ResidualCurrentMonitor
from drivers.params import Param, optional_pin, pin

logger = logging.getLogger(__name__)


class GpioRcd:
    """:class:`drivers.interfaces.ResidualCurrentMonitor` on a trip input pin.

    The trip itself is wired in hardware; this driver reports it. ``self_test()`` pulses
    the test output (where wired), expects the trip input within
    ``self_test_timeout_ms`` and then expects it to clear again.
    """

    PARAMS: ClassVar[dict[str, Param]] = {
        "trip_pin": pin("trip (auxiliary contact) input"),
        "trip_active_low": Param(bool, True, doc="tripped = pin low (the contact pulls down)"),
        "test_pin": optional_pin("self-test output (-1: not wired)"),
        "self_test_timeout_ms": Param(int, 1000, min=10, max=15000, doc="trip/clear deadline"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._trip_pin: int = params["trip_pin"]
        self._trip_active_low: bool = params.get("trip_active_low", True)
        self._test_pin: int = params.get("test_pin", -1)
        self._timeout_s: float = params.get("self_test_timeout_ms", 1000) / 1000.0
        self._trip: Any = None
        self._test: Any = None
        self._watch: gpio.InputWatch | None = None
        self._pending: list[Callable[[bool], None]] = []
        self._changed = asyncio.Event()

    async def start(self) -> None:
        """Claim the pins."""
        loop = asyncio.get_running_loop()
        self._trip = gpio.input_device(
            self._ctx, self._trip_pin, active_high=not self._trip_active_low
        )
        if self._test_pin >= 0:
            self._test = gpio.output_device(self._ctx, self._test_pin)
        self._watch = gpio.InputWatch(self._trip, loop)
        self._watch.subscribe(self._on_edge)
        for callback in self._pending:
            self._watch.subscribe(callback)
        self._pending.clear()
        logger.info(
            "connector %d: RCD trip input GPIO%d%s, test %s",
            self._cid,
            self._trip_pin,
            " (active low)" if self._trip_active_low else "",
            f"GPIO{self._test_pin}" if self._test is not None else "not wired",
        )

    async def release(self) -> None:
        """Test output off, pins freed (the trip itself is wired in hardware)."""
        if self._watch is not None:
            self._watch.close()
        if self._test is not None:
            self._test.off()
        gpio.close_quietly(self._test)
        gpio.close_quietly(self._trip)
        self._trip = self._test = self._watch = None

    @property
    def tripped(self) -> bool:
        if self._trip is None:
            raise RuntimeError("RCD read before start()")
        return bool(self._trip.is_active)

    @property
    def dc_leakage_ma(self) -> float | None:
        """This driver sees only the trip contact."""
        return None

    def dc_monitor(self) -> DcResidualCurrentMonitor | None:
        """None: a plain RCD has no DC reading and no reset (:class:`drivers.rdc.RdcDd`
        overrides this)."""
        return None

    def subscribe(self, on_change: Callable[[bool], None]) -> None:
        """Call ``on_change(tripped)`` on the event loop whenever the trip input changes."""
        if self._watch is not None:
            self._watch.subscribe(on_change)
        else:
            self._pending.append(on_change)

    def _on_edge(self, tripped: bool) -> None:
        logger.info("connector %d: RCD %s", self._cid, "tripped" if tripped else "cleared")
        self._changed.set()

    async def self_test(self) -> None:
        """Pulse the test input, expect the trip and then its clearing.

        Raises ``DeviceFaulted(RcdFault.SELF_TEST_FAILED)``."""
        if self._trip is None:
            raise RuntimeError("RCD self-test before start()")
        if self._test is None:
            logger.info("connector %d: RCD self-test skipped: no test pin wired", self._cid)
            return
        if self.tripped:
            self._fail("tripped before the test")
        logger.info("connector %d: RCD self-test", self._cid)
        self._test.on()
        try:
            tripped = await self._wait_for(True)
        finally:
            self._test.off()
        if not tripped:
            self._fail(f"no trip within {self._timeout_s:.3f} s")
        if not await self._wait_for(False):
            self._fail(f"trip did not clear within {self._timeout_s:.3f} s")
        logger.info("connector %d: RCD self-test passed", self._cid)

    async def _wait_for(self, tripped: bool) -> bool:
        """Wait until the trip input reads ``tripped``; False after the timeout."""
        try:
            async with asyncio.timeout(self._timeout_s):
                while self.tripped != tripped:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return self.tripped == tripped
        return True

    def _fail(self, detail: str) -> NoReturn:
        logger.error("connector %d: RCD self-test failed: %s", self._cid, detail)
        raise DeviceFaulted(RcdFault.SELF_TEST_FAILED, f"connector {self._cid}: {detail}")


# The registry hands driver classes out untyped: mypy checks each against its role here.
_GPIO_RCD_ROLE: type[ResidualCurrentMonitor] = GpioRcd

"""RDC-DD (IEC 62955, 6 mA smooth DC) module: trip contact, test and reset inputs, and an
analog measurement output read through an ADS1115 channel.

The part this is written for is the common EV-charger RDC-DD board with a latching trip
output, a test input (injects a test current through the sensing core), a reset input, and
an analog output proportional to the DC residual current. The scale (``ma_per_volt``,
``offset_v``) and the valid output range (``max_v``) differ between modules: take them
from the module's datasheet (the defaults are an example, not a specific part's values).

* The trip itself is wired to the contactor in hardware; this driver reports it (the
  ``GpioRcd`` trip-input logic) and says whether it was DC (``dc_leakage_ma`` at or above
  ``dc_trip_ma``) or AC.
* ``self_test()``: test input on until the trip is seen (at most ``self_test_timeout_ms``),
  test off, then the reset sequence; while the test current flows the analog output must
  show at least ``dc_trip_ma`` when an ADC is configured. Any step failing is a hard
  ``DeviceFaulted(RcdFault.SELF_TEST_FAILED)``.
* ``reset()``: pulse the reset input for ``reset_pulse_ms``; the trip must clear within
  ``reset_timeout_ms``.
* ``run()`` samples the analog output every ``sample_period_ms`` so ``dc_leakage_ma`` is
  fresh; three failed reads in a row end it with ``DeviceSilent``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn

from drivers import ads1115, gpio
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces import DcResidualCurrentMonitor, RcdFault
from drivers.interfaces_station import SensorFault
from drivers.params import Param, adc_address, adc_channel, optional_pin
from drivers.rcd import GpioRcd

logger = logging.getLogger(__name__)

SILENT_AFTER = 3  # failed ADC reads in a row before run() gives up


class RdcDd(GpioRcd):
    """:class:`drivers.interfaces.DcResidualCurrentMonitor` (an RDC-DD with a DC reading
    and a reset): its :meth:`dc_monitor` is itself."""

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        **GpioRcd.PARAMS,
        "reset_pin": optional_pin("reset input of the module (-1: not wired)"),
        "reset_pulse_ms": Param(int, 200, min=10, max=5000, doc="reset pulse length"),
        "reset_timeout_ms": Param(int, 1000, min=10, max=15000, doc="trip clear deadline"),
        "bus": Param(str, "", doc="I2C bus of the ADS1115 reading the DC output ('': none)"),
        "address": adc_address("ADS1115 address", 0x4A),
        "channel": adc_channel("ADS1115 input of the analog output", 0),
        "offset_v": Param(float, 0.0, min=-1, max=5, doc="analog output at 0 mA"),
        "ma_per_volt": Param(float, 10.0, min=0.1, max=1000, doc="output scale"),
        "max_v": Param(float, 3.3, min=0.1, max=4.0, doc="highest valid output"),
        "dc_trip_ma": Param(float, 6.0, min=1, max=100, doc="DC trip level (IEC 62955)"),
        "sample_period_ms": Param(int, 500, min=20, max=60000, doc="run() sampling period"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        super().__init__(params, ctx)
        self._reset_pin: int = params.get("reset_pin", -1)
        self._reset_pulse_s: float = params.get("reset_pulse_ms", 200) / 1000.0
        self._reset_timeout_s: float = params.get("reset_timeout_ms", 1000) / 1000.0
        self._bus_name: str = params.get("bus", "")
        self._address: int = params.get("address", 0x4A)
        self._channel: int = params.get("channel", 0)
        self._offset_v: float = params.get("offset_v", 0.0)
        self._ma_per_volt: float = params.get("ma_per_volt", 10.0)
        self._max_v: float = params.get("max_v", 3.3)
        self._dc_trip_ma: float = params.get("dc_trip_ma", 6.0)
        self._period_s: float = params.get("sample_period_ms", 500) / 1000.0
        self._bus: I2CBus | None = None
        self._reset: Any = None
        self._dc_ma: float | None = None

    async def start(self) -> None:
        """Borrow the I2C bus (if a reading is configured) and claim the pins."""
        if self._bus_name:
            self._bus = self._ctx.bus(self._bus_name, "I2C")
        await super().start()
        if self._reset_pin >= 0:
            try:
                self._reset = gpio.output_device(self._ctx, self._reset_pin)
            except Exception:
                await super().release()
                raise
        logger.info(
            "connector %d: RDC-DD reset %s, DC reading %s",
            self._cid,
            f"GPIO{self._reset_pin}" if self._reset is not None else "not wired",
            f"ADS1115 0x{self._address:02x} ch{self._channel}" if self._bus else "none",
        )

    async def release(self) -> None:
        if self._reset is not None:
            self._reset.off()
        gpio.close_quietly(self._reset)
        self._reset = None
        await super().release()

    def dc_monitor(self) -> DcResidualCurrentMonitor:
        """The DC reading, the reset and ``run()`` are this device's own."""
        return self

    # ------------------------------------------------------------------ readings

    @property
    def dc_leakage_ma(self) -> float | None:
        """The last DC residual current read (mA); None without a reading configured."""
        return self._dc_ma

    @property
    def fault(self) -> RcdFault | None:
        """Why the trip contact is open: DC leakage when the last reading reached the
        trip level, else the AC trip; None while not tripped."""
        if not self.tripped:
            return None
        if self._dc_ma is not None and self._dc_ma >= self._dc_trip_ma:
            return RcdFault.DC_LEAKAGE
        return RcdFault.TRIPPED_AC

    async def read_dc_leakage_ma(self) -> float:
        """Convert the analog output now. Raises ``DeviceSilent`` (ADC silent) or
        ``DeviceFaulted(SensorFault.OUT_OF_RANGE)`` (output outside 0 mA..``max_v``: a
        broken module or wire)."""
        if self._bus is None:
            raise RuntimeError(f"{self._ctx.where}: no DC reading configured")
        volts = await self._bus.call(ads1115.read_single_ended, self._address, self._channel)
        if volts > self._max_v or volts < self._offset_v - 0.1:
            raise DeviceFaulted(
                SensorFault.OUT_OF_RANGE,
                f"connector {self._cid}: RDC-DD output {volts:.3f} V outside "
                f"{self._offset_v:.2f}..{self._max_v:.2f} V",
            )
        self._dc_ma = max(0.0, (volts - self._offset_v) * self._ma_per_volt)
        return self._dc_ma

    async def run(self) -> None:
        """Keep ``dc_leakage_ma`` fresh until cancelled (returns at once without an ADC).

        Raises ``DeviceSilent`` after three failed reads in a row."""
        if self._bus is None:
            return
        failures = 0
        while True:
            try:
                await self.read_dc_leakage_ma()
            except DeviceSilent as exc:
                failures += 1
                logger.warning("connector %d: RDC-DD reading failed (%d): %s", self._cid,
                               failures, exc)
                if failures >= SILENT_AFTER:
                    raise
            else:
                failures = 0
            await asyncio.sleep(self._period_s)

    # ------------------------------------------------------------------ sequences

    async def reset(self) -> None:
        """Pulse the reset input and expect the trip to clear."""
        if self._trip is None:
            raise RuntimeError("RDC-DD reset before start()")
        if not self.tripped:
            return
        if self._reset is None:
            raise DeviceFaulted(self.fault or RcdFault.TRIPPED_AC,
                                f"connector {self._cid}: no reset input wired")
        logger.info("connector %d: RDC-DD reset", self._cid)
        await self._pulse_reset()
        if not await self._wait_cleared(self._reset_timeout_s):
            fault = self.fault or RcdFault.TRIPPED_AC
            logger.error("connector %d: RDC-DD still tripped after reset (%s)", self._cid, fault)
            raise DeviceFaulted(fault, f"connector {self._cid}: still tripped after reset")

    async def self_test(self) -> None:
        """Test current on, trip expected; test off; reset; trip cleared. Fails hard."""
        if self._trip is None:
            raise RuntimeError("RDC-DD self-test before start()")
        if self._test is None:
            logger.info("connector %d: RDC-DD self-test skipped: no test pin wired", self._cid)
            return
        if self.tripped:
            self._self_test_failed("tripped before the test")
        logger.info("connector %d: RDC-DD self-test", self._cid)
        reading: float | None = None
        self._test.on()
        try:
            tripped = await self._wait_for(True)
            if self._bus is not None:
                reading = await self._reading_for_test()
        finally:
            self._test.off()
        if not tripped:
            self._self_test_failed(f"no trip within {self._timeout_s:.3f} s")
        if reading is not None and reading < self._dc_trip_ma:
            self._self_test_failed(
                f"output showed {reading:.1f} mA of test current (< {self._dc_trip_ma:.1f})"
            )
        if self._reset is not None:
            await self._pulse_reset()
        if not await self._wait_cleared(self._reset_timeout_s):
            self._self_test_failed("trip did not clear after the test")
        logger.info("connector %d: RDC-DD self-test passed", self._cid)

    async def _reading_for_test(self) -> float:
        try:
            return await self.read_dc_leakage_ma()
        except (DeviceSilent, DeviceFaulted) as exc:
            self._self_test_failed(f"DC reading failed: {exc}")

    async def _pulse_reset(self) -> None:
        assert self._reset is not None
        self._reset.on()
        try:
            await asyncio.sleep(self._reset_pulse_s)
        finally:
            self._reset.off()

    async def _wait_cleared(self, timeout_s: float) -> bool:
        try:
            async with asyncio.timeout(timeout_s):
                while self.tripped:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return not self.tripped
        return True

    def _self_test_failed(self, detail: str) -> NoReturn:
        logger.error("connector %d: RDC-DD self-test failed: %s", self._cid, detail)
        raise DeviceFaulted(RcdFault.SELF_TEST_FAILED, f"connector {self._cid}: {detail}")


# The registry hands driver classes out untyped: mypy checks each against its role here.
_RDC_DD_ROLE: type[DcResidualCurrentMonitor] = RdcDd

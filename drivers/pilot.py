"""Control pilot: PWM output on a GPIO, CP/PP measurement through an ADS1115."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from drivers import ads1115, gpio
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces import ControlPilot, PilotFault, PilotSample
from drivers.loop_bridge import LoopBridge
from drivers.params import Param, adc_address, adc_channel, pin
from drivers.wiring import SMBusLike

logger = logging.getLogger(__name__)

# I2C failures in a row before the ADC counts as silent (a single glitch is tolerated).
SILENT_AFTER = 3


class Ads1115Pilot:
    """:class:`drivers.interfaces.ControlPilot` with the CP generator on a PWM pin and the
    CP high/low peak detectors (and optionally PP) on ADS1115 channels.

    Pilot volts = (ADC volts - ``cp_offset_v``) x ``cp_gain``. PP is measured through a
    pull-up of ``pp_pullup_ohm`` to ``pp_vref_v``: ohm = pullup x v / (vref - v), open
    circuit = ``math.inf``.

    Sampling runs in a dedicated thread (it runs for the station's lifetime, so not in
    the default executor) that posts each :class:`PilotSample` to the loop.
    """

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        "pwm_pin": pin("CP generator PWM output"),
        "bus": Param(str, doc="name of the I2C bus ([buses.i2c.<name>])"),
        "address": adc_address("ADS1115 address"),
        "cp_high_channel": adc_channel("ADC channel of the CP high level", 0),
        "cp_low_channel": adc_channel("ADC channel of the CP low level", 1),
        "pp_channel": adc_channel("ADC channel of PP (-1: no PP)", -1, optional=True),
        "sample_period_ms": Param(float, 5.0, min=1, max=100, doc="CP/PP sampling period"),
        "pwm_frequency_hz": Param(float, 1000.0, min=980, max=1020, doc="CP PWM frequency"),
        "cp_offset_v": Param(float, 1.65, doc="ADC volts at 0 V pilot"),
        "cp_gain": Param(float, 8.0, doc="pilot volts per ADC volt"),
        "pp_pullup_ohm": Param(float, 1000.0, min=100, max=100000, doc="PP pull-up resistor"),
        "pp_vref_v": Param(float, 3.3, min=1, max=5, doc="PP pull-up supply"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._pwm_pin: int = params["pwm_pin"]
        self._bus_name: str = params["bus"]
        self._address: int = params["address"]
        self._cp_high_ch: int = params.get("cp_high_channel", 0)
        self._cp_low_ch: int = params.get("cp_low_channel", 1)
        self._pp_ch: int = params.get("pp_channel", -1)
        self._period_s: float = params.get("sample_period_ms", 5.0) / 1000.0
        self._frequency_hz: float = params.get("pwm_frequency_hz", 1000.0)
        self._cp_offset_v: float = params.get("cp_offset_v", 1.65)
        self._cp_gain: float = params.get("cp_gain", 8.0)
        self._pp_pullup_ohm: float = params.get("pp_pullup_ohm", 1000.0)
        self._pp_vref_v: float = params.get("pp_vref_v", 3.3)
        self._bus: I2CBus | None = None
        self._pwm: Any = None
        self._duty = 100.0

    async def start(self) -> None:
        """Borrow the I2C bus and claim the PWM pin at +12 V (100 %: state A/B)."""
        self._bus = self._ctx.bus(self._bus_name, "I2C")
        self._duty = 100.0
        self._pwm = gpio.pwm_device(
            self._ctx, self._pwm_pin, frequency_hz=self._frequency_hz, value=1.0
        )
        logger.info(
            "connector %d: pilot PWM on GPIO%d, ADS1115 0x%02x on bus %s",
            self._cid,
            self._pwm_pin,
            self._address,
            self._bus_name,
        )

    async def release(self) -> None:
        """Leave the CP at +12 V and free the pin."""
        if self._pwm is not None:
            try:
                self.set_duty(100)
            finally:
                gpio.close_quietly(self._pwm)
                self._pwm = None

    # ------------------------------------------------------------------ CP output

    def set_duty(self, duty_percent: float) -> None:
        """100 = constant +12 V, 0 = constant -12 V (state F), else PWM at that duty."""
        if self._pwm is None:
            raise RuntimeError("pilot used before start()")
        duty = min(100.0, max(0.0, float(duty_percent)))
        try:
            self._pwm.value = duty / 100.0
        except Exception as exc:  # gpiozero raises several unrelated types here
            raise DeviceFaulted(PilotFault.PWM_FAILURE, f"connector {self._cid}: {exc}") from exc
        if duty != self._duty:
            logger.info("connector %d: CP duty %.1f %%", self._cid, duty)
        self._duty = duty

    @property
    def duty(self) -> float:
        return self._duty

    # ------------------------------------------------------------------ measurement

    def _to_pilot_v(self, adc_v: float) -> float:
        return (adc_v - self._cp_offset_v) * self._cp_gain

    def _to_pp_ohm(self, adc_v: float) -> float:
        if adc_v >= self._pp_vref_v:
            return math.inf
        return self._pp_pullup_ohm * max(adc_v, 0.0) / (self._pp_vref_v - adc_v)

    def _read(self, smbus: SMBusLike) -> PilotSample:
        """One sample of CP high, CP low and PP (under the bus lock, blocking)."""
        high = ads1115.read_single_ended(smbus, self._address, self._cp_high_ch)
        low = ads1115.read_single_ended(smbus, self._address, self._cp_low_ch)
        pp = None
        if self._pp_ch >= 0:
            pp = self._to_pp_ohm(ads1115.read_single_ended(smbus, self._address, self._pp_ch))
        return PilotSample(
            t=self._ctx.monotonic(),
            cp_high_v=self._to_pilot_v(high),
            cp_low_v=self._to_pilot_v(low),
            pp_ohm=pp,
        )

    async def run(self, on_sample: Callable[[PilotSample], None]) -> None:
        """Sample every ``sample_period_ms`` until cancelled; ``on_sample`` runs on the loop.

        Raises :class:`DeviceSilent` after three I2C failures in a row."""
        bus = self._bus
        if bus is None:
            raise RuntimeError("pilot run() before start()")
        bridge = LoopBridge.to_running_loop(f"connector {self._cid}: pilot sampler")
        finished: asyncio.Future[None] = bridge.loop.create_future()
        stop = threading.Event()
        active = True

        def deliver(sample: PilotSample) -> None:
            if active:  # samples still queued when run() ended are dropped
                on_sample(sample)

        def finish(error: BaseException | None) -> None:
            if not finished.done():
                if error is None:
                    finished.set_result(None)
                else:
                    finished.set_exception(error)

        def sampler() -> None:
            failures = 0
            error: BaseException | None = None
            next_t = time.monotonic()
            try:
                while not stop.is_set():
                    try:
                        sample = bus.locked_call(self._read)
                    except DeviceSilent as exc:
                        failures += 1
                        logger.warning(
                            "connector %d: pilot ADC read failed (%d): %s", self._cid, failures, exc
                        )
                        if failures >= SILENT_AFTER:
                            error = exc
                            return
                    else:
                        failures = 0
                        if not bridge.post(deliver, sample):  # the loop is gone: stop
                            stop.set()
                    next_t += self._period_s
                    delay = next_t - time.monotonic()
                    if delay < 0:  # overran (slow bus): restart the schedule, no burst
                        next_t = time.monotonic()
                        delay = 0.0
                    stop.wait(delay)
            except BaseException as exc:  # hand any bug back to run() rather than dying
                error = exc
            finally:
                bridge.post(finish, error)

        thread = threading.Thread(target=sampler, name=f"pilot-{self._cid}", daemon=True)
        thread.start()
        try:
            await asyncio.shield(finished)
        finally:
            active = False
            stop.set()
            if not finished.done():
                # Cancelled: wait for the thread to see the stop flag (within one period)
                # so no I2C transaction is left half-done, without blocking the loop.
                await asyncio.wait([finished], timeout=1.0)
            error = finished.exception() if finished.done() and not finished.cancelled() else None
            if error is not None:
                logger.error("connector %d: pilot sampling ended: %s", self._cid, error)


# The registry hands driver classes out untyped: mypy checks each against its role here.
_ADS1115_PILOT_ROLE: type[ControlPilot] = Ads1115Pilot

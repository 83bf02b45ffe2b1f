"""Protective-earth (PE) monitor front end read through an ADS1115 channel (AC list 201).

The board drives a small test current (well below any RCD's tripping level) from L through
the earth loop (L → installation's earth → PE conductor → the board's PE terminal) and
outputs a DC voltage proportional to the earth-loop resistance:

    volts = offset_v + ohm / ohm_per_volt

``offset_v`` is a *live zero*: a working front end never outputs less, so a dead one
(no supply, output shorted to GND) reads out of range instead of "0 Ω, perfect earth".
With the PE conductor open no test current flows and the output saturates: a reading at
or above ``open_v`` is an open PE (``math.inf``). The scale and levels differ between
front ends: take them from the board's schematic (the defaults are an example: 200 Ω per
volt above 0.2 V, saturated at 3.0 V and more, which measures 0–560 Ω).

The conversion is a blocking I2C transaction: it runs through the shared
:class:`drivers.i2c.I2CBus` (``call``: a worker thread under the bus lock), never on the
event loop itself.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from drivers import ads1115
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces_station import PeMonitor, SensorFault
from drivers.params import Param, adc_address, adc_channel

logger = logging.getLogger(__name__)

LIVE_ZERO_MARGIN_V: Final = 0.1  # below offset_v by more than this: the front end is dead


class Ads1115PeMonitor:
    """:class:`drivers.interfaces_station.PeMonitor` on an ADS1115 input (station device)."""

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="I2C bus of the ADS1115 ([buses.i2c.<name>])"),
        "address": adc_address("ADS1115 address (0x48-0x4B by its ADDR pin)", 0x49),
        "channel": adc_channel("ADS1115 input of the front end's output", 0),
        "offset_v": Param(float, 0.2, min=0.0, max=1.0, doc="output at 0 Ohm (live zero)"),
        "ohm_per_volt": Param(float, 200.0, min=1.0, max=100000.0, doc="output scale"),
        "open_v": Param(float, 3.0, min=1.5, max=4.0,
                        doc="output at or above this: PE open (saturated)"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._bus_name: str = params["bus"]
        self._address: int = params.get("address", 0x49)
        self._channel: int = params.get("channel", 0)
        self._offset_v: float = params.get("offset_v", 0.2)
        self._ohm_per_volt: float = params.get("ohm_per_volt", 200.0)
        self._open_v: float = params.get("open_v", 3.0)
        self._bus: I2CBus | None = None

    async def start(self) -> None:
        """Borrow the I2C bus and take a first reading (only logged: the station monitor
        reports what it finds, a silent front end included)."""
        self._bus = self._ctx.bus(self._bus_name, "I2C")
        try:
            ohm = await self.read_ohm()
        except (DeviceSilent, DeviceFaulted) as exc:
            logger.warning("connector 0: PE monitor not readable at start: %s", exc)
        else:
            logger.info("connector 0: PE monitor ADS1115 0x%02x ch%d on bus %s: %s",
                        self._address, self._channel, self._bus_name, _shown(ohm))

    async def release(self) -> None:
        """Nothing to release: the bus belongs to its owner."""

    async def read_ohm(self) -> float:
        """The earth-loop resistance in Ohm now (``math.inf``: PE open). Raises
        ``DeviceSilent`` (the ADC does not answer) or
        ``DeviceFaulted(SensorFault.OUT_OF_RANGE)`` (output below the live zero)."""
        if self._bus is None:
            raise RuntimeError(f"{self._ctx.where}: PE monitor read before start()")
        volts = await self._bus.call(ads1115.read_single_ended, self._address, self._channel)
        if volts >= self._open_v:
            return math.inf
        if volts < self._offset_v - LIVE_ZERO_MARGIN_V:
            raise DeviceFaulted(
                SensorFault.OUT_OF_RANGE,
                f"PE monitor output {volts:.3f} V below its live zero {self._offset_v:.2f} V",
            )
        return max(0.0, (volts - self._offset_v) * self._ohm_per_volt)


def _shown(ohm: float) -> str:
    return "PE open" if math.isinf(ohm) else f"{ohm:.1f} Ohm"


# The registry hands driver classes out untyped: mypy checks each against its role here.
_ADS1115_PE_MONITOR_ROLE: type[PeMonitor] = Ads1115PeMonitor

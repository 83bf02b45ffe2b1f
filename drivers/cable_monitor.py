"""Contact temperatures of a DC charging cable: PT1000 sensors in the vehicle connector's
DC+ and DC- contacts, each through a measuring amplifier to an ADS1115 channel.

The amplifier (a PT1000 transmitter on the controller I/O board) gives a voltage linear
in temperature: ``°C = (volts - offset_v) * c_per_volt``. Its output is only valid inside
a window (``min_v`` .. ``max_v``): a shorted sensor drives it to its low rail, an open
sensor, or a cable not plugged into the board, to its high rail. Scale and window differ
between transmitters: take them from the board's datasheet (the defaults are an example:
0.5 V at 0 °C, 100 °C per volt, so -40 °C at 0.1 V and 200 °C at 2.5 V).

The ADS1115 may be the pilot's (its free channels): every conversion is one transaction
under the I2C bus lock (:meth:`drivers.i2c.I2CBus.call`), so the two drivers' conversions
never interleave, and the loop never blocks on the bus.

``derate_from_c`` / ``derate_to_c`` are the cable's temperature limits as configured; the
firmware lowers the current linearly between them (``firmware.connector.cable_supervision``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from drivers import ads1115
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted
from drivers.i2c import I2CBus
from drivers.interfaces_station import CableFault, CableMonitor
from drivers.params import Param, adc_address, adc_channels

logger = logging.getLogger(__name__)


class Pt1000CableMonitor:
    """:class:`drivers.interfaces_station.CableMonitor` on ADS1115 channels."""

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the I2C bus ([buses.i2c.<name>])"),
        # The cable's channels may be free inputs of the pilot's ADS1115: the address is
        # shared, each input is claimed.
        "address": adc_address("ADS1115 address (may be the pilot's ADS1115)", 0x48),
        "channels": adc_channels("ADS1115 inputs of the DC+ and DC- contact sensors",
                                 (2, 3)),
        "offset_v": Param(float, 0.5, min=-1.0, max=4.0, doc="amplifier output at 0 °C"),
        "c_per_volt": Param(float, 100.0, min=1.0, max=10000.0, doc="amplifier scale"),
        "min_v": Param(float, 0.05, min=0.0, max=4.0,
                       doc="lowest valid output (below: sensor shorted)"),
        "max_v": Param(float, 3.0, min=0.1, max=4.096,
                       doc="highest valid output (above: sensor open / cable not connected)"),
        "derate_from_c": Param(float, 70.0, min=0.0, max=200.0,
                               doc="contact temperature where the current starts to fall"),
        "derate_to_c": Param(float, 90.0, min=1.0, max=250.0,
                             doc="contact temperature where the current reaches zero"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._bus_name: str = params["bus"]
        self._address: int = params.get("address", 0x48)
        self._channels: tuple[int, ...] = tuple(params.get("channels", (2, 3)))
        self._offset_v: float = params.get("offset_v", 0.5)
        self._c_per_volt: float = params.get("c_per_volt", 100.0)
        self._min_v: float = params.get("min_v", 0.05)
        self._max_v: float = params.get("max_v", 3.0)
        self._from_c: float = params.get("derate_from_c", 70.0)
        self._to_c: float = params.get("derate_to_c", 90.0)
        self._bus: I2CBus | None = None
        self.last_c: tuple[float, ...] = ()

    async def start(self) -> None:
        """Borrow the I2C bus (the ADC is not touched until the first reading)."""
        self._bus = self._ctx.bus(self._bus_name, "I2C")
        if self._to_c <= self._from_c:
            logger.warning("connector %d: cable derate_to_c %.1f not above derate_from_c "
                           "%.1f: no derating ramp", self._cid, self._to_c, self._from_c)
        logger.info("connector %d: cable sensors on ADS1115 0x%02x channels %s",
                    self._cid, self._address, ",".join(str(c) for c in self._channels))

    async def release(self) -> None:
        """Nothing to release (the bus belongs to its owner)."""

    @property
    def derate_from_c(self) -> float:
        return self._from_c

    @property
    def derate_to_c(self) -> float:
        return self._to_c

    def to_celsius(self, volts: float) -> float:
        """An amplifier output (V) as a temperature (°C)."""
        return (volts - self._offset_v) * self._c_per_volt

    def to_volts(self, celsius: float) -> float:
        """A temperature (°C) as the amplifier outputs it (V): the simulator's side."""
        return self._offset_v + celsius / self._c_per_volt

    async def read_c(self) -> tuple[float, ...]:
        """Convert every channel now. Raises ``DeviceSilent`` (the ADC does not answer)
        or ``DeviceFaulted(CableFault.SENSOR_OPEN / SENSOR_SHORT)`` naming the contact."""
        if self._bus is None:
            raise RuntimeError(f"{self._ctx.where}: cable monitor used before start()")
        volts = await self._bus.call(self._convert_all)
        for n, v in enumerate(volts):
            if v > self._max_v:
                self._fault(CableFault.SENSOR_OPEN, n, v)
            if v < self._min_v:
                self._fault(CableFault.SENSOR_SHORT, n, v)
        self.last_c = tuple(round(self.to_celsius(v), 2) for v in volts)
        return self.last_c

    def _convert_all(self, smbus: Any) -> tuple[float, ...]:
        # One bus transaction for every channel (the caller holds the bus lock).
        return tuple(ads1115.read_single_ended(smbus, self._address, ch)
                     for ch in self._channels)

    def _fault(self, fault: CableFault, index: int, volts: float) -> None:
        contact = ("DC+", "DC-")[index] if index < 2 else f"#{index + 1}"
        detail = (f"connector {self._cid}: {contact} sensor (ch{self._channels[index]}) "
                  f"{volts:.3f} V outside {self._min_v:.2f}..{self._max_v:.2f} V")
        logger.error("connector %d: cable %s: %s", self._cid, fault, detail)
        raise DeviceFaulted(fault, detail)


# The registry hands driver classes out untyped: mypy checks each against its role here.
_PT1000_CABLE_MONITOR_ROLE: type[CableMonitor] = Pt1000CableMonitor

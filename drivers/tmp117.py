"""TI TMP117 digital temperature sensor (±0.1 °C) on an :class:`drivers.i2c.I2CBus`.

Registers are 16-bit big-endian (smbus2 words are little-endian: swapped here).
Temperature result at 0x00 in 7.8125 m°C per bit, two's complement; device id at 0x0F
(low 12 bits 0x117). After power-on the result reads 0x8000 (-256 °C) until the first
conversion ends; the part measures -55..150 °C. Both are refused as out of range.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from drivers.ads1115 import swap16
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces_station import SensorFault, TemperatureSensor
from drivers.params import Param, i2c_address
from drivers.wiring import SMBusLike

logger = logging.getLogger(__name__)

REG_TEMP: Final = 0x00
REG_CONFIG: Final = 0x01
REG_DEVICE_ID: Final = 0x0F
DEVICE_ID: Final = 0x117
LSB_C: Final = 0.0078125
NO_CONVERSION: Final = 0x8000
RANGE_C: Final = (-55.0, 150.0)


def raw_to_c(raw: int) -> float:
    """A result register value (unsigned, as read) in °C."""
    signed = raw - 0x10000 if raw & 0x8000 else raw
    return signed * LSB_C


def c_to_raw(celsius: float) -> int:
    """°C as the result register holds it (the simulator's side)."""
    return round(celsius / LSB_C) & 0xFFFF


def read_word(smbus: SMBusLike, address: int, register: int) -> int:
    """One big-endian register; an I2C error becomes ``DeviceSilent``."""
    try:
        return swap16(smbus.read_word_data(address, register))
    except OSError as exc:
        raise DeviceSilent(f"TMP117 at 0x{address:02x}: {exc}") from exc


class Tmp117:
    """:class:`drivers.interfaces_station.TemperatureSensor` for a TMP117 at ``address``."""

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the I2C bus ([buses.i2c.<name>])"),
        "address": i2c_address("TMP117 address (0x48-0x4B by its ADD0 pin)", 0x48),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._bus_name: str = params["bus"]
        self._address: int = params.get("address", 0x48)
        self._bus: I2CBus | None = None
        self._identified = False

    async def start(self) -> None:
        """Borrow the bus and check the part (a silent sensor is retried on first read)."""
        self._bus = self._ctx.bus(self._bus_name, "I2C")
        try:
            await self._identify()
        except DeviceSilent as exc:
            logger.warning("temperature sensor not answering yet: %s", exc)
        logger.info("temperature: TMP117 0x%02x on bus %s", self._address, self._bus_name)

    async def release(self) -> None:
        """Nothing to release: the bus belongs to its owner."""

    async def _identify(self) -> None:
        bus = self._need_bus()
        device_id = await bus.call(read_word, self._address, REG_DEVICE_ID)
        if device_id & 0x0FFF != DEVICE_ID:
            raise DeviceFaulted(
                SensorFault.WRONG_DEVICE,
                f"0x{self._address:02x} answers with id 0x{device_id:04x}, not a TMP117",
            )
        self._identified = True

    def _need_bus(self) -> I2CBus:
        if self._bus is None:
            raise RuntimeError("temperature read before start()")
        return self._bus

    async def read_c(self) -> float:
        """The temperature in °C. Raises ``DeviceSilent`` and ``DeviceFaulted``
        (``WRONG_DEVICE``, ``OUT_OF_RANGE``)."""
        if not self._identified:
            await self._identify()
        raw = await self._need_bus().call(read_word, self._address, REG_TEMP)
        if raw == NO_CONVERSION:
            raise DeviceFaulted(SensorFault.OUT_OF_RANGE, "TMP117: no conversion result yet")
        celsius = raw_to_c(raw)
        if not RANGE_C[0] <= celsius <= RANGE_C[1]:
            raise DeviceFaulted(SensorFault.OUT_OF_RANGE, f"TMP117: {celsius:.2f} °C")
        return celsius


# The registry hands driver classes out untyped: mypy checks each against its role here.
_TMP117_ROLE: type[TemperatureSensor] = Tmp117

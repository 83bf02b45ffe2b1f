"""Analog Devices ADXL345 accelerometer as the housing's tilt sensor (I2C).

Full-resolution mode: 256 counts per g on every range; axes X/Y/Z at 0x32..0x37, each a
little-endian int16. Device id 0xE5 at 0x00. The tilt is the angle between the measured
gravity vector and the axis that points up when the station stands as installed
(``mount_axis``: the one that reads +1 g then). A resting part must see about 1 g: a
magnitude outside 0.5..1.5 g is a stuck or broken sensor, not a tilt.

Self-test (datasheet): on the ±16 g range with the SELF_TEST bit set, the outputs shift
by X +50..+540, Y -540..-50, Z +75..+875 counts (at 3.3 V supply).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces_station import SensorFault, TiltReading, TiltSensor
from drivers.params import Param, i2c_address
from drivers.wiring import SMBusLike

logger = logging.getLogger(__name__)

REG_DEVID: Final = 0x00
REG_BW_RATE: Final = 0x2C
REG_POWER_CTL: Final = 0x2D
REG_DATA_FORMAT: Final = 0x31
REG_DATAX0: Final = 0x32
DEVID: Final = 0xE5
MEASURE: Final = 0x08
FULL_RES: Final = 0x08
SELF_TEST_BIT: Final = 0x80
RANGE_16G: Final = 0x03
RATE_100HZ: Final = 0x0A
COUNTS_PER_G: Final = 256.0
GRAVITY_RANGE_G: Final = (0.5, 1.5)
SELF_TEST_LIMITS: Final = ((50, 540), (-540, -50), (75, 875))
SELF_TEST_SAMPLES: Final = 8
SETTLE_S: Final = 0.03  # several output periods at 100 Hz after a format change
AXES: Final = ("+x", "-x", "+y", "-y", "+z", "-z")


def _i2c(what: str, address: int, exc: OSError) -> DeviceSilent:
    return DeviceSilent(f"ADXL345 at 0x{address:02x}: {what}: {exc}")


def read_axes(smbus: SMBusLike, address: int) -> tuple[int, int, int]:
    """The raw X, Y, Z counts (blocking; run through the bus owner)."""
    try:
        data = smbus.read_i2c_block_data(address, REG_DATAX0, 6)
    except OSError as exc:
        raise _i2c("read", address, exc) from exc
    values = [int.from_bytes(bytes(data[i:i + 2]), "little", signed=True) for i in (0, 2, 4)]
    return values[0], values[1], values[2]


def write_register(smbus: SMBusLike, address: int, register: int, value: int) -> None:
    try:
        smbus.write_byte_data(address, register, value)
    except OSError as exc:
        raise _i2c(f"write 0x{register:02x}", address, exc) from exc


def read_register(smbus: SMBusLike, address: int, register: int) -> int:
    try:
        return smbus.read_byte_data(address, register)
    except OSError as exc:
        raise _i2c(f"read 0x{register:02x}", address, exc) from exc


def tilt_deg(g: tuple[float, float, float], mount_axis: str) -> float:
    """Angle between ``g`` and the up axis of the installed position, degrees."""
    index = "xyz".index(mount_axis[1])
    sign = 1.0 if mount_axis[0] == "+" else -1.0
    magnitude = math.sqrt(sum(v * v for v in g))
    if magnitude == 0.0:
        return 180.0
    cosine = max(-1.0, min(1.0, sign * g[index] / magnitude))
    return math.degrees(math.acos(cosine))


class Adxl345Tilt:
    """:class:`drivers.interfaces_station.TiltSensor` on an ADXL345 at ``address``."""

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the I2C bus ([buses.i2c.<name>])"),
        "address": i2c_address("ADXL345 address (0x53, or 0x1D with SDO high)", 0x53),
        "mount_axis": Param(str, "+z", choices=AXES, doc="sensor axis pointing up"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._bus_name: str = params["bus"]
        self._address: int = params.get("address", 0x53)
        self._mount_axis: str = params.get("mount_axis", "+z")
        self._bus: I2CBus | None = None
        self._configured = False

    async def start(self) -> None:
        """Borrow the bus and start measuring (a silent part is retried on first read)."""
        self._bus = self._ctx.bus(self._bus_name, "I2C")
        try:
            await self._configure()
        except DeviceSilent as exc:
            logger.warning("tilt sensor not answering yet: %s", exc)
        logger.info("tilt: ADXL345 0x%02x on bus %s, up = %s", self._address, self._bus_name,
                    self._mount_axis)

    async def release(self) -> None:
        """Nothing to release: the bus belongs to its owner."""

    def _need_bus(self) -> I2CBus:
        if self._bus is None:
            raise RuntimeError("tilt sensor used before start()")
        return self._bus

    def _setup(self, smbus: SMBusLike, data_format: int) -> None:
        """Identify the part and put it in measurement mode (one bus transaction)."""
        device_id = read_register(smbus, self._address, REG_DEVID)
        if device_id != DEVID:
            raise DeviceFaulted(
                SensorFault.WRONG_DEVICE,
                f"0x{self._address:02x} answers with id 0x{device_id:02x}, not an ADXL345",
            )
        write_register(smbus, self._address, REG_BW_RATE, RATE_100HZ)
        write_register(smbus, self._address, REG_DATA_FORMAT, data_format)
        write_register(smbus, self._address, REG_POWER_CTL, MEASURE)

    async def _configure(self) -> None:
        await self._need_bus().call(self._setup, FULL_RES)
        self._configured = True

    async def read(self) -> TiltReading:
        """One reading. Raises ``DeviceSilent`` and ``DeviceFaulted(SensorFault)``."""
        if not self._configured:
            await self._configure()
        raw = await self._need_bus().call(read_axes, self._address)
        g = (raw[0] / COUNTS_PER_G, raw[1] / COUNTS_PER_G, raw[2] / COUNTS_PER_G)
        magnitude = math.sqrt(sum(v * v for v in g))
        if not GRAVITY_RANGE_G[0] <= magnitude <= GRAVITY_RANGE_G[1]:
            raise DeviceFaulted(
                SensorFault.OUT_OF_RANGE,
                f"ADXL345: {magnitude:.2f} g at rest ({raw[0]}/{raw[1]}/{raw[2]})",
            )
        return TiltReading(raw, g, tilt_deg(g, self._mount_axis))

    async def _average(self) -> tuple[float, float, float]:
        bus = self._need_bus()
        sums = [0.0, 0.0, 0.0]
        for _ in range(SELF_TEST_SAMPLES):
            raw = await bus.call(read_axes, self._address)
            for i in range(3):
                sums[i] += raw[i]
        n = float(SELF_TEST_SAMPLES)
        return sums[0] / n, sums[1] / n, sums[2] / n

    async def self_test(self) -> None:
        """The datasheet self-test; raises ``DeviceFaulted(SensorFault.SELF_TEST_FAILED)``
        (or ``DeviceSilent``)."""
        bus = self._need_bus()
        await bus.call(self._setup, FULL_RES | RANGE_16G)
        try:
            await asyncio.sleep(SETTLE_S)
            before = await self._average()
            await bus.call(write_register, self._address, REG_DATA_FORMAT,
                           FULL_RES | RANGE_16G | SELF_TEST_BIT)
            await asyncio.sleep(SETTLE_S)
            during = await self._average()
        finally:
            await bus.call(write_register, self._address, REG_DATA_FORMAT, FULL_RES)
        shift = tuple(d - b for d, b in zip(during, before, strict=True))
        for axis, value, (low, high) in zip("XYZ", shift, SELF_TEST_LIMITS, strict=True):
            if not low <= value <= high:
                logger.error("tilt sensor self-test failed: %s shift %.0f", axis, value)
                raise DeviceFaulted(
                    SensorFault.SELF_TEST_FAILED,
                    f"ADXL345 self-test: {axis} moved {value:.0f} counts ({low}..{high})",
                )
        logger.info("tilt sensor self-test passed (shift %.0f/%.0f/%.0f)", *shift)


# The registry hands driver classes out untyped: mypy checks each against its role here.
_ADXL345_TILT_ROLE: type[TiltSensor] = Adxl345Tilt

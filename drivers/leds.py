"""LED ring (holder light) of a connector on an NXP PCA9685 16-channel PWM driver (I2C),
and the holder colours of the GUIConnectorHolderColors key.

PCA9685: MODE1 0x00 (SLEEP 0x10, AI auto-increment 0x20), MODE2 0x01 (OUTDRV 0x04,
INVRT 0x10), LEDn_ON_L..LEDn_OFF_H at 0x06 + 4n, PRE_SCALE 0xFE (written only while
asleep; 25 MHz / (4096 x (prescale + 1))). Duty = OFF count / 4096; bit 4 of OFF_H is
"full off", of ON_H "full on". Each ring uses three channels (red, green, blue).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces_station import LedRing, Rgb, SensorFault
from drivers.params import Param, i2c_address
from drivers.wiring import SMBusLike

logger = logging.getLogger(__name__)

REG_MODE1: Final = 0x00
REG_MODE2: Final = 0x01
REG_LED0: Final = 0x06
REG_PRESCALE: Final = 0xFE
SLEEP: Final = 0x10
AUTO_INCREMENT: Final = 0x20
OUTDRV: Final = 0x04
INVRT: Final = 0x10
FULL: Final = 0x10  # bit 4 of ON_H / OFF_H
OSC_HZ: Final = 25_000_000

# --------------------------------------------------------------------------- colours

HOLDER_STATES: Final = ("Unavailable", "Available", "Occupied", "Finished", "Faulted")
DEFAULT_HOLDER_COLORS: Final = ",00FF00,0000FF,FFFFFF,FF0000"  # the DC manual's defaults
_HEX: Final = re.compile(r"#?([0-9A-Fa-f]{6})")

# OCPP 1.6 ChargePointStatus -> holder state of the key's list
STATUS_TO_HOLDER: Final[Mapping[str, str]] = {
    "Available": "Available",
    "Preparing": "Occupied",
    "Charging": "Occupied",
    "SuspendedEV": "Occupied",
    "SuspendedEVSE": "Occupied",
    "Reserved": "Occupied",
    "Finishing": "Finished",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
}


@dataclass(frozen=True)
class HolderColors:
    """The colour of each holder state."""

    colors: Mapping[str, Rgb]

    def for_status(self, status: str) -> Rgb:
        """The colour for an OCPP status (unknown statuses: Unavailable's)."""
        return self.colors[STATUS_TO_HOLDER.get(status, "Unavailable")]

    def to_csl(self) -> str:
        return ",".join("".join(f"{c:02X}" for c in self.colors[s]) for s in HOLDER_STATES)


def parse_holder_colors(csl: str) -> HolderColors:
    """GUIConnectorHolderColors: five web colours (``RRGGBB``, ``#`` allowed) in the order
    Unavailable, Available, Occupied, Finished, Faulted. An empty entry is off (black), as
    the DC manual's default for Unavailable. Raises ``ValueError``."""
    parts = [p.strip() for p in csl.split(",")]
    if len(parts) != len(HOLDER_STATES):
        raise ValueError(f"expected {len(HOLDER_STATES)} colours, got {len(parts)}: {csl!r}")
    colors: dict[str, Rgb] = {}
    for state, part in zip(HOLDER_STATES, parts, strict=True):
        if not part:
            colors[state] = (0, 0, 0)
            continue
        match = _HEX.fullmatch(part)
        if match is None:
            raise ValueError(f"{state}: {part!r} is not a web colour (RRGGBB)")
        value = int(match.group(1), 16)
        colors[state] = (value >> 16 & 0xFF, value >> 8 & 0xFF, value & 0xFF)
    return HolderColors(colors)


# --------------------------------------------------------------------------- PCA9685


def prescale_for(frequency_hz: float) -> int:
    return max(3, min(255, round(OSC_HZ / (4096.0 * frequency_hz)) - 1))


def channel_bytes(level: int) -> list[int]:
    """ON_L, ON_H, OFF_L, OFF_H for a brightness 0–255 (0 full off, 255 full on)."""
    if level <= 0:
        return [0, 0, 0, FULL]
    if level >= 255:
        return [0, FULL, 0, 0]
    off = round(level * 4095 / 255)
    return [0, 0, off & 0xFF, off >> 8]


class Pca9685Ring:
    """:class:`drivers.interfaces_station.LedRing` on three channels of a PCA9685."""

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the I2C bus ([buses.i2c.<name>])"),
        "address": i2c_address("PCA9685 address (0x40-0x7F by its A0-A5 pins)", 0x40),
        "red_channel": Param(int, 0, min=0, max=15, doc="output of the red LEDs"),
        "green_channel": Param(int, 1, min=0, max=15, doc="output of the green LEDs"),
        "blue_channel": Param(int, 2, min=0, max=15, doc="output of the blue LEDs"),
        "pwm_frequency_hz": Param(float, 1000.0, min=24, max=1526, doc="LED PWM frequency"),
        "inverted": Param(bool, False, doc="outputs sink current (common-anode LEDs)"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._bus_name: str = params["bus"]
        self._address: int = params.get("address", 0x40)
        self._channels = (
            int(params.get("red_channel", 0)),
            int(params.get("green_channel", 1)),
            int(params.get("blue_channel", 2)),
        )
        if len(set(self._channels)) != 3:
            raise ValueError(f"{ctx.where}: red, green and blue need three different channels")
        self._prescale = prescale_for(params.get("pwm_frequency_hz", 1000.0))
        self._inverted: bool = params.get("inverted", False)
        self._bus: I2CBus | None = None
        self._configured = False
        self._color: Rgb = (0, 0, 0)

    async def start(self) -> None:
        """Borrow the bus and set the chip up, ring off (retried on first use if silent)."""
        self._bus = self._ctx.bus(self._bus_name, "I2C")
        try:
            await self.set_color((0, 0, 0))
        except DeviceSilent as exc:
            logger.warning("connector %d: LED driver not answering yet: %s", self._cid, exc)
        logger.info("connector %d: LED ring on PCA9685 0x%02x channels %s", self._cid,
                    self._address, "/".join(map(str, self._channels)))

    async def release(self) -> None:
        """The ring keeps its last colour (the chip keeps running); the bus is not ours."""

    @property
    def color(self) -> Rgb:
        return self._color

    def _setup(self, smbus: SMBusLike) -> None:
        a = self._address
        smbus.write_byte_data(a, REG_MODE1, SLEEP)  # prescale is writable only asleep
        smbus.write_byte_data(a, REG_PRESCALE, self._prescale)
        smbus.write_byte_data(a, REG_MODE2, OUTDRV | (INVRT if self._inverted else 0))
        smbus.write_byte_data(a, REG_MODE1, AUTO_INCREMENT)  # wake, oscillator on
        readback = smbus.read_byte_data(a, REG_PRESCALE)
        if readback != self._prescale:
            raise DeviceFaulted(
                SensorFault.WRONG_DEVICE,
                f"0x{a:02x} reads prescale {readback}, wrote {self._prescale}: not a PCA9685",
            )

    def _write(self, smbus: SMBusLike, rgb: Rgb) -> None:
        try:
            if not self._configured:
                self._setup(smbus)
                self._configured = True
            for channel, level in zip(self._channels, rgb, strict=True):
                smbus.write_i2c_block_data(
                    self._address, REG_LED0 + 4 * channel, channel_bytes(level)
                )
        except OSError as exc:
            self._configured = False  # it may have lost power: set it up again next time
            raise DeviceSilent(f"PCA9685 at 0x{self._address:02x}: {exc}") from exc

    async def set_color(self, rgb: Rgb) -> None:
        """Show ``rgb``; raises ``DeviceSilent`` when the chip does not answer."""
        if self._bus is None:
            raise RuntimeError("LED ring used before start()")
        clamped: Rgb = (
            max(0, min(255, rgb[0])), max(0, min(255, rgb[1])), max(0, min(255, rgb[2]))
        )
        await self._bus.call(self._write, clamped)
        if clamped != self._color:
            logger.info("connector %d: LED ring #%02X%02X%02X", self._cid, *clamped)
        self._color = clamped


# The registry hands driver classes out untyped: mypy checks each against its role here.
_PCA9685_RING_ROLE: type[LedRing] = Pca9685Ring

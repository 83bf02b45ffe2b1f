"""TI ADS1115 16-bit ADC: blocking chip functions for use on an :class:`drivers.i2c.I2CBus`.

The chip's registers are 16-bit big-endian; smbus2's word functions are little-endian,
so every word is byte-swapped on its way in and out. Any I2C error (NACK, bus fault)
becomes :class:`drivers.errors.DeviceSilent`.
"""

from __future__ import annotations

import time
from typing import Final

from drivers.errors import DeviceSilent
from drivers.wiring import SMBusLike

REG_CONVERSION: Final = 0x00
REG_CONFIG: Final = 0x01

OS_START: Final = 0x8000  # write: start a single conversion; read: 1 = idle (done)
MUX_SHIFT: Final = 12
MUX_SINGLE_AIN0: Final = 0b100  # AIN0..AIN3 against GND are 0b100..0b111
PGA_SHIFT: Final = 9
MODE_SINGLE: Final = 0x0100
DR_SHIFT: Final = 5
COMP_DISABLE: Final = 0x0003

# PGA setting -> full-scale range (volts); 0b101..0b111 are all ±0.256 V.
FULL_SCALE_V: Final = {
    0: 6.144, 1: 4.096, 2: 2.048, 3: 1.024, 4: 0.512, 5: 0.256, 6: 0.256, 7: 0.256
}
PGA_4V096: Final = 1
DR_860SPS: Final = 0b111

# At 860 SPS a conversion takes ~1.2 ms; give up on a chip that never finishes.
_POLL_S: Final = 0.0003
_CONVERSION_DEADLINE_S: Final = 0.02


def swap16(word: int) -> int:
    """Swap the two bytes of a 16-bit word (SMBus little-endian <-> chip big-endian)."""
    return ((word & 0xFF) << 8) | ((word >> 8) & 0xFF)


def single_shot_config(channel: int, pga: int = PGA_4V096, data_rate: int = DR_860SPS) -> int:
    """The config word that starts one single-ended conversion of ``channel`` (0–3)."""
    if not 0 <= channel <= 3:
        raise ValueError(f"ADS1115 channel {channel} out of 0..3")
    return (
        OS_START
        | (MUX_SINGLE_AIN0 + channel) << MUX_SHIFT
        | pga << PGA_SHIFT
        | MODE_SINGLE
        | data_rate << DR_SHIFT
        | COMP_DISABLE
    )


def code_to_volts(code: int, pga: int = PGA_4V096) -> float:
    """Convert a raw (unsigned 16-bit, as read) conversion register to volts."""
    signed = code - 0x10000 if code & 0x8000 else code
    return signed * FULL_SCALE_V[pga] / 32768.0


def read_single_ended(smbus: SMBusLike, address: int, channel: int) -> float:
    """One single-shot conversion of ``channel`` at 860 SPS, PGA ±4.096 V, in volts.

    Blocks for about 1.2 ms. Run it through ``I2CBus.locked_call`` / ``I2CBus.call``.
    """
    try:
        smbus.write_word_data(address, REG_CONFIG, swap16(single_shot_config(channel)))
        deadline = time.monotonic() + _CONVERSION_DEADLINE_S
        while not swap16(smbus.read_word_data(address, REG_CONFIG)) & OS_START:
            if time.monotonic() > deadline:
                raise DeviceSilent(f"ADS1115 at 0x{address:02x}: conversion never finished")
            time.sleep(_POLL_S)
        raw = swap16(smbus.read_word_data(address, REG_CONVERSION))
    except OSError as exc:
        raise DeviceSilent(f"ADS1115 at 0x{address:02x}: {exc}") from exc
    return code_to_volts(raw)

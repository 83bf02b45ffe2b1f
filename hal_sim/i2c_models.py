"""Chip models for the simulated I2C bus (:class:`hal_sim.fake_smbus.FakeSMBus`): a TMP117
temperature sensor, an ADXL345 accelerometer, a PCA9685 LED driver and an HD44780 LCD
behind a PCF8574 backpack. Each keeps its registers as the real part does and takes
bytes in wire order; ``silent = True`` makes it NACK. Thread-safe (driver threads read
while the simulation sets values from the loop).
"""

from __future__ import annotations

import math
import threading

from drivers import adxl345, leds, tmp117


class Tmp117Model:
    """TMP117: result 0x00, config 0x01, device id 0x0F (16-bit big-endian registers).

    ``temperature_c`` is what it measures; ``no_conversion = True`` makes the result read
    its power-on value (-256 °C); ``device_id`` can be changed to play another part;
    ``failure`` (an exception) is raised by the bus on every transfer (fault 001)."""

    def __init__(self, temperature_c: float = 25.0) -> None:
        self.silent = False
        self.failure: BaseException | None = None
        self.temperature_c = temperature_c
        self.no_conversion = False
        self.device_id = 0x0117
        self._lock = threading.Lock()
        self._config = 0x0220

    def write(self, register: int, data: bytes) -> None:
        if register == tmp117.REG_CONFIG and len(data) == 2:
            with self._lock:
                self._config = data[0] << 8 | data[1]

    def read(self, register: int, length: int) -> bytes:
        with self._lock:
            if register == tmp117.REG_TEMP:
                word = tmp117.NO_CONVERSION if self.no_conversion else tmp117.c_to_raw(
                    max(-256.0, min(255.99, self.temperature_c))
                )
            elif register == tmp117.REG_CONFIG:
                word = self._config
            elif register == tmp117.REG_DEVICE_ID:
                word = self.device_id
            else:
                word = 0
        data = bytes([word >> 8 & 0xFF, word & 0xFF])
        return (data * ((length + 1) // 2))[:length]


class Adxl345Model:
    """ADXL345: 8-bit registers, auto-incrementing block reads, axes at 0x32..0x37.

    ``gravity_g`` is the acceleration it feels (x, y, z in g); :meth:`set_tilt` leans an
    upright (+z) part. ``stuck = True`` freezes the outputs at 0 (a dead sensing element);
    ``self_test_broken = True`` makes the self-test force do nothing."""

    SELF_TEST_SHIFT = (200, -200, 300)  # counts, inside the datasheet's windows

    def __init__(self) -> None:
        self.silent = False
        self.stuck = False
        self.self_test_broken = False
        self.gravity_g: tuple[float, float, float] = (0.0, 0.0, 1.0)
        self._lock = threading.Lock()
        self._regs = bytearray(64)
        self._regs[adxl345.REG_DEVID] = adxl345.DEVID

    def set_tilt(self, degrees: float, about: str = "x") -> None:
        """Lean the part ``degrees`` from upright about the ``x`` or ``y`` axis."""
        rad = math.radians(degrees)
        if about == "x":
            self.gravity_g = (0.0, -math.sin(rad), math.cos(rad))
        else:
            self.gravity_g = (math.sin(rad), 0.0, math.cos(rad))

    def counts(self) -> tuple[int, int, int]:
        """What the axis registers hold now."""
        with self._lock:
            return self._counts()

    def _counts(self) -> tuple[int, int, int]:
        if self.stuck or not self._regs[adxl345.REG_POWER_CTL] & adxl345.MEASURE:
            return 0, 0, 0
        data_format = self._regs[adxl345.REG_DATA_FORMAT]
        per_g = 256.0 if data_format & adxl345.FULL_RES else 256.0 / (1 << (data_format & 3))
        values = [round(g * per_g) for g in self.gravity_g]
        if data_format & adxl345.SELF_TEST_BIT and not self.self_test_broken:
            values = [v + s for v, s in zip(values, self.SELF_TEST_SHIFT, strict=True)]
        clipped = [max(-32768, min(32767, v)) for v in values]
        return clipped[0], clipped[1], clipped[2]

    def write(self, register: int, data: bytes) -> None:
        with self._lock:
            for offset, value in enumerate(data):
                address = register + offset
                if address != adxl345.REG_DEVID and address < len(self._regs):
                    self._regs[address] = value

    def read(self, register: int, length: int) -> bytes:
        with self._lock:
            regs = bytearray(self._regs)
            for axis, value in enumerate(self._counts()):
                regs[adxl345.REG_DATAX0 + 2 * axis:adxl345.REG_DATAX0 + 2 * axis + 2] = (
                    value.to_bytes(2, "little", signed=True)
                )
        return bytes(regs[(register + i) % len(regs)] for i in range(length))


class Pca9685Model:
    """PCA9685: 256 registers; block writes auto-increment only with MODE1.AI set, and
    PRE_SCALE takes a write only while MODE1.SLEEP is set (as the chip does)."""

    def __init__(self) -> None:
        self.silent = False
        self._lock = threading.Lock()
        self._regs = bytearray(256)
        self._regs[leds.REG_MODE1] = leds.SLEEP | 0x01  # power-on: asleep, ALLCALL
        self._regs[leds.REG_MODE2] = leds.OUTDRV
        self._regs[leds.REG_PRESCALE] = 0x1E
        for channel in range(16):  # power-on: every output full off
            self._regs[leds.REG_LED0 + 4 * channel + 3] = leds.FULL

    def write(self, register: int, data: bytes) -> None:
        with self._lock:
            auto = bool(self._regs[leds.REG_MODE1] & leds.AUTO_INCREMENT)
            for offset, value in enumerate(data):
                address = (register + offset) & 0xFF if auto else register
                if address == leds.REG_PRESCALE and not self._regs[leds.REG_MODE1] & leds.SLEEP:
                    continue
                self._regs[address] = value

    def read(self, register: int, length: int) -> bytes:
        with self._lock:
            return bytes(self._regs[(register + i) & 0xFF] for i in range(length))

    def duty(self, channel: int) -> float:
        """Output ``channel``'s duty cycle, 0.0–1.0 (MODE2.INVRT not applied)."""
        with self._lock:
            base = leds.REG_LED0 + 4 * channel
            on_l, on_h, off_l, off_h = self._regs[base:base + 4]
            asleep = bool(self._regs[leds.REG_MODE1] & leds.SLEEP)
        if asleep or off_h & leds.FULL:
            return 0.0
        if on_h & leds.FULL:
            return 1.0
        on = (on_h & 0x0F) << 8 | on_l
        off = (off_h & 0x0F) << 8 | off_l
        return ((off - on) % 4096) / 4096.0

    def rgb(self, channels: tuple[int, int, int]) -> tuple[int, int, int]:
        """The colour a ring on ``channels`` (red, green, blue) shows, 0–255 each."""
        r, g, b = (round(self.duty(c) * 4096 * 255 / 4095) for c in channels)
        return min(r, 255), min(g, 255), min(b, 255)

    @property
    def prescale(self) -> int:
        with self._lock:
            return self._regs[leds.REG_PRESCALE]


class Hd44780Model:
    """A PCF8574 I2C port expander driving an HD44780 character LCD (P0 RS, P1 RW, P2 E,
    P3 backlight, P4-P7 D4-D7). Every byte written sets the port; the LCD latches D4-D7
    on each falling edge of E, in 8-bit mode after power-on (one latch = one byte) until
    a function set switches it to 4 bits (two latches = one byte). DDRAM holds 80
    characters at 0x00-0x27 and 0x40-0x67."""

    def __init__(self) -> None:
        self.silent = False
        self._lock = threading.Lock()
        self._port = 0xFF
        self._four_bit = False
        self._pending: int | None = None  # first nibble of a byte in 4-bit mode
        self._ddram = bytearray(b" " * 0x68)
        self._address = 0
        self.display_on = False
        self.commands = 0

    @property
    def backlight(self) -> bool:
        return bool(self._port & 0x08)

    def write(self, register: int, data: bytes) -> None:
        with self._lock:  # a PCF8574 takes every byte of a write as a port value
            for value in (register & 0xFF, *data):
                self._set_port(value)

    def read(self, register: int, length: int) -> bytes:
        with self._lock:
            return bytes([self._port] * length)

    def lines(self, columns: int = 20, rows: int = 4) -> list[str]:
        """The text on a ``columns`` x ``rows`` display (blank while the display is off)."""
        offsets = [0x00, 0x40, columns, 0x40 + columns][:rows]
        with self._lock:
            if not self.display_on:
                return [" " * columns] * rows
            return [self._ddram[o:o + columns].decode("ascii", "replace") for o in offsets]

    def _set_port(self, value: int) -> None:
        previous, self._port = self._port, value
        if previous & 0x04 and not value & 0x04:  # falling edge of E: latch D4-D7
            self._latch(previous >> 4 & 0x0F, bool(previous & 0x01))

    def _latch(self, nibble: int, rs: bool) -> None:
        if not self._four_bit:
            self._execute(nibble << 4, rs)
            return
        if self._pending is None:
            self._pending = nibble
            return
        byte, self._pending = self._pending << 4 | nibble, None
        self._execute(byte, rs)

    def _execute(self, byte: int, rs: bool) -> None:
        if rs:
            self._ddram[self._address] = byte if 32 <= byte < 127 else ord("?")
            self._address = self._next(self._address)
            return
        self.commands += 1
        # The highest set bit names the instruction.
        if byte & 0x80:
            address = byte & 0x7F
            self._address = address if address < len(self._ddram) else 0
        elif byte & 0x40:
            pass  # set CGRAM address: custom characters are not modelled
        elif byte & 0x20:  # function set: DL (bit 4) chooses 8 or 4 bits
            self._four_bit = not byte & 0x10
            self._pending = None
        elif byte & 0x10:
            pass  # cursor / display shift
        elif byte & 0x08:
            self.display_on = bool(byte & 0x04)
        elif byte & 0x04:
            pass  # entry mode: increment is assumed
        elif byte & 0x02:
            self._address = 0  # return home
        elif byte == 0x01:
            self._ddram[:] = b" " * len(self._ddram)
            self._address = 0

    @staticmethod
    def _next(address: int) -> int:
        if address == 0x27:
            return 0x40
        if address == 0x67:
            return 0x00
        return address + 1

"""A simulated I2C bus with chip models behind it (stands in for smbus2.SMBus).

Bytes are modelled as they travel on the wire: ``write_word_data`` sends the low byte
first, as SMBus does, so a driver that forgets to byte-swap for a big-endian chip reads
nonsense here just as it would on a board. An absent address or a model with
``silent = True`` raises ``OSError(121, "Remote I/O error")``, which is what smbus2
raises on a NACK. A model whose ``failure`` attribute holds an exception raises it on every
transfer instead: an error of a kind no driver expects (fault 001, a controller-internal
failure, is injected that way).
"""

from __future__ import annotations

import errno
import threading
from typing import Protocol

from drivers.ads1115 import FULL_SCALE_V, OS_START

_NACK = (errno.EREMOTEIO, "Remote I/O error")


class I2CDeviceModel(Protocol):
    """A chip on a :class:`FakeSMBus`, addressed by register, bytes in wire order."""

    silent: bool

    def write(self, register: int, data: bytes) -> None: ...

    def read(self, register: int, length: int) -> bytes: ...


class FakeSMBus:
    """Implements :class:`drivers.wiring.SMBusLike` over registered chip models.

    Thread-safe: a driver thread may use it while the loop thread changes the models."""

    def __init__(self, number: int = 1) -> None:
        self.number = number
        self._devices: dict[int, I2CDeviceModel] = {}
        self._lock = threading.Lock()
        self.transactions = 0

    # ------------------------------------------------------------ simulation side

    def add_device(self, address: int, model: I2CDeviceModel) -> None:
        with self._lock:
            self._devices[address] = model

    def device(self, address: int) -> I2CDeviceModel | None:
        with self._lock:
            return self._devices.get(address)

    def _target(self, address: int) -> I2CDeviceModel:
        model = self._devices.get(address)
        if model is None or model.silent:
            raise OSError(*_NACK)
        failure = getattr(model, "failure", None)
        if failure is not None:
            raise failure
        self.transactions += 1
        return model

    # ------------------------------------------------------------ SMBusLike

    def read_byte_data(self, i2c_addr: int, register: int) -> int:
        with self._lock:
            return self._target(i2c_addr).read(register, 1)[0]

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None:
        with self._lock:
            self._target(i2c_addr).write(register, bytes([value & 0xFF]))

    def read_word_data(self, i2c_addr: int, register: int) -> int:
        with self._lock:
            data = self._target(i2c_addr).read(register, 2)
        return data[0] | data[1] << 8  # SMBus words arrive low byte first

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None:
        with self._lock:
            self._target(i2c_addr).write(register, bytes([value & 0xFF, (value >> 8) & 0xFF]))

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]:
        with self._lock:
            return list(self._target(i2c_addr).read(register, length))

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None:
        with self._lock:
            self._target(i2c_addr).write(register, bytes(b & 0xFF for b in data))

    def close(self) -> None:
        """Handles share the simulated bus: closing one leaves the chips in place."""


class Ads1115Model:
    """The ADS1115's registers: pointer 0 conversion, 1 config, 2/3 comparator thresholds.

    Writing the config register with OS = 1 converts the selected input at once (the
    conversion is instantaneous here, so OS reads back 1 = idle) using the selected PGA:
    the code is clipped to the full-scale range like the real chip. Single-ended and
    differential inputs are both modelled. ``set_channel(ch, volts)`` sets an input.
    """

    # MUX field -> (positive input, negative input or None for GND)
    _MUX = {0: (0, 1), 1: (0, 3), 2: (1, 3), 3: (2, 3), 4: (0, None), 5: (1, None)}
    _MUX.update({6: (2, None), 7: (3, None)})

    def __init__(self) -> None:
        self.silent = False
        self._lock = threading.Lock()
        self._inputs = [0.0, 0.0, 0.0, 0.0]
        self._config = 0x8583  # power-on default
        self._conversion = 0
        self._thresholds = {2: 0x8000, 3: 0x7FFF}
        self.conversions = 0

    def set_channel(self, channel: int, volts: float) -> None:
        if not 0 <= channel <= 3:
            raise ValueError(f"ADS1115 channel {channel} out of 0..3")
        with self._lock:
            self._inputs[channel] = float(volts)

    def channel(self, channel: int) -> float:
        with self._lock:
            return self._inputs[channel]

    def write(self, register: int, data: bytes) -> None:
        if len(data) != 2:
            return  # the chip ignores partial register writes
        word = data[0] << 8 | data[1]  # big-endian on the wire
        with self._lock:
            if register & 0x03 == 1:
                self._config = word
                if word & OS_START and word & 0x0100:  # single-shot start
                    self._convert(word)
            elif register & 0x03 in self._thresholds:
                self._thresholds[register & 0x03] = word

    def read(self, register: int, length: int) -> bytes:
        with self._lock:
            reg = register & 0x03
            if reg == 0:
                word = self._conversion
            elif reg == 1:
                word = self._config | OS_START  # conversions finish instantly: idle
            else:
                word = self._thresholds[reg]
        data = bytes([word >> 8 & 0xFF, word & 0xFF])
        return (data * ((length + 1) // 2))[:length]

    def _convert(self, config: int) -> None:
        positive, negative = self._MUX[config >> 12 & 0x07]
        volts = self._inputs[positive] - (self._inputs[negative] if negative is not None else 0.0)
        full_scale = FULL_SCALE_V[config >> 9 & 0x07]
        code = round(volts / full_scale * 32768.0)
        code = max(-32768, min(32767, code))
        self._conversion = code & 0xFFFF
        self.conversions += 1

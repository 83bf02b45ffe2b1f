"""The bottom-most I/O of a station, handed to every driver.

A :class:`Wiring` opens the real things: the gpiozero pin factory, SMBus handles, serial
ports, Modbus TCP endpoints and CAN buses. On a board that is :class:`BoardWiring`; the
simulator hands in ``hal_sim.sim_wiring.SimWiring``, whose objects are simulated wires (mock
pins with a circuit behind them, a fake SMBus, a pty with a Modbus server on its far end,
a python-can virtual bus). Drivers use whatever they are given and never ask which.
"""

from __future__ import annotations

from typing import Any, Protocol


class SMBusLike(Protocol):
    """The subset of ``smbus2.SMBus`` the drivers use (all calls block)."""

    def read_byte_data(self, i2c_addr: int, register: int) -> int: ...

    def write_byte_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_word_data(self, i2c_addr: int, register: int) -> int: ...

    def write_word_data(self, i2c_addr: int, register: int, value: int) -> None: ...

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None: ...

    def close(self) -> None: ...


class Wiring(Protocol):
    """Factory of the bottom-most I/O objects."""

    def pin_factory(self) -> Any:
        """A gpiozero pin factory; every GPIO device of the station is built on it."""

    def open_smbus(self, bus: int) -> SMBusLike:
        """An SMBus handle for ``/dev/i2c-<bus>``."""

    def serial_port(self, port: str) -> str:
        """The device path to open for the configured serial port."""

    def tcp_endpoint(self, host: str, port: int) -> tuple[str, int]:
        """Where to connect for a configured TCP device (Modbus TCP meter, energy manager)."""

    def can_bus(self, interface: str, channel: str, bitrate: int) -> Any:
        """A ``can.BusABC`` for the configured CAN channel."""

    def open_nfc(self, device: str) -> Any:
        """An opened ``nfc.ContactlessFrontend`` (or an object with the same ``connect`` and
        ``close``) for an nfcpy device string such as ``tty:AMA0:pn532``. nfcpy offers no
        wire seam, so this is where the simulator stands in at the library interface."""


class BoardWiring:
    """The wiring of a real controller board (Raspberry Pi / CM4)."""

    def __init__(self) -> None:
        self._factory: Any = None

    def pin_factory(self) -> Any:
        if self._factory is None:
            from gpiozero import Device  # imported late: probing pins is slow

            Device.ensure_pin_factory()
            self._factory = Device.pin_factory
        return self._factory

    def open_smbus(self, bus: int) -> SMBusLike:
        from smbus2 import SMBus

        return SMBus(bus)  # type: ignore[no-any-return]

    def serial_port(self, port: str) -> str:
        return port

    def tcp_endpoint(self, host: str, port: int) -> tuple[str, int]:
        return host, port

    def can_bus(self, interface: str, channel: str, bitrate: int) -> Any:
        import can

        return can.Bus(interface=interface, channel=channel, bitrate=bitrate)

    def open_nfc(self, device: str) -> Any:
        import nfc

        return nfc.ContactlessFrontend(device)

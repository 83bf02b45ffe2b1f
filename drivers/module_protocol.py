"""What a DC power-module protocol provides to the module pool.

The pool (:mod:`drivers.power_modules`) does discovery, polling, keep-alive, fault
tracking and grouping the same way for every make of rectifier module; a protocol only
turns commands into CAN frames and frames into typed replies. InfyPower is
:mod:`drivers.infypower`; a second make (Winline: same 29-bit id layout, register
numbers instead of command numbers) is one more module implementing
:class:`ModuleProtocol` and a :class:`~drivers.power_modules.CanModulePool` subclass naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import can

from drivers.interfaces import PowerStackFault


@dataclass(frozen=True, slots=True)
class ModuleLimits:
    """Output ratings of one module."""

    min_voltage_v: float
    max_voltage_v: float
    max_current_a: float
    max_power_w: float

    def current_at(self, voltage_v: float) -> float:
        """The most current the module delivers at ``voltage_v`` (power-limited above
        the corner voltage)."""
        if voltage_v <= 0.0:
            return self.max_current_a
        return min(self.max_current_a, self.max_power_w / voltage_v)


@dataclass(frozen=True, slots=True)
class CountReply:
    """Answer to discovery: the number of modules the answering module counts."""

    address: int
    count: int


@dataclass(frozen=True, slots=True)
class OutputReply:
    """Measured output of one module."""

    address: int
    voltage_v: float
    current_a: float


@dataclass(frozen=True, slots=True)
class StatusReply:
    """Status of one module: its faults (already mapped), whether its output is off,
    whether it limits its power, its temperature (None where not reported), the raw bits."""

    address: int
    faults: frozenset[PowerStackFault]
    output_off: bool
    power_limited: bool = False
    temperature_c: float | None = None
    raw: int = 0


@dataclass(frozen=True, slots=True)
class LimitsReply:
    """The module's own ratings."""

    address: int
    limits: ModuleLimits


@dataclass(frozen=True, slots=True)
class AckReply:
    """Answer to a command (on/off, set-point, group); ``error`` 0 = accepted."""

    address: int
    command: int
    error: int = 0


ModuleReply = CountReply | OutputReply | StatusReply | LimitsReply | AckReply


class ModuleProtocol(Protocol):
    """Frames of one make of power module. Every method is pure (no I/O)."""

    name: str
    reply_mask: int
    """Frames with ``id & reply_mask == reply_value`` are answers for this controller."""
    reply_value: int

    def discover(self) -> list[can.Message]:
        """Frames that make every module on the bus answer with a :class:`CountReply`."""

    def read_output(self, address: int) -> can.Message: ...

    def read_status(self, address: int) -> can.Message: ...

    def read_limits(self, address: int) -> can.Message: ...

    def set_output(self, address: int, voltage_v: float, current_a: float) -> can.Message:
        """Set-point of one module: output voltage and its share of the current."""

    def switch(self, address: int, on: bool) -> can.Message: ...

    def set_group(self, address: int, group: int) -> can.Message:
        """Put the module in ``group`` (the connector its output is switched to)."""

    def decode(self, msg: can.Message) -> ModuleReply | None:
        """The reply carried by ``msg``, or None for a frame that is not one."""

"""InfyPower REG / CEG rectifier modules (CAN protocol V1.13): frames and the pool driver.

CAN 2.0B, 29-bit identifiers, 125 kbit/s::

    bits 28-26  error code (0 normal; in answers: 2 command invalid, 3 data invalid,
                7 module still starting)
    bits 25-22  device: 0x0A one module, 0x0B a module group
    bits 21-16  command
    bits 15-8   destination: module address (0x00-0x3E), 0x3F broadcast, 0xF0 controller
    bits 7-0    source: the controller (0xF0) or the answering module

Payloads (8 bytes, big-endian) as the firmware uses them:

=======  =============================  ====================================================
command  request                        answer
=======  =============================  ====================================================
0x02     zeros (broadcast: discovery)   byte 2: number of modules
0x03     zeros                          float32 output volts, float32 output amps
0x04     zeros                          byte 4: temperature (int8, degC, *unverified*),
                                        byte 5/6/7: status bits (see :class:`InfyStatus`)
0x0A     zeros                          u16 max V, u16 min V (1 V), u16 max current (0.1 A),
                                        u16 rated power (10 W)
0x16     byte 0: group number           echo (*unverified*: the V1.13 group command; the
                                        module output follows its group, see the pool)
0x1A     byte 0: 0 = on, 1 = off        echo
0x1C     u32 mV, u32 mA                 echo
=======  =============================  ====================================================

The status bit layout follows the protocol document as EVerest's InfyPower driver reads
it (everest-core ``InfyPower_BEG1K075G`` / ``CanPackets.cpp``). A module switches its
output off after 10 s without a frame from the controller, so the pool keeps polling.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntFlag
from typing import Any, ClassVar, Final

import can

from drivers.interfaces import ModulePool, PowerStackFault
from drivers.module_protocol import (
    AckReply,
    CountReply,
    LimitsReply,
    ModuleLimits,
    ModuleProtocol,
    ModuleReply,
    OutputReply,
    StatusReply,
)
from drivers.params import Param
from drivers.power_modules import CanModulePool

CONTROLLER: Final = 0xF0
BROADCAST: Final = 0x3F
DEVICE_MODULE: Final = 0x0A
DEVICE_GROUP: Final = 0x0B

CMD_COUNT: Final = 0x02
CMD_OUTPUT: Final = 0x03
CMD_STATUS: Final = 0x04
CMD_LIMITS: Final = 0x0A
CMD_GROUP: Final = 0x16
CMD_ON_OFF: Final = 0x1A
CMD_SET: Final = 0x1C

ERROR_NONE: Final = 0
ERROR_COMMAND_INVALID: Final = 2
ERROR_DATA_INVALID: Final = 3
ERROR_STARTING: Final = 7


class InfyStatus(IntFlag):
    """The three status bytes as one word: byte 5 << 16 | byte 6 << 8 | byte 7."""

    OUTPUT_SHORT = 1 << 0
    SLEEPING = 1 << 4
    DISCHARGE_ABNORMAL = 1 << 5
    DC_OFF = 1 << 8
    FAULT = 1 << 9
    PROTECTION = 1 << 10
    FAN = 1 << 11
    OVER_TEMPERATURE = 1 << 12
    OUTPUT_OVER_VOLTAGE = 1 << 13
    WALK_IN = 1 << 14
    COMMS_INTERRUPTED = 1 << 15
    POWER_LIMITED = 1 << 16
    ID_REPEATED = 1 << 17
    LOAD_SHARING = 1 << 18
    PHASE_LOST = 1 << 19
    INPUT_UNBALANCED = 1 << 20
    INPUT_UNDER_VOLTAGE = 1 << 21
    INPUT_OVER_VOLTAGE = 1 << 22
    PFC_OFF = 1 << 23


# Status bits that take the module out of service, and what the firmware calls them.
# The rest are states (off, sleeping, walk-in, power-limited) or warnings the module
# keeps running with (load sharing, input unbalance).
FAULT_BITS: Final[dict[InfyStatus, PowerStackFault]] = {
    InfyStatus.OUTPUT_SHORT: PowerStackFault.GENERIC,
    InfyStatus.FAULT: PowerStackFault.GENERIC,
    InfyStatus.PROTECTION: PowerStackFault.GENERIC,
    InfyStatus.FAN: PowerStackFault.FAN,
    InfyStatus.OVER_TEMPERATURE: PowerStackFault.OVER_TEMPERATURE,
    InfyStatus.OUTPUT_OVER_VOLTAGE: PowerStackFault.OUTPUT_OVER_VOLTAGE,
    InfyStatus.COMMS_INTERRUPTED: PowerStackFault.COMMS,
    InfyStatus.ID_REPEATED: PowerStackFault.COMMS,
    InfyStatus.PHASE_LOST: PowerStackFault.PHASE_LOST,
    InfyStatus.INPUT_UNDER_VOLTAGE: PowerStackFault.INPUT_UNDER_VOLTAGE,
    InfyStatus.INPUT_OVER_VOLTAGE: PowerStackFault.INPUT_OVER_VOLTAGE,
}

# The bit a simulated module sets for each fault (the inverse of FAULT_BITS).
BIT_FOR_FAULT: Final[dict[PowerStackFault, InfyStatus]] = {
    PowerStackFault.GENERIC: InfyStatus.FAULT,
    PowerStackFault.FAN: InfyStatus.FAN,
    PowerStackFault.OVER_TEMPERATURE: InfyStatus.OVER_TEMPERATURE,
    PowerStackFault.OUTPUT_OVER_VOLTAGE: InfyStatus.OUTPUT_OVER_VOLTAGE,
    PowerStackFault.COMMS: InfyStatus.COMMS_INTERRUPTED,
    PowerStackFault.PHASE_LOST: InfyStatus.PHASE_LOST,
    PowerStackFault.INPUT_UNDER_VOLTAGE: InfyStatus.INPUT_UNDER_VOLTAGE,
    PowerStackFault.INPUT_OVER_VOLTAGE: InfyStatus.INPUT_OVER_VOLTAGE,
}


@dataclass(frozen=True, slots=True)
class FrameId:
    """The fields of a 29-bit InfyPower identifier."""

    error: int
    device: int
    command: int
    destination: int
    source: int

    @property
    def value(self) -> int:
        return (
            (self.error & 0x07) << 26
            | (self.device & 0x0F) << 22
            | (self.command & 0x3F) << 16
            | (self.destination & 0xFF) << 8
            | (self.source & 0xFF)
        )

    @classmethod
    def parse(cls, arbitration_id: int) -> FrameId:
        return cls(
            error=(arbitration_id >> 26) & 0x07,
            device=(arbitration_id >> 22) & 0x0F,
            command=(arbitration_id >> 16) & 0x3F,
            destination=(arbitration_id >> 8) & 0xFF,
            source=arbitration_id & 0xFF,
        )


def frame(command: int, destination: int, data: bytes = bytes(8), *,
          source: int = CONTROLLER, device: int = DEVICE_MODULE, error: int = 0) -> can.Message:
    """An extended-id frame with an 8-byte payload."""
    fid = FrameId(error, device, command, destination, source)
    return can.Message(arbitration_id=fid.value, is_extended_id=True,
                       data=data.ljust(8, b"\x00"))


def faults_of(status: int) -> frozenset[PowerStackFault]:
    """The firmware faults in a status word."""
    return frozenset(fault for bit, fault in FAULT_BITS.items() if status & bit)


class InfyPowerProtocol:
    """:class:`drivers.module_protocol.ModuleProtocol` for InfyPower V1.13."""

    name = "infypower"
    # Answers: single-module device, addressed to this controller.
    reply_mask = (0x0F << 22) | (0xFF << 8)

    def __init__(self, controller: int = CONTROLLER) -> None:
        self.controller = controller
        self.reply_value = (DEVICE_MODULE << 22) | (controller << 8)

    def _frame(self, command: int, address: int, data: bytes = bytes(8)) -> can.Message:
        return frame(command, address, data, source=self.controller)

    def discover(self) -> list[can.Message]:
        return [self._frame(CMD_COUNT, BROADCAST)]

    def read_output(self, address: int) -> can.Message:
        return self._frame(CMD_OUTPUT, address)

    def read_status(self, address: int) -> can.Message:
        return self._frame(CMD_STATUS, address)

    def read_limits(self, address: int) -> can.Message:
        return self._frame(CMD_LIMITS, address)

    def set_output(self, address: int, voltage_v: float, current_a: float) -> can.Message:
        millivolts = max(0, min(0xFFFFFFFF, round(voltage_v * 1000.0)))
        milliamps = max(0, min(0xFFFFFFFF, round(current_a * 1000.0)))
        return self._frame(CMD_SET, address, struct.pack(">II", millivolts, milliamps))

    def switch(self, address: int, on: bool) -> can.Message:
        return self._frame(CMD_ON_OFF, address, bytes([0 if on else 1]))

    def set_group(self, address: int, group: int) -> can.Message:
        return self._frame(CMD_GROUP, address, bytes([group & 0xFF]))

    def decode(self, msg: can.Message) -> ModuleReply | None:
        if not msg.is_extended_id or len(msg.data) < 8:
            return None
        fid = FrameId.parse(msg.arbitration_id)
        if fid.device != DEVICE_MODULE or fid.destination != self.controller:
            return None
        data = bytes(msg.data)
        address = fid.source
        if fid.error != ERROR_NONE or fid.command in (CMD_ON_OFF, CMD_SET, CMD_GROUP):
            return AckReply(address, fid.command, fid.error)
        if fid.command == CMD_COUNT:
            return CountReply(address, data[2])
        if fid.command == CMD_OUTPUT:
            volts, amps = struct.unpack(">ff", data)
            return OutputReply(address, float(volts), float(amps))
        if fid.command == CMD_STATUS:
            status = data[5] << 16 | data[6] << 8 | data[7]
            temperature = struct.unpack(">b", data[4:5])[0]
            return StatusReply(
                address,
                faults_of(status),
                output_off=bool(status & InfyStatus.DC_OFF),
                power_limited=bool(status & InfyStatus.POWER_LIMITED),
                temperature_c=float(temperature),
                raw=status,
            )
        if fid.command == CMD_LIMITS:
            max_v, min_v, max_a, power = struct.unpack(">HHHH", data)
            return LimitsReply(address, ModuleLimits(float(min_v), float(max_v),
                                                     max_a / 10.0, power * 10.0))
        return None


class InfyPowerModules(CanModulePool):
    """The station's InfyPower modules (``[devices.power_modules] driver = "infypower"``)."""

    PARAMS: ClassVar[dict[str, Param]] = {
        **CanModulePool.PARAMS,
        "controller_address": Param(
            int, CONTROLLER, min=0xF0, max=0xF8, doc="source address of this controller"
        ),
    }

    def make_protocol(self, params: Mapping[str, Any]) -> ModuleProtocol:
        return InfyPowerProtocol(int(params.get("controller_address", CONTROLLER)))


# The registry hands driver classes out untyped: mypy checks each against its role here.
_INFY_POWER_MODULES_ROLE: type[ModulePool] = InfyPowerModules

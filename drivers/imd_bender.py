"""Bender isoCHA425HV insulation monitor on the RS-485 Modbus bus, plus its alarm relay.

Register facts (holding registers, FC3 reads, FC16 writes; as EVerest's driver uses them):

* A measurement channel is 4 registers: words 0–1 a float32 big-endian value; word 2 high
  byte = bits 0–2 alarm (0 none, 1 prewarning, 2 device error, 4 warning, 5 alarm) and
  bits 6–7 test (0 none, 1 internal, 2 external); word 2 low byte = bits 0–4 unit,
  bits 6–7 validity (0 true value, 1 true value smaller, 2 bigger, 3 invalid); word 3 the
  channel description. R_F (insulation resistance) at 1000, U_n at 1008.
* Self-test: write 0x5445 to 8005; the R_F channel's test bits show the test running,
  then clear; a device error afterwards means the test failed (30 s limit).
* Thresholds: 3005 prealarm R1 (kΩ), 3007 alarm R2 (kΩ), one register each, written at
  start (and again before use if the device was silent at start).

The hard-wired trip is the alarm relay: a fail-safe GPIO input (an open wire reads
"alarm"), which is what ``alarm`` and ``subscribe`` report.
"""

from __future__ import annotations

import asyncio
import logging
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Final, NoReturn

from drivers.context import DriverContext
from drivers.doors import LEVELS, SupervisedContacts
from drivers.errors import DeviceFaulted, DriverError
from drivers.interfaces import ImdFault, InsulationMonitor
from drivers.modbus import ModbusBus
from drivers.params import Param, modbus_address, pin

logger = logging.getLogger(__name__)

REG_R_F: Final = 1000
REG_U_N: Final = 1008
REG_PREALARM_KOHM: Final = 3005
REG_ALARM_KOHM: Final = 3007
REG_SELF_TEST: Final = 8005
SELF_TEST_COMMAND: Final = 0x5445  # "TE"


class BenderAlarm(IntEnum):
    NONE = 0
    PREWARNING = 1
    DEVICE_ERROR = 2
    WARNING = 4
    ALARM = 5


class BenderTest(IntEnum):
    NONE = 0
    INTERNAL = 1
    EXTERNAL = 2


class BenderValidity(IntEnum):
    TRUE_VALUE = 0
    SMALLER = 1  # the true value is below the measured one (range end)
    BIGGER = 2  # the true value is above (beyond the measuring range)
    INVALID = 3


@dataclass(frozen=True, slots=True)
class BenderChannel:
    """One decoded measurement channel."""

    value: float
    alarm: BenderAlarm | int
    test: BenderTest | int
    unit: int
    validity: BenderValidity
    description: int


def decode_channel(registers: Sequence[int]) -> BenderChannel:
    """The four registers of a channel, decoded."""
    if len(registers) < 4:
        raise ValueError(f"a channel is 4 registers, got {len(registers)}")
    value: float = struct.unpack(">f", struct.pack(">HH", registers[0], registers[1]))[0]
    high, low = registers[2] >> 8, registers[2] & 0xFF
    alarm_bits = high & 0x07
    alarm: BenderAlarm | int = (
        BenderAlarm(alarm_bits) if alarm_bits in BenderAlarm._value2member_map_ else alarm_bits
    )
    test_bits = high >> 6
    test: BenderTest | int = (
        BenderTest(test_bits) if test_bits in BenderTest._value2member_map_ else test_bits
    )
    return BenderChannel(value, alarm, test, low & 0x1F, BenderValidity(low >> 6), registers[3])


def encode_channel(
    value: float,
    alarm: int = 0,
    test: int = 0,
    unit: int = 2,
    validity: int = 0,
    description: int = 71,
) -> list[int]:
    """The four registers of a channel (the simulator's side of :func:`decode_channel`)."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    status = ((test & 0x03) << 6 | (alarm & 0x07)) << 8 | (validity & 0x03) << 6 | (unit & 0x1F)
    return [high, low, status, description]


class BenderIsoCha425:
    """:class:`drivers.interfaces.InsulationMonitor` for an isoCHA425HV on ``bus``."""

    BUS_KIND: ClassVar[str] = "modbus"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the Modbus bus ([buses.modbus.<name>])"),
        "address": modbus_address("Modbus device id (factory setting 3)", 3),
        "alarm_pin": pin("alarm relay input"),
        "ok_level": Param(
            str, "low", choices=LEVELS,
            doc="relay input level without alarm (the pull resistor holds the other: alarm)",
        ),
        "prealarm_kohm": Param(int, 500, min=1, max=10000, doc="R1 prewarning threshold"),
        "alarm_kohm": Param(int, 100, min=1, max=10000, doc="R2 alarm threshold"),
        "self_test_timeout_s": Param(float, 30.0, min=0.1, max=120, doc="self-test deadline"),
        "poll_ms": Param(int, 500, min=10, max=5000, doc="status polling during the self-test"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._bus_name: str = params["bus"]
        self._address: int = params.get("address", 3)
        self._alarm_pin: int = params["alarm_pin"]
        self._prealarm_kohm: int = params.get("prealarm_kohm", 500)
        self._alarm_kohm: int = params.get("alarm_kohm", 100)
        self._test_timeout_s: float = params.get("self_test_timeout_s", 30.0)
        self._poll_s: float = params.get("poll_ms", 500) / 1000.0
        self._relay = SupervisedContacts(ctx, (self._alarm_pin,), params.get("ok_level", "low"))
        self._bus: ModbusBus | None = None
        self._configured = False
        self.last: BenderChannel | None = None

    async def start(self) -> None:
        """Borrow the bus, claim the relay input, write the thresholds (retried on first
        use when the device does not answer now: a silent IMD must not stop the station)."""
        self._bus = self._ctx.bus(self._bus_name, "Modbus")
        if self._alarm_kohm > self._prealarm_kohm:
            logger.warning("connector %d: IMD alarm threshold above the prewarning one",
                           self._cid)
        self._relay.start(self._on_relay_edge)
        try:
            await self._configure()
        except DriverError as exc:
            logger.warning("connector %d: IMD thresholds not written yet: %s", self._cid, exc)
        logger.info(
            "connector %d: Bender IMD id %d on bus %s, alarm relay GPIO%d%s",
            self._cid, self._address, self._bus_name, self._alarm_pin,
            " (ALARM)" if self.alarm else "",
        )

    async def release(self) -> None:
        """Free the relay input (the bus belongs to its owner)."""
        self._relay.close()

    async def _configure(self) -> None:
        bus = self._need_bus()
        await bus.write_registers(self._address, REG_PREALARM_KOHM, [self._prealarm_kohm])
        await bus.write_registers(self._address, REG_ALARM_KOHM, [self._alarm_kohm])
        self._configured = True
        logger.info("connector %d: IMD thresholds %d / %d kOhm written", self._cid,
                    self._prealarm_kohm, self._alarm_kohm)

    def _need_bus(self) -> ModbusBus:
        if self._bus is None:
            raise RuntimeError("IMD used before start()")
        return self._bus

    # ------------------------------------------------------------------ relay

    @property
    def alarm(self) -> bool:
        """The alarm relay (hard-wired trip); an open wire reads as alarm."""
        return bool(self._relay.unsafe_indices())

    def subscribe(self, on_alarm: Callable[[bool], None]) -> None:
        """Call ``on_alarm(active)`` on the event loop whenever the alarm relay changes."""
        self._relay.subscribe(on_alarm)

    def _on_relay_edge(self) -> None:
        changed = self._relay.update()
        if changed is not None:
            log = logger.warning if changed else logger.info
            log("connector %d: IMD alarm relay %s", self._cid, "on" if changed else "off")

    # ------------------------------------------------------------------ Modbus

    async def read_channel(self, register: int = REG_R_F) -> BenderChannel:
        """Read and decode one channel (raises ``DeviceSilent``)."""
        bus = self._need_bus()
        if not self._configured:
            await self._configure()
        values = await bus.read_holding_registers(self._address, register, 4)
        if len(values) < 4:
            raise DeviceFaulted(ImdFault.DEVICE_ERROR,
                                f"connector {self._cid}: {len(values)} of 4 registers")
        channel = decode_channel(values)
        if register == REG_R_F:
            self.last = channel
        return channel

    async def resistance_ohm(self) -> float:
        """Insulation resistance R_F. Raises ``DeviceSilent``, and
        ``DeviceFaulted(ImdFault.DEVICE_ERROR)`` for a device error, an invalid or an
        impossible value (NaN, negative)."""
        channel = await self.read_channel(REG_R_F)
        if channel.alarm == BenderAlarm.DEVICE_ERROR and channel.test == BenderTest.NONE:
            self._fault(ImdFault.DEVICE_ERROR, "device error")
        if channel.validity == BenderValidity.INVALID:
            self._fault(ImdFault.DEVICE_ERROR, "measurement invalid")
        if math.isnan(channel.value) or channel.value < 0:
            self._fault(ImdFault.DEVICE_ERROR, f"value out of range: {channel.value!r}")
        return channel.value

    async def self_test(self) -> None:
        """Start the self-test and follow it to its end. Raises
        ``DeviceFaulted(ImdFault.SELF_TEST_FAILED)`` on a device error, a test that never
        runs or ends within ``self_test_timeout_s``, or a device that does not answer."""
        bus = self._need_bus()
        logger.info("connector %d: IMD self-test", self._cid)
        try:
            async with asyncio.timeout(self._test_timeout_s):
                await bus.write_registers(self._address, REG_SELF_TEST, [SELF_TEST_COMMAND])
                channel = await self._poll_until(lambda c: c.test != BenderTest.NONE)
                channel = await self._poll_until(lambda c: c.test == BenderTest.NONE)
        except TimeoutError:
            self._fault(ImdFault.SELF_TEST_FAILED,
                        f"no completed self-test within {self._test_timeout_s:.1f} s")
        except DriverError as exc:
            self._fault(ImdFault.SELF_TEST_FAILED, f"device does not answer: {exc}")
        if channel.alarm == BenderAlarm.DEVICE_ERROR:
            self._fault(ImdFault.SELF_TEST_FAILED, "device error after the self-test")
        logger.info("connector %d: IMD self-test passed", self._cid)

    async def _poll_until(self, done: Callable[[BenderChannel], bool]) -> BenderChannel:
        while True:
            channel = await self.read_channel(REG_R_F)
            if done(channel):
                return channel
            await asyncio.sleep(self._poll_s)

    def _fault(self, fault: ImdFault, detail: str) -> NoReturn:
        logger.error("connector %d: IMD %s: %s", self._cid, fault, detail)
        raise DeviceFaulted(fault, f"connector {self._cid}: {detail}")


# The registry hands driver classes out untyped: mypy checks each against its role here.
_BENDER_ISO_CHA425_ROLE: type[InsulationMonitor] = BenderIsoCha425

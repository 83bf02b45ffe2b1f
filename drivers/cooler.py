"""The cooling unit of a liquid-cooled DC charging cable, over Modbus RTU on the station's
RS-485 bus (shared with the meters and IMDs through the bus owner,
:class:`drivers.modbus.ModbusBus`).

This is a *generic* unit, not a specific product: cable coolers of HPC chargers speak
vendor-specific maps, and this driver reads the small register map below, which a unit
(or a gateway in front of it) is expected to provide. Adapting it to a real product is
changing :data:`REG_STATUS` and the bit / scale constants. The unit runs its pump and fan
by itself; the controller only watches it.

Input registers (FC4), read in one request of three words from ``REG_STATUS``:

=====  ==================  =================================================
 reg    name                content
=====  ==================  =================================================
  0     status              bit 0 pump running, bit 1 fan running;
                            bit 8 pump failure, bit 9 fan failure,
                            bit 10 low coolant level, bit 11 coolant over-temperature,
                            bit 12 sensor failure (bits 2–7, 13–15 reserved, 0)
  1     coolant_temp        coolant temperature, 0.1 °C, signed 16 bit
  2     flow                coolant flow, 0.01 l/min, unsigned 16 bit
=====  ==================  =================================================

:meth:`ModbusCableCooler.run` polls every ``poll_ms``: any fault bit, or a flow below
``min_flow_l_min`` for ``fault_after`` polls in a row while the pump runs, ends it with
``DeviceFaulted(CoolerFault)``; ``fault_after`` unanswered polls in a row end it with
``DeviceSilent`` (the DC list's "software error while communicating with the cooling
unit"). Both are the connector's fault 21.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final

from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent, DriverError
from drivers.interfaces_station import CableCooler, CoolerFault, CoolerStatus
from drivers.modbus import ModbusBus
from drivers.params import Param, modbus_address

logger = logging.getLogger(__name__)

REG_STATUS: Final = 0
REG_COUNT: Final = 3
BIT_PUMP_RUNNING: Final = 1 << 0
BIT_FAN_RUNNING: Final = 1 << 1
FAULT_BITS: Final[Mapping[int, CoolerFault]] = {
    1 << 8: CoolerFault.PUMP_FAILURE,
    1 << 9: CoolerFault.FAN_FAILURE,
    1 << 10: CoolerFault.LOW_COOLANT,
    1 << 11: CoolerFault.OVER_TEMPERATURE,
    1 << 12: CoolerFault.SENSOR_FAILURE,
}
TEMP_LSB_C: Final = 0.1
FLOW_LSB_L_MIN: Final = 0.01


def decode_status(registers: Sequence[int]) -> CoolerStatus:
    """The three registers of the map, decoded."""
    if len(registers) < REG_COUNT:
        raise ValueError(f"the cooler map is {REG_COUNT} registers, got {len(registers)}")
    bits, temp, flow = registers[0], registers[1], registers[2]
    signed = temp - 0x10000 if temp & 0x8000 else temp
    return CoolerStatus(
        pump_running=bool(bits & BIT_PUMP_RUNNING),
        fan_running=bool(bits & BIT_FAN_RUNNING),
        coolant_c=round(signed * TEMP_LSB_C, 1),
        flow_l_min=round(flow * FLOW_LSB_L_MIN, 2),
        faults=frozenset(f for bit, f in FAULT_BITS.items() if bits & bit),
    )


def encode_status(status: CoolerStatus) -> list[int]:
    """The registers of ``status`` (the simulator's side of :func:`decode_status`)."""
    bits = (BIT_PUMP_RUNNING if status.pump_running else 0) | (
        BIT_FAN_RUNNING if status.fan_running else 0
    )
    for bit, fault in FAULT_BITS.items():
        if fault in status.faults:
            bits |= bit
    temp = round(status.coolant_c / TEMP_LSB_C) & 0xFFFF
    flow = max(0, min(0xFFFF, round(status.flow_l_min / FLOW_LSB_L_MIN)))
    return [bits, temp, flow]


class ModbusCableCooler:
    """:class:`drivers.interfaces_station.CableCooler` for the generic map above."""

    BUS_KIND: ClassVar[str] = "modbus"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the Modbus bus ([buses.modbus.<name>])"),
        "address": modbus_address("Modbus device id of the cooling unit", 20),
        "poll_ms": Param(int, 1000, min=20, max=60000, doc="polling period of run()"),
        "fault_after": Param(int, 3, min=1, max=100,
                             doc="missed answers / low-flow polls in a row before a fault"),
        "min_flow_l_min": Param(float, 1.0, min=0.0, max=100.0,
                                doc="lowest coolant flow while the pump runs"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._bus_name: str = params["bus"]
        self._address: int = params.get("address", 20)
        self._period_s: float = params.get("poll_ms", 1000) / 1000.0
        self._fault_after: int = params.get("fault_after", 3)
        self._min_flow: float = params.get("min_flow_l_min", 1.0)
        self._bus: ModbusBus | None = None
        self.last: CoolerStatus | None = None

    async def start(self) -> None:
        """Borrow the bus (a silent unit is found by the first polls, not here)."""
        self._bus = self._ctx.bus(self._bus_name, "Modbus")
        logger.info("connector %d: cable cooler id %d on bus %s", self._cid, self._address,
                    self._bus_name)

    async def release(self) -> None:
        """Nothing to release (the bus belongs to its owner)."""

    async def read(self) -> CoolerStatus:
        """One reading. Raises ``DeviceSilent`` (no answer) and ``DriverError`` (an
        exception response); the unit's fault bits are in the status."""
        if self._bus is None:
            raise RuntimeError(f"{self._ctx.where}: cooler used before start()")
        values = await self._bus.read_input_registers(self._address, REG_STATUS, REG_COUNT)
        if len(values) < REG_COUNT:
            raise DriverError(f"connector {self._cid}: cooler answered {len(values)} of "
                              f"{REG_COUNT} registers")
        self.last = decode_status(values)
        return self.last

    async def run(self, on_status: Callable[[CoolerStatus], None]) -> None:
        """Poll every ``poll_ms`` until cancelled; see the module docstring."""
        missed = 0
        low_flow = 0
        while True:
            try:
                status = await self.read()
            except DriverError as exc:
                missed += 1
                logger.warning("connector %d: cooler reading failed (%d): %s", self._cid,
                               missed, exc)
                if missed >= self._fault_after:
                    raise DeviceSilent(f"connector {self._cid}: cooling unit silent for "
                                       f"{missed} polls: {exc}") from exc
            else:
                missed = 0
                if status.faults:
                    names = ",".join(sorted(f.value for f in status.faults))
                    first = next(f for f in FAULT_BITS.values() if f in status.faults)
                    self._fault(first, f"unit reports {names}")
                if status.pump_running and status.flow_l_min < self._min_flow:
                    low_flow += 1
                    if low_flow >= self._fault_after:
                        self._fault(CoolerFault.LOW_FLOW,
                                    f"flow {status.flow_l_min:.2f} l/min < "
                                    f"{self._min_flow:.2f} with the pump running")
                else:
                    low_flow = 0
                on_status(status)
            await asyncio.sleep(self._period_s)

    def _fault(self, fault: CoolerFault, detail: str) -> None:
        logger.error("connector %d: cooler %s: %s", self._cid, fault, detail)
        raise DeviceFaulted(fault, f"connector {self._cid}: {detail}")


# The registry hands driver classes out untyped: mypy checks each against its role here.
_MODBUS_CABLE_COOLER_ROLE: type[CableCooler] = ModbusCableCooler

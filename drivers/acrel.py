"""Acrel DJSF1352-RN DC energy meter on a Modbus bus (RS-485, Modbus RTU).

The register map the driver relies on (holding registers, FC3, read as one block of 20
from address 0, as EVerest's ``Acrel_DJSF1352_RN`` driver reads them):

====  ======================================  =========================================
reg   content                                 decoding
====  ======================================  =========================================
0     DC voltage, value (u16)                 value × 10^(reg 1 − 3) V
1     DC voltage, decimal exponent
2     DC current, value (int16)               value × 10^(reg 3 − 3) A
3     DC current, decimal exponent
8     DC power, value (int16)                 value × 10^(reg 9 − 3) W
9     DC power, decimal exponent
12-13 total forward (import) energy, u32      high word first, × ``energy_unit_wh``
14-15 total reverse (export) energy, u32      high word first, × ``energy_unit_wh``
====  ======================================  =========================================

The energy unit differs between published readers of this meter (EVerest: 1 Wh; an
integrator's RN-6 map: 0.1 Wh; Acrel's own AC meters: 0.01 kWh); it is a parameter,
default 0.01 kWh (10 Wh), to be checked against the installed meter's manual.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from drivers.context import DriverContext
from drivers.errors import DeviceSilent, DriverError
from drivers.interfaces import EnergyMeter, MeterReading
from drivers.modbus import ModbusBus
from drivers.params import Param, modbus_address

logger = logging.getLogger(__name__)

REG_VOLTAGE: Final = 0
REG_CURRENT: Final = 2
REG_POWER: Final = 8
REG_IMPORT: Final = 12
REG_EXPORT: Final = 14
BLOCK: Final = 20  # registers read in one transaction from address 0


def decode_scaled(value: int, exponent: int, signed: bool) -> float:
    """``value × 10^(exponent − 3)``; ``signed`` reads the value as int16."""
    if signed and value >= 0x8000:
        value -= 0x10000
    return value * 10.0 ** (exponent - 3)


def encode_scaled(quantity: float, signed: bool) -> tuple[int, int]:
    """(value, exponent) registers for ``quantity``, at the finest resolution that fits."""
    limit = 0x7FFF if signed else 0xFFFF
    exponent = 0
    while True:
        raw = round(quantity * 10.0 ** (3 - exponent))
        if abs(raw) <= limit or exponent >= 9:
            break
        exponent += 1
    raw = max(-limit if signed else 0, min(limit, raw))
    return raw & 0xFFFF, exponent


def decode_u32(registers: Sequence[int], offset: int) -> int:
    return (registers[offset] << 16) | registers[offset + 1]


class AcrelDjsf1352Meter:
    """:class:`drivers.interfaces.EnergyMeter` for a DJSF1352-RN at ``address`` on ``bus``."""

    BUS_KIND: ClassVar[str] = "modbus"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the Modbus bus ([buses.modbus.<name>])"),
        "address": modbus_address("Modbus device id of the meter"),
        "energy_unit_wh": Param(float, 10.0, choices=(0.1, 1.0, 10.0),
                                doc="Wh per count of the energy registers"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._bus_name: str = params["bus"]
        self._address: int = params["address"]
        self._unit_wh = float(params.get("energy_unit_wh", 10.0))
        self._bus: ModbusBus | None = None
        self._silent = False

    async def start(self) -> None:
        """Borrow the bus (the first read is the first contact with the meter)."""
        self._bus = self._ctx.bus(self._bus_name, "Modbus")
        logger.info("connector %d: Acrel DJSF1352-RN at id %d on bus %s", self._cid,
                    self._address, self._bus_name)

    async def release(self) -> None:
        """Nothing to release: the bus belongs to its owner."""

    async def read(self) -> MeterReading:
        """Read every value; raises :class:`DeviceSilent` when the meter does not answer."""
        if self._bus is None:
            raise RuntimeError("meter read before start()")
        try:
            regs = await self._bus.read_holding_registers(self._address, 0, BLOCK)
        except DeviceSilent:
            if not self._silent:
                logger.warning("connector %d: DC meter id %d silent", self._cid, self._address)
            self._silent = True
            raise
        if self._silent:
            logger.info("connector %d: DC meter id %d answers again", self._cid, self._address)
            self._silent = False
        if len(regs) < BLOCK:
            raise DriverError(f"connector {self._cid}: DC meter id {self._address} answered "
                              f"{len(regs)} of {BLOCK} registers")
        voltage = decode_scaled(regs[REG_VOLTAGE], regs[REG_VOLTAGE + 1], signed=False)
        current = decode_scaled(regs[REG_CURRENT], regs[REG_CURRENT + 1], signed=True)
        power = decode_scaled(regs[REG_POWER], regs[REG_POWER + 1], signed=True)
        return MeterReading(
            energy_import_wh=decode_u32(regs, REG_IMPORT) * self._unit_wh,
            energy_export_wh=decode_u32(regs, REG_EXPORT) * self._unit_wh,
            power_w=power,
            voltage_v=(voltage,),
            current_a=(current,),
            power_phase_w=(power,),
        )


# The registry hands driver classes out untyped: mypy checks each against its role here.
_ACREL_DJSF1352_METER_ROLE: type[EnergyMeter] = AcrelDjsf1352Meter

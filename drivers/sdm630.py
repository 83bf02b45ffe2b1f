"""Eastron SDM630 (v2) three-phase energy meter on a Modbus bus."""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from drivers.context import DriverContext
from drivers.errors import DeviceSilent, DriverError
from drivers.interfaces import EnergyMeter, MeterReading
from drivers.modbus import ModbusBus
from drivers.params import Param, modbus_address

logger = logging.getLogger(__name__)

# FC4 input registers, float32 big-endian, high word first (protocol addresses).
REG_VOLTAGE: Final = 0  # L1, L2, L3 at 0, 2, 4
REG_CURRENT: Final = 6  # 6, 8, 10
REG_POWER_PHASE: Final = 12  # 12, 14, 16
REG_POWER_TOTAL: Final = 52
REG_FREQUENCY: Final = 70
REG_IMPORT_KWH: Final = 72
REG_EXPORT_KWH: Final = 74

# Three reads cover every value: 0-17 (V, I, P per phase), 52-53, 70-75.
_BLOCKS: Final = ((0, 18), (REG_POWER_TOTAL, 2), (REG_FREQUENCY, 6))


def decode_float32(registers: Sequence[int], offset: int = 0) -> float:
    """A float32 from two registers, high word first."""
    high, low = registers[offset], registers[offset + 1]
    value: float = struct.unpack(">f", struct.pack(">HH", high, low))[0]
    return value


def encode_float32(value: float) -> list[int]:
    """Two registers (high word first) holding ``value`` as float32."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


class Sdm630Meter:
    """:class:`drivers.interfaces.EnergyMeter` for an SDM630 at ``address`` on ``bus``."""

    BUS_KIND: ClassVar[str] = "modbus"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the Modbus bus ([buses.modbus.<name>])"),
        "address": modbus_address("Modbus device id of the meter"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._bus_name: str = params["bus"]
        self._address: int = params["address"]
        self._bus: ModbusBus | None = None
        self._silent = False

    async def start(self) -> None:
        """Borrow the bus (the first read is the first contact with the meter)."""
        self._bus = self._ctx.bus(self._bus_name, "Modbus")
        logger.info(
            "connector %d: SDM630 at id %d on bus %s", self._cid, self._address, self._bus_name
        )

    async def release(self) -> None:
        """Nothing to release: the bus belongs to its owner."""

    async def read(self) -> MeterReading:
        """Read every value; raises :class:`DeviceSilent` when the meter does not answer."""
        if self._bus is None:
            raise RuntimeError("meter read before start()")
        registers: dict[int, int] = {}
        try:
            for start, count in _BLOCKS:
                values = await self._bus.read_input_registers(self._address, start, count)
                if len(values) < count:
                    raise DriverError(
                        f"connector {self._cid}: SDM630 id {self._address} answered "
                        f"{len(values)} of {count} registers at {start}"
                    )
                registers.update(zip(range(start, start + count), values, strict=False))
        except DeviceSilent:
            if not self._silent:
                logger.warning("connector %d: SDM630 id %d silent", self._cid, self._address)
            self._silent = True
            raise
        if self._silent:
            logger.info("connector %d: SDM630 id %d answers again", self._cid, self._address)
            self._silent = False

        def value(address: int) -> float:
            return decode_float32([registers[address], registers[address + 1]])

        return MeterReading(
            energy_import_wh=value(REG_IMPORT_KWH) * 1000.0,
            energy_export_wh=value(REG_EXPORT_KWH) * 1000.0,
            power_w=value(REG_POWER_TOTAL),
            voltage_v=tuple(value(REG_VOLTAGE + 2 * i) for i in range(3)),
            current_a=tuple(value(REG_CURRENT + 2 * i) for i in range(3)),
            power_phase_w=tuple(value(REG_POWER_PHASE + 2 * i) for i in range(3)),
            frequency_hz=value(REG_FREQUENCY),
        )


# The registry hands driver classes out untyped: mypy checks each against its role here.
_SDM630_METER_ROLE: type[EnergyMeter] = Sdm630Meter

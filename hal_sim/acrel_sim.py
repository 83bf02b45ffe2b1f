"""A simulated Acrel DJSF1352-RN DC meter: the registers :mod:`drivers.acrel` reads.

The model measures the DC output of its connector in the simulated world (voltage,
current, power at the vehicle side, energy integrated by the world) and encodes it as
the meter does: value and decimal exponent per quantity, energy as a u32 count of
``energy_unit_wh``. Without a world (or before it exists) it serves what :meth:`set`
gave it. The world's fault 22 (``dc_meter_silent``) or ``silent = True`` make it mute.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from drivers.acrel import REG_CURRENT, REG_EXPORT, REG_IMPORT, REG_POWER, REG_VOLTAGE, encode_scaled
from hal_sim.modbus_sim import ModbusDeviceModel

if TYPE_CHECKING:
    from hal_sim.world import ConnectorSim


class AcrelModel(ModbusDeviceModel):
    """The meter of connector ``connector_id``; ``world_of`` finds the world (or None)."""

    def __init__(self, connector_id: int, world_of: Callable[[], Any] = lambda: None,
                 energy_unit_wh: float = 10.0) -> None:
        self._mute = False
        super().__init__()
        self.connector_id = connector_id
        self.energy_unit_wh = energy_unit_wh
        self._world_of = world_of
        self.voltage_v = 0.0
        self.current_a = 0.0
        self.power_w = 0.0
        self.import_wh = 0.0
        self.export_wh = 0.0

    def set(self, *, voltage_v: float | None = None, current_a: float | None = None,
            import_wh: float | None = None) -> None:
        """Values to serve when there is no world (power follows V × I)."""
        if voltage_v is not None:
            self.voltage_v = voltage_v
        if current_a is not None:
            self.current_a = current_a
        if import_wh is not None:
            self.import_wh = import_wh
        self.power_w = self.voltage_v * self.current_a

    def _conn(self) -> ConnectorSim | None:
        world = self._world_of()
        if world is None:
            return None
        conn: ConnectorSim | None = world.connectors.get(self.connector_id)
        return conn

    @property  # type: ignore[override]
    def silent(self) -> bool:
        conn = self._conn()
        return self._mute or (conn is not None and conn.dc_meter_silent)

    @silent.setter
    def silent(self, value: bool) -> None:
        self._mute = value

    def registers(self) -> Mapping[int, int]:
        conn = self._conn()
        if conn is not None:
            conn.world.step()
            self.voltage_v = conn.voltage_v[0] if conn.voltage_v else 0.0
            self.current_a = conn.current_a[0] if conn.current_a else 0.0
            self.power_w = conn.power_w
            self.import_wh = conn.energy_wh
        regs: dict[int, int] = {}
        regs[REG_VOLTAGE], regs[REG_VOLTAGE + 1] = encode_scaled(self.voltage_v, signed=False)
        regs[REG_CURRENT], regs[REG_CURRENT + 1] = encode_scaled(self.current_a, signed=True)
        regs[REG_POWER], regs[REG_POWER + 1] = encode_scaled(self.power_w, signed=True)
        for address, wh in ((REG_IMPORT, self.import_wh), (REG_EXPORT, self.export_wh)):
            count = max(0, min(0xFFFFFFFF, int(wh / self.energy_unit_wh)))
            regs[address], regs[address + 1] = count >> 16, count & 0xFFFF
        return regs

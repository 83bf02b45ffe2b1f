"""A simulated liquid-cooled DC cable: the PT1000 amplifiers of its contact sensors on
ADS1115 inputs (:class:`CableCircuit`) and its cooling unit on the RS-485 bus
(:class:`CoolerModel`, the generic map of :mod:`drivers.cooler`).

Both follow the world's connector when there is one: the contacts warm up with the
square of the charging current (first order, time constant :data:`TAU_S`), the coolant a
little with the current. Fault flags: ``set_open(n)`` opens sensor ``n``'s wire (the
amplifier goes to its high rail, ``RAIL_V``), ``set_short(n)`` shorts it (0 V),
``override_c`` forces the contact temperatures; on the cooler ``pump_failed``,
``fan_failed``, ``low_coolant``, ``over_temperature``, ``sensor_failed``,
``flow_override_l_min`` and ``silent`` (no answer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from drivers.cooler import encode_status
from drivers.interfaces_station import CoolerFault, CoolerStatus
from hal_sim.fake_smbus import Ads1115Model
from hal_sim.modbus_sim import ModbusDeviceModel

log = logging.getLogger(__name__)

AMBIENT_C = 25.0
RAIL_V = 3.3  # the amplifier's supply: where an open sensor drives its output
TAU_S = 20.0  # thermal time constant of the contacts
RISE_C_PER_A2 = 20.0 / 125.0**2  # 20 K above the coolant at 125 A (a cooled HPC cable)
UPDATE_S = 0.25
NOMINAL_FLOW_L_MIN = 4.0


def _world_current(world_of: Callable[[], Any], connector_id: int) -> float:
    world = world_of()
    conn = None if world is None else world.connectors.get(connector_id)
    if conn is None or not conn.current_a:
        return 0.0
    return abs(float(conn.current_a[0]))


class CableCircuit:
    """The contact sensors of connector ``connector_id``'s cable, written to ``adc``."""

    def __init__(self, connector_id: int, params: Mapping[str, Any], adc: Ads1115Model,
                 world_of: Callable[[], Any] = lambda: None) -> None:
        self.connector_id = connector_id
        self.adc = adc
        self._world_of = world_of
        self._channels: tuple[int, ...] = tuple(params.get("channels", (2, 3)))
        self._offset_v: float = params.get("offset_v", 0.5)
        self._c_per_volt: float = params.get("c_per_volt", 100.0)
        self._temps = [AMBIENT_C for _ in self._channels]
        self.opened: set[int] = set()
        self.shorted: set[int] = set()
        self.override_c: float | None = None
        self._last = time.monotonic()
        self.write()

    @property
    def temperatures_c(self) -> tuple[float, ...]:
        """The contacts' temperatures (what a good sensor shows)."""
        if self.override_c is not None:
            return tuple(self.override_c for _ in self._channels)
        return tuple(self._temps)

    def set_open(self, index: int = 0, on: bool = True) -> None:
        """Open (or reconnect) sensor ``index``'s wire (0: DC+, 1: DC-)."""
        (self.opened.add if on else self.opened.discard)(index)
        log.info("connector %d: cable sensor %d wire %s", self.connector_id, index,
                 "open" if on else "reconnected")
        self.write()

    def set_short(self, index: int = 0, on: bool = True) -> None:
        """Short (or repair) sensor ``index``."""
        (self.shorted.add if on else self.shorted.discard)(index)
        log.info("connector %d: cable sensor %d %s", self.connector_id, index,
                 "shorted" if on else "repaired")
        self.write()

    def set_temperature(self, celsius: float | None) -> None:
        """Force every contact to ``celsius`` (None: follow the current again)."""
        self.override_c = celsius
        log.info("connector %d: cable contacts %s", self.connector_id,
                 "follow the current" if celsius is None else f"at {celsius:.1f} °C")
        self.write()

    def step(self, dt: float) -> None:
        """Advance the contacts' temperatures by ``dt`` seconds at the world's current."""
        amps = _world_current(self._world_of, self.connector_id)
        target = AMBIENT_C + RISE_C_PER_A2 * amps * amps
        k = min(1.0, dt / TAU_S)
        self._temps = [t + (target - t) * k for t in self._temps]
        self.write()

    def write(self) -> None:
        """Put every amplifier's output on its ADC input."""
        for n, (channel, celsius) in enumerate(zip(self._channels, self.temperatures_c,
                                                   strict=True)):
            if n in self.shorted:
                volts = 0.0
            elif n in self.opened:
                volts = RAIL_V
            else:
                volts = max(0.0, min(RAIL_V, self._offset_v + celsius / self._c_per_volt))
            self.adc.set_channel(channel, volts)

    async def run(self) -> None:
        """Follow the world until cancelled."""
        self._last = time.monotonic()
        while True:
            await asyncio.sleep(UPDATE_S)
            now = time.monotonic()
            self.step(now - self._last)
            self._last = now

    def state(self) -> dict[str, Any]:
        return {"temperatures_c": [round(t, 2) for t in self.temperatures_c],
                "open": sorted(self.opened), "shorted": sorted(self.shorted)}


class CoolerModel(ModbusDeviceModel):
    """The cooling unit of connector ``connector_id``'s cable (input registers 0–2)."""

    register_space = 16

    def __init__(self, connector_id: int, world_of: Callable[[], Any] = lambda: None) -> None:
        super().__init__()
        self.connector_id = connector_id
        self._world_of = world_of
        self.pump_failed = False
        self.fan_failed = False
        self.low_coolant = False
        self.over_temperature = False
        self.sensor_failed = False
        self.flow_override_l_min: float | None = None

    def status(self) -> CoolerStatus:
        """What the unit reports now."""
        flags = (
            (self.pump_failed, CoolerFault.PUMP_FAILURE),
            (self.fan_failed, CoolerFault.FAN_FAILURE),
            (self.low_coolant, CoolerFault.LOW_COOLANT),
            (self.over_temperature, CoolerFault.OVER_TEMPERATURE),
            (self.sensor_failed, CoolerFault.SENSOR_FAILURE),
        )
        active = frozenset(fault for flag, fault in flags if flag)
        amps = _world_current(self._world_of, self.connector_id)
        flow = 0.0 if self.pump_failed else NOMINAL_FLOW_L_MIN
        if self.flow_override_l_min is not None:
            flow = self.flow_override_l_min
        return CoolerStatus(
            pump_running=not self.pump_failed,
            fan_running=not self.fan_failed,
            coolant_c=round(AMBIENT_C + 3.0 + 0.05 * amps, 1),
            flow_l_min=flow,
            faults=active,
        )

    def registers(self) -> Mapping[int, int]:
        return dict(enumerate(encode_status(self.status())))

    def state(self) -> dict[str, Any]:
        return {**self.status().as_json(), "silent": self.silent}

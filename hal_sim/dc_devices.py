"""Interface-level stand-ins for the DC roles: power stack, IMD, EV communication, DC meter.

Registered with ``drivers.registry`` through the ``evse.drivers`` entry points of
pyproject.toml as ``sim`` (``sim_dc`` for the meter). Unlike the AC drivers, which run
on simulated wires, these implement the HAL interfaces directly on the simulated world,
until the DC issue brings wire-level drivers (CAN power stacks,
Modbus IMD and meter, an ISO 15118 stack). They find the world through
``ctx.wiring.extras["world"]`` and their connector through ``ctx.connector_id``, and read
it lazily, so they can be built before the world is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.interfaces import (
    DriverHealth,
    EnergyMeter,
    EvCommunication,
    EvStatus,
    ImdFault,
    InsulationMonitor,
    MeterReading,
    PowerCapabilities,
    PowerStack,
    PowerStackFault,
)
from drivers.params import Param
from hal_sim.ev_dc import DcEv, DcOutput
from hal_sim.world import ConnectorSim, World

log = logging.getLogger(__name__)

MIN_VOLTAGE_V = 150.0
OFF_CURRENT_A = 2.0  # off() returns once the output current is below this
OFF_TIMEOUT_S = 2.0
OFF_POLL_S = 0.01


class _WorldDevice:
    """Common part: the connector in the simulated world this device belongs to."""

    PARAMS: ClassVar[dict[str, Param]] = {}

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self.params = dict(params)
        self.ctx = ctx
        self.connector_id = ctx.connector_id
        self._unsubscribe: list[Callable[[], None]] = []

    @property
    def world(self) -> World:
        extras: dict[str, Any] = getattr(self.ctx.wiring, "extras", {})
        world = extras.get("world")
        if not isinstance(world, World):
            raise RuntimeError(f"{self.ctx.where}: no simulated world in the wiring")
        return world

    @property
    def conn(self) -> ConnectorSim:
        return self.world.connector(self.connector_id)

    async def start(self) -> None:
        """Nothing to claim: the world is the device."""

    async def release(self) -> None:
        """Stop hearing the world (the world outlives a station restarted in-process)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()

    def health(self) -> DriverHealth:
        return DriverHealth()


class SimPowerStack(_WorldDevice):
    """The connector's power modules as one source (PowerStack)."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "modules": Param(int, 2, min=1, max=12, doc="power modules assigned to the connector"),
        "module_max_current_a": Param(float, 50.0, min=1, max=1000, doc="per module"),
        "module_max_power_w": Param(float, 30000.0, min=100, max=1e6, doc="per module"),
        "max_voltage_v": Param(float, 1000.0, min=100, max=1500, doc="output maximum"),
    }

    def capabilities(self) -> PowerCapabilities:
        p = self.params
        modules = int(p.get("modules", 2))
        return PowerCapabilities(
            min_voltage_v=MIN_VOLTAGE_V,
            max_voltage_v=float(p.get("max_voltage_v", 1000.0)),
            max_current_a=modules * float(p.get("module_max_current_a", 50.0)),
            max_power_w=modules * float(p.get("module_max_power_w", 30000.0)),
        )

    @property
    def _out(self) -> DcOutput:
        out = self.conn.dc
        if out is None:
            raise RuntimeError(f"connector {self.connector_id}: not a DC connector")
        return out

    async def set_output(self, voltage_v: float, current_a: float) -> None:
        caps = self.capabilities()
        voltage = max(0.0, min(voltage_v, caps.max_voltage_v))
        # Current is limited by the modules and by their power at that voltage.
        limit = caps.max_current_a
        if voltage > 0:
            limit = min(limit, caps.max_power_w / voltage)
        out = self._out
        out.set_v = voltage
        out.set_a = max(0.0, min(current_a, limit))

    async def on(self) -> None:
        out = self._out
        if out.faulted:
            raise DeviceFaulted(PowerStackFault.GENERIC, "a module is in fault")
        if not out.enabled:
            log.info("connector %d: power stack on", self.connector_id)
        out.enabled = True

    def emergency_off(self) -> None:
        out = self._out
        if out.enabled:
            log.info("connector %d: power stack off", self.connector_id)
        out.enabled = False

    async def off(self) -> None:
        self.emergency_off()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OFF_TIMEOUT_S
        while True:
            self.world.step()
            if self._out.current < OFF_CURRENT_A:
                return
            if loop.time() >= deadline:
                raise DeviceFaulted(
                    PowerStackFault.GENERIC, f"output still {self._out.current:.1f} A after off"
                )
            await asyncio.sleep(OFF_POLL_S)

    def measured(self) -> tuple[float, float]:
        out = self._out
        return out.voltage, out.current

    def faults(self) -> frozenset[PowerStackFault]:
        return frozenset({PowerStackFault.GENERIC}) if self._out.faulted else frozenset()


class SimImd(_WorldDevice):
    """Insulation monitor (InsulationMonitor): 10 MΩ healthy, 50 kΩ with fault 18."""

    async def self_test(self) -> None:
        if self.conn.imd_self_test_fails:
            raise DeviceFaulted(ImdFault.SELF_TEST_FAILED, "simulated self-test failure")

    async def resistance_ohm(self) -> float:
        return self.conn.imd_ohm

    @property
    def alarm(self) -> bool:
        return self.conn.imd_alarm

    def subscribe(self, on_alarm: Callable[[bool], None]) -> None:
        self._unsubscribe.append(self.conn.subscribe_imd(on_alarm))


class SimEvComm(_WorldDevice):
    """EV communication (EvCommunication) with the world's DC EV model."""

    def status(self) -> EvStatus:
        return self.conn.ev_status()

    def subscribe(self, on_change: Callable[[EvStatus], None]) -> None:
        self._unsubscribe.append(self.conn.subscribe_ev(on_change))

    def present(self, voltage_v: float, current_a: float, limits_current_a: float) -> None:
        ev = self.conn.ev
        if isinstance(ev, DcEv):
            ev.present_v = voltage_v
            ev.present_a = current_a
            ev.present_limit_a = limits_current_a


class SimDcMeter(_WorldDevice):
    """DC energy meter (EnergyMeter) at the vehicle connector."""

    async def read(self) -> MeterReading:
        conn = self.conn
        if conn.dc_meter_silent:
            raise DeviceSilent(f"connector {self.connector_id}: DC meter does not answer")
        self.world.step()
        return MeterReading(
            energy_import_wh=conn.energy_wh,
            power_w=conn.power_w,
            voltage_v=conn.voltage_v,
            current_a=conn.current_a,
            power_phase_w=(conn.power_w,),
        )


# The registry hands driver classes out untyped: mypy checks each against its role here.
_SIM_POWER_STACK_ROLE: type[PowerStack] = SimPowerStack
_SIM_IMD_ROLE: type[InsulationMonitor] = SimImd
_SIM_EV_COMM_ROLE: type[EvCommunication] = SimEvComm
_SIM_DC_METER_ROLE: type[EnergyMeter] = SimDcMeter

"""A rig for the DC power drivers: a station file with a CAN module pool, the real CAN bus
owner, module pool and module-group stacks built through the registry as the station
builds them, on simulated wires (SimWiring's virtual CAN with simulated InfyPower
modules), optionally with the simulated world and the connectors' contactors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from drivers.can_bus import CanBusOwner
from drivers.contactor import GpioContactor
from drivers.context import DriverContext
from drivers.module_group import ModuleGroupStack
from drivers.power_modules import CanModulePool
from drivers.registry import driver_class
from firmware.clock import ManualClock
from firmware.config import StationConfig, parse_station
from hal_sim.can_stacks import CanStackSim
from hal_sim.circuits import SimHardware
from hal_sim.sim_wiring import SimWiring
from hal_sim.world import World

TICK_S = 0.05


def station_toml(*, switchable: bool = True, modules: int = 4, poll_ms: int = 20,
                 meters: str = "sim_dc", station_id: str = "T-DC-1") -> str:
    """Two CHAdeMO connectors (no pilot: the EV is ready on its own) with two modules each."""
    meter = {
        1: '[connectors.meter]\ndriver = "sim_dc"\n',
        2: '[connectors.meter]\ndriver = "sim_dc"\n',
    }
    buses = ""
    if meters == "acrel":
        buses = '[buses.modbus.rs485]\ndriver = "rtu"\nport = "/dev/ttyAMA2"\nbaudrate = 19200\n'
        for cid in (1, 2):
            meter[cid] = (f'[connectors.meter]\ndriver = "acrel_djsf1352"\nbus = "rs485"\n'
                          f"address = {10 + cid}\n")
    connectors = ""
    for cid, pin in ((1, 17), (2, 24)):
        connectors += f"""
[[connectors]]
id = {cid}
kind = "chademo"
max_current_a = 200
max_voltage_v = 500
max_power_w = 100000

[connectors.contactor]
driver = "gpio"
pin = {pin}

[connectors.power_stack]
driver = "module_group"
bus = "stacks"
first_module = {2 * (cid - 1)}
modules = 2

[connectors.imd]
driver = "sim"

[connectors.ev_comm]
driver = "sim"

{meter[cid]}
"""
    return f"""
[station]
charge_point_id = "{station_id}"
vendor = "test"
model = "test"
max_grid_power_w = 100000

[buses.can.stacks]
driver = "virtual"
channel = "stacks"

{buses}

[devices.power_modules]
driver = "infypower"
bus = "stacks"
modules = {modules}
poll_ms = {poll_ms}
switchable = {"true" if switchable else "false"}
{connectors}
"""


class PowerRig:
    """The DC power drivers of a two-connector station on simulated wires."""

    def __init__(self, toml: str | None = None, *, world: bool = False) -> None:
        self.config: StationConfig = parse_station(toml or station_toml(), "test.toml")
        self.clock = ManualClock()
        self.wiring = SimWiring(self.config)
        self.buses: dict[str, Any] = {}
        for name, bus in self.config.buses.items():
            cls = driver_class(f"bus.{bus.kind}", bus.driver)
            self.buses[name] = cls(bus.params, self._ctx(bus.key, 0))
        pool_cfg = self.config.devices["power_modules"]
        self.pool: CanModulePool = self._build(pool_cfg.role, pool_cfg.driver, pool_cfg.params,
                                            pool_cfg.key, 0)
        self.stacks: dict[int, ModuleGroupStack] = {}
        self.contactors: dict[int, GpioContactor] = {}
        self.hw: SimHardware | None = None
        self.world: World | None = None
        if world:
            self.hw = SimHardware.build(self.config, self.wiring)
            self.world = World(self.config, self.hw, self.wiring, self.clock.monotonic)
        for c in self.config.connectors:
            stack = c.devices["power_stack"]
            self.stacks[c.id] = self._build("power_stack", stack.driver, stack.params,
                                            stack.key, c.id)
            if world:
                contactor = c.devices["contactor"]
                self.contactors[c.id] = GpioContactor(contactor.params,
                                                      self._ctx(contactor.key, c.id))

    def _ctx(self, where: str, cid: int) -> DriverContext:
        return DriverContext(self.wiring, cid, where, self.buses, self.clock.monotonic)

    def _build(self, role: str, driver: str, params: Any, key: str, cid: int) -> Any:
        return driver_class(role, driver)(params, self._ctx(key, cid))

    @property
    def can(self) -> CanBusOwner:
        bus = self.buses["stacks"]
        assert isinstance(bus, CanBusOwner)
        return bus

    @property
    def sim(self) -> CanStackSim:
        sim = self.wiring.can_stacks("stacks")
        assert sim is not None
        return sim

    async def start(self) -> None:
        await self.wiring.start()
        for bus in self.buses.values():
            await bus.start()
        for contactor in self.contactors.values():
            await contactor.start()
        for stack in self.stacks.values():
            await stack.start()
        await self.pool.start()

    async def stop(self) -> None:
        for stack in self.stacks.values():
            await stack.release()
        await self.pool.release()
        for contactor in self.contactors.values():
            await contactor.release()
        for bus in self.buses.values():
            await bus.release()
        await self.wiring.stop()

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = 3.0
                    ) -> None:
        """Let frames flow (real time) until ``condition()`` holds."""
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.005)
        assert condition(), what

    async def run_for(self, seconds: float, tick: float = TICK_S) -> None:
        """Advance the manual clock (and the world) in ticks, letting frames flow."""
        for _ in range(round(seconds / tick)):
            self.clock.advance(tick)
            if self.world is not None:
                self.world.step()
            await asyncio.sleep(0.004)

    async def poll(self) -> None:
        """One keep-alive round and its answers."""
        before = self.pool.counters["replies"]
        self.pool.poll_once()
        await self.until(lambda: self.pool.counters["replies"] > before, "replies")
        await asyncio.sleep(0.02)

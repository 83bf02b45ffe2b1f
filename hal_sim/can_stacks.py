"""Simulated InfyPower power modules on a station's virtual CAN channel.

Each :class:`SimModule` answers the real frames (:mod:`drivers.infypower`) addressed to
it: module count, output, status, ratings, on/off, set-point, group. Its output follows
its group, the connector its output is switched to (the station's wiring at start, then
the group frames of the controller, like an output contactor matrix). For a DC connector
of the simulated world, the group's running modules drive that connector's
:class:`~hal_sim.ev_dc.DcOutput` (the world's load model: current flows into the EV's
battery only with the contactor closed and the EV's contactors in) and share its current
in proportion to what each delivers; anywhere else a module's output voltage ramps at
500 V/s into an open output. Modules heat up with their power, switch off after 10 s
without a frame from the controller, and take fault injection: any
:class:`~drivers.interfaces.PowerStackFault` as its status bit (the module switches its
output off), or ``silent`` (a dead module: no answer, no output). The world's DC fault
19 (``DcOutput.faulted``) shows as the fault bit of every module in that connector's group.

Physics advances lazily, whenever a frame arrives (the controller polls several times a
second), on the world's clock when there is a world.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import can

from drivers.can_bus import release_can
from drivers.infypower import (
    BIT_FOR_FAULT,
    BROADCAST,
    CMD_COUNT,
    CMD_GROUP,
    CMD_LIMITS,
    CMD_ON_OFF,
    CMD_OUTPUT,
    CMD_SET,
    CMD_STATUS,
    CONTROLLER,
    DEVICE_MODULE,
    ERROR_COMMAND_INVALID,
    ERROR_DATA_INVALID,
    FrameId,
    InfyStatus,
    frame,
)
from drivers.interfaces import PowerStackFault
from drivers.module_protocol import ModuleLimits

if TYPE_CHECKING:
    from firmware.config.model import DeviceConfig, StationConfig
    from hal_sim.world import World

log = logging.getLogger(__name__)

WATCHDOG_S = 10.0  # a module switches off after this long without a controller frame
VOLTAGE_RAMP_V_PER_S = 500.0
DISCHARGE_V_PER_S = 1000.0
AMBIENT_C = 25.0
HEATING_C_AT_RATED_POWER = 40.0  # steady-state rise above ambient at full power
THERMAL_TAU_S = 60.0
OVER_TEMPERATURE_C = 95.0  # the module protects itself above this


@dataclass
class SimModule:
    """One simulated module: what the controller commanded and what its output does."""

    address: int
    limits: ModuleLimits
    group: int = 0
    on: bool = False
    set_v: float = 0.0
    set_a: float = 0.0
    voltage_v: float = 0.0
    current_a: float = 0.0
    temperature_c: float = AMBIENT_C
    injected: set[PowerStackFault] = field(default_factory=set)
    silent: bool = False
    heard_at: float = 0.0  # last controller frame to this module (watchdog)
    requests: int = 0

    def running(self, group_faulted: bool = False) -> bool:
        """Delivering power: on, no fault, alive."""
        return self.on and not self.injected and not self.silent and not group_faulted

    def current_limit(self) -> float:
        """What the module delivers now: its set current, power-limited at the voltage
        it runs at (the set-point until it has an output)."""
        return min(self.set_a, self.limits.current_at(self.voltage_v or self.set_v))

    def status(self, group_faulted: bool) -> int:
        word: int = 0
        for fault in self.injected:
            word |= BIT_FOR_FAULT[fault]
        if group_faulted:
            word |= InfyStatus.FAULT
        if not self.running(group_faulted):
            word |= InfyStatus.DC_OFF
        if self.set_a > self.current_limit():
            word |= InfyStatus.POWER_LIMITED
        return word


class CanStackSim:
    """The modules on one virtual CAN channel (see the module docstring).

    ``await start()`` opens a virtual bus on ``channel`` and answers frames until
    ``await stop()``. ``world_of`` finds the simulated world (None: no world).
    """

    def __init__(
        self,
        channel: str,
        modules: Iterable[SimModule],
        world_of: Callable[[], World | None] = lambda: None,
        controller: int = CONTROLLER,
    ) -> None:
        self.channel = channel
        self.modules: dict[int, SimModule] = {m.address: m for m in modules}
        self.controller = controller
        self.received: deque[can.Message] = deque(maxlen=1000)  # every request, newest last
        self._world_of = world_of
        self._bus: Any = None
        self._notifier: can.Notifier | None = None
        self._clock: Callable[[], float] = time.monotonic
        self._clock_owner: object = None
        self._last = self._clock()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._bus is not None:
            return
        self._bus = can.Bus(interface="virtual", channel=self.channel)
        self._notifier = can.Notifier(self._bus, [self._on_frame], timeout=0.05,
                                      loop=asyncio.get_running_loop())
        log.info("simulated power modules %s on CAN %s", sorted(self.modules), self.channel)

    async def stop(self) -> None:
        notifier, self._notifier = self._notifier, None
        bus, self._bus = self._bus, None
        await release_can(notifier, bus)

    # ------------------------------------------------------------------ fault injection

    def module(self, address: int) -> SimModule:
        try:
            return self.modules[address]
        except KeyError:
            raise KeyError(f"no simulated power module {address}") from None

    def inject(self, address: int, fault: PowerStackFault) -> None:
        """The module reports ``fault`` and switches its output off until cleared."""
        self.step()
        self.module(address).injected.add(PowerStackFault(fault))
        log.info("power module %d: fault %s injected", address, fault)
        self._drive_outputs()

    def clear(self, address: int, fault: PowerStackFault | None = None) -> None:
        """Clear one injected fault (or all) of a module."""
        self.step()
        module = self.module(address)
        if fault is None:
            module.injected.clear()
        else:
            module.injected.discard(PowerStackFault(fault))
        self._drive_outputs()

    def set_silent(self, address: int, silent: bool = True) -> None:
        """A dead module (no answer, no output) or back alive (off, as after a restart)."""
        self.step()
        module = self.module(address)
        module.silent = silent
        if not silent:
            module.on = False
            module.heard_at = self._now()
        log.info("power module %d %s", address, "silent" if silent else "answers again")
        self._drive_outputs()

    # ------------------------------------------------------------------ time and physics

    def _world(self) -> World | None:
        world = self._world_of()
        if world is not None and self._clock_owner is not world:
            # The world's clock (possibly a test's manual clock) from now on.
            self._clock_owner = world
            self._clock = world.now
            self._last = self._clock()
            for module in self.modules.values():
                module.heard_at = self._last
        return world

    def _now(self) -> float:
        self._world()
        return self._clock()

    def _group_faulted(self, group: int) -> bool:
        world = self._world()
        if world is None or group not in world.connectors:
            return False
        dc = world.connectors[group].dc
        return dc is not None and dc.faulted

    def step(self) -> None:
        """Advance the modules (and the world) to now."""
        world = self._world()
        now = self._clock()
        dt = max(0.0, now - self._last)
        self._last = now
        for module in self.modules.values():
            if module.on and not module.silent and now - module.heard_at > WATCHDOG_S:
                module.on = False
                log.warning("power module %d: no controller frame for %.0f s, output off",
                            module.address, WATCHDOG_S)
        if world is not None:
            self._drive_outputs()
            world.step()
        for group, members in self._groups().items():
            dc = self._dc(group)
            if dc is not None:
                self._read_world_output(members, dc.voltage, dc.current, group)
            else:
                self._open_output(members, dt)
        for module in self.modules.values():
            self._heat(module, dt)

    def _groups(self) -> dict[int, list[SimModule]]:
        groups: dict[int, list[SimModule]] = {}
        for module in self.modules.values():
            groups.setdefault(module.group, []).append(module)
        return groups

    def _dc(self, group: int) -> Any:
        world = self._world()
        if group == 0 or world is None or group not in world.connectors:
            return None
        return world.connectors[group].dc

    def _drive_outputs(self) -> None:
        """Put the running modules' set-points on their connectors' DC outputs."""
        for group, members in self._groups().items():
            dc = self._dc(group)
            if dc is None:
                continue
            faulted = self._group_faulted(group)
            running = [m for m in members if m.running(faulted)]
            dc.enabled = bool(running)
            if running:
                dc.set_v = max(m.set_v for m in running)
                dc.set_a = sum(m.current_limit() for m in running)

    def _read_world_output(self, members: Sequence[SimModule], volts: float, amps: float,
                           group: int) -> None:
        faulted = self._group_faulted(group)
        running = [m for m in members if m.running(faulted)]
        capacity = sum(m.current_limit() for m in running)
        for module in members:
            module.voltage_v = volts if not module.silent else 0.0
            share = module.current_limit() / capacity if module in running and capacity else 0.0
            module.current_a = amps * share

    @staticmethod
    def _open_output(members: Sequence[SimModule], dt: float) -> None:
        for module in members:
            module.current_a = 0.0
            if module.running():
                step = VOLTAGE_RAMP_V_PER_S * dt
                target = module.set_v
            else:
                step = DISCHARGE_V_PER_S * dt
                target = 0.0
            module.voltage_v += max(-step, min(step, target - module.voltage_v))

    @staticmethod
    def _heat(module: SimModule, dt: float) -> None:
        power = module.voltage_v * module.current_a
        target = AMBIENT_C + HEATING_C_AT_RATED_POWER * power / module.limits.max_power_w
        module.temperature_c += (target - module.temperature_c) * min(1.0, dt / THERMAL_TAU_S)
        if module.temperature_c > OVER_TEMPERATURE_C:
            module.injected.add(PowerStackFault.OVER_TEMPERATURE)

    # ------------------------------------------------------------------ frames

    def _on_frame(self, msg: can.Message) -> None:
        if not msg.is_extended_id or len(msg.data) < 8:
            return
        fid = FrameId.parse(msg.arbitration_id)
        if fid.device != DEVICE_MODULE or fid.source != self.controller:
            return
        targets = [m for m in self.modules.values()
                   if not m.silent and fid.destination in (m.address, BROADCAST)]
        if not targets:
            return
        self.received.append(msg)
        self.step()
        now = self._clock()
        for module in targets:
            module.heard_at = now
            module.requests += 1
            answer = self._handle(module, fid.command, bytes(msg.data))
            if answer is not None:
                error, data = answer
                self._send(frame(fid.command, self.controller, data, source=module.address,
                                 error=error))
        self._drive_outputs()

    def _handle(self, module: SimModule, command: int, data: bytes) -> tuple[int, bytes] | None:
        """(error code, answer payload) for one request."""
        if command == CMD_COUNT:
            alive = sum(not m.silent for m in self.modules.values())
            return 0, bytes([0, 0, alive & 0xFF]) + bytes(5)
        if command == CMD_OUTPUT:
            return 0, struct.pack(">ff", module.voltage_v, module.current_a)
        if command == CMD_STATUS:
            status = module.status(self._group_faulted(module.group))
            temperature = max(-128, min(127, round(module.temperature_c)))
            return 0, bytes(4) + struct.pack(">b", temperature) + status.to_bytes(3, "big")
        if command == CMD_LIMITS:
            lim = module.limits
            return 0, struct.pack(">HHHH", round(lim.max_voltage_v), round(lim.min_voltage_v),
                                  round(lim.max_current_a * 10), round(lim.max_power_w / 10))
        if command == CMD_ON_OFF:
            module.on = data[0] == 0
            return 0, data
        if command == CMD_SET:
            millivolts, milliamps = struct.unpack(">II", data)
            volts = millivolts / 1000.0
            if volts > module.limits.max_voltage_v:
                return ERROR_DATA_INVALID, data
            module.set_v, module.set_a = volts, milliamps / 1000.0
            return 0, data
        if command == CMD_GROUP:
            if data[0] != module.group:
                log.info("power module %d: output switched from connector %d to %d",
                         module.address, module.group, data[0])
                module.on = False  # the matrix switches a module only while it is off
                module.group = data[0]
            return 0, data
        return ERROR_COMMAND_INVALID, data

    def _send(self, msg: can.Message) -> None:
        if self._bus is None:
            return
        with contextlib.suppress(can.CanError):
            self._bus.send(msg)


def modules_from_config(config: StationConfig, pool: DeviceConfig) -> list[SimModule]:
    """The modules a station file installs: ``[devices.power_modules]`` gives how many and
    their ratings, each connector's ``module_group`` power stack on the same bus where its
    modules' outputs are wired at start."""
    p = pool.params
    limits = ModuleLimits(
        min_voltage_v=float(p.get("module_min_voltage_v", 150.0)),
        max_voltage_v=float(p.get("module_max_voltage_v", 1000.0)),
        max_current_a=float(p.get("module_max_current_a", 100.0)),
        max_power_w=float(p.get("module_max_power_w", 30000.0)),
    )
    modules = [SimModule(address, limits) for address in range(int(p["modules"]))]
    for connector in config.connectors:
        stack = connector.devices.get("power_stack")
        if stack is None or stack.driver != "module_group" or stack.params["bus"] != p["bus"]:
            continue
        first = int(stack.params.get("first_module", 0))
        for address in range(first, first + int(stack.params.get("modules", 1))):
            if address < len(modules):
                modules[address].group = connector.id
    return modules

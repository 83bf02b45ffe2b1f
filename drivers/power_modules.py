"""The station's pool of DC power (rectifier) modules on one CAN bus.

One :class:`CanModulePool` per ``[devices.power_modules]``: it finds the modules (discovery),
reads every module's output and status every ``poll_ms`` (which is also the keep-alive:
a module switches itself off after 10 s without a frame from the controller), maps
status bits to :class:`~drivers.interfaces.PowerStackFault`, marks a module *lost* after
``lost_after_s`` of silence, and keeps which connector each module's output is switched
to (its *group*). The connectors' :class:`~drivers.module_group.ModuleGroupStack` drive
their group through the pool; the power budget moves modules between connectors with
:meth:`CanModulePool.assign` on a station whose modules are ``switchable``. The firmware
sees the pool as :class:`drivers.interfaces.ModulePool`.

The make of module is a protocol (:mod:`drivers.module_protocol`); a subclass names it
(:class:`drivers.infypower.InfyPowerModules`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import can

from drivers.can_bus import CanBusOwner, Subscription
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent, DriverError
from drivers.interfaces import DriverHealth, ModulePool, PowerStackFault
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

logger = logging.getLogger(__name__)

SERVICE = "power_modules"  # name of the pool on its CAN bus owner
OFF_CURRENT_A = 2.0  # a module below this may be switched between connectors
DISCOVERY_S = 0.5  # start() waits this long at most for every module to answer
SETTLE_TIMEOUT_S = 2.0  # how long a module may take to bring its current down
SETTLE_POLL_S = 0.02


@dataclass
class ModuleState:
    """What the pool knows about one module (read it, do not change it)."""

    address: int
    limits: ModuleLimits  # configured until the module reports its own
    limits_reported: bool = False
    group: int = 0  # connector id its output is switched to; 0 = none
    on: bool = False  # last commanded
    setpoint: tuple[float, float] = (0.0, 0.0)  # last commanded (V, A)
    voltage_v: float = 0.0
    current_a: float = 0.0
    temperature_c: float | None = None
    faults: frozenset[PowerStackFault] = frozenset()
    output_off: bool = True
    power_limited: bool = False
    heard_at: float | None = None
    readings: int = 0  # output readings so far: off() waits for a fresh one
    lost: bool = False

    @property
    def usable(self) -> bool:
        """Answering and without fault: it may deliver power."""
        return self.heard_at is not None and not self.lost and not self.faults


class CanModulePool:
    """All power modules on one CAN bus, as a station-level device (see module docstring):
    :class:`drivers.interfaces.ModulePool` for the budget, and the module states and
    commands for the connectors' :class:`~drivers.module_group.ModuleGroupStack`.

    Every callback (group listeners, :meth:`subscribe`) runs on the event loop thread.
    """

    BUS_KIND: ClassVar[str] = "can"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the CAN bus ([buses.can.<name>])"),
        "modules": Param(int, min=1, max=62, doc="modules installed, addresses 0..modules-1"),
        "module_max_power_w": Param(float, 30000.0, min=1000, max=200000, doc="rated power"),
        "module_max_current_a": Param(float, 100.0, min=1, max=1000, doc="rated current"),
        "module_min_voltage_v": Param(float, 150.0, min=0, max=1500, doc="lowest output"),
        "module_max_voltage_v": Param(float, 1000.0, min=50, max=1500, doc="highest output"),
        "poll_ms": Param(int, 200, min=20, max=2000, doc="read each module this often"),
        "lost_after_s": Param(float, 15.0, min=1, max=60, doc="silence before a module is lost"),
        "switchable": Param(bool, False, doc="module outputs can be switched between connectors"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self.protocol = self.make_protocol(params)
        self._bus_name: str = params["bus"]
        self._poll_s = int(params.get("poll_ms", 200)) / 1000.0
        self._lost_after_s = float(params.get("lost_after_s", 15.0))
        # A reading older than this is not the output any more (a silent module).
        self.stale_after_s = max(1.0, 5 * self._poll_s)
        self.switchable = bool(params.get("switchable", False))
        limits = ModuleLimits(
            min_voltage_v=float(params.get("module_min_voltage_v", 150.0)),
            max_voltage_v=float(params.get("module_max_voltage_v", 1000.0)),
            max_current_a=float(params.get("module_max_current_a", 100.0)),
            max_power_w=float(params.get("module_max_power_w", 30000.0)),
        )
        self.modules: dict[int, ModuleState] = {
            a: ModuleState(a, limits) for a in range(int(params["modules"]))
        }
        self.counted: int | None = None  # what discovery found
        self._group_listeners: dict[int, Callable[[], None]] = {}
        self._listeners: list[Callable[[], None]] = []
        self._bus: CanBusOwner | None = None
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._started_at = 0.0
        self._all_heard = asyncio.Event()
        self._send_failing = False
        self._unexpected: set[int] = set()
        self._assigning = asyncio.Lock()
        self.counters = {"polls": 0, "replies": 0, "refused": 0, "send_errors": 0}
        # Register now, so the connectors' module groups find the pool whatever order the
        # station builds and starts its devices in.
        bus = ctx.buses.get(self._bus_name)
        if isinstance(bus, CanBusOwner):
            bus.register_service(SERVICE, self)

    def make_protocol(self, params: Mapping[str, Any]) -> ModuleProtocol:
        """The frames of this make of module (subclasses)."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self._ctx.where or f"{self.protocol.name} modules"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Discover the modules, put each in its group, start polling (keep-alive)."""
        bus = self._ctx.buses.get(self._bus_name)
        if not isinstance(bus, CanBusOwner):
            raise DeviceSilent(f"{self.name}: no CAN bus {self._bus_name!r}")
        self._bus = bus
        if bus.service(SERVICE) is None:
            bus.register_service(SERVICE, self)
        self._sub = bus.subscribe(
            self._on_frame, mask=self.protocol.reply_mask, value=self.protocol.reply_value
        )
        self._started_at = self._ctx.monotonic()
        for msg in self.protocol.discover():
            self._send(msg)
        if self.switchable:
            for module in self.modules.values():
                self._send(self.protocol.set_group(module.address, module.group))
        self.poll_once()
        try:
            await asyncio.wait_for(self._all_heard.wait(), DISCOVERY_S)
        except TimeoutError:
            silent = [a for a, m in self.modules.items() if m.heard_at is None]
            logger.warning("%s: modules %s do not answer yet", self.name, silent)
        logger.info("%s: %d of %d modules answer (discovery counted %s)", self.name,
                    sum(m.heard_at is not None for m in self.modules.values()),
                    len(self.modules), self.counted)
        self._task = asyncio.create_task(self._run(), name=f"{self.name} poll")

    async def release(self) -> None:
        """Stop polling and switch every module off (the stacks' safe state)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._bus is not None:
            for module in self.modules.values():
                self._send(self.protocol.switch(module.address, False))
                module.on = False
            if self._sub is not None:
                self._bus.unsubscribe(self._sub)
                self._sub = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                self.poll_once()
            except Exception:  # keep the keep-alive going whatever one cycle hit
                logger.exception("%s: poll failed", self.name)

    def poll_once(self) -> None:
        """Ask every module for its output and status (the keep-alive), find lost ones."""
        self.counters["polls"] += 1
        now = self._ctx.monotonic()
        for module in self.modules.values():
            self._send(self.protocol.read_output(module.address))
            self._send(self.protocol.read_status(module.address))
            if not module.limits_reported:
                self._send(self.protocol.read_limits(module.address))
            since = module.heard_at if module.heard_at is not None else self._started_at
            if not module.lost and now - since > self._lost_after_s:
                module.lost = True
                module.on = False  # its own watchdog switches a silent module off
                logger.warning("connector %d: power module %d lost (silent for %.1f s)",
                               module.group, module.address, now - since)
                self._changed(module)

    # ------------------------------------------------------------------ frames

    def _send(self, msg: can.Message) -> bool:
        if self._bus is None:
            return False
        try:
            self._bus.send(msg)
        except DriverError as exc:
            self.counters["send_errors"] += 1
            if not self._send_failing:
                logger.error("%s: cannot send: %s", self.name, exc)
            self._send_failing = True
            return False
        if self._send_failing:
            logger.info("%s: sending again", self.name)
            self._send_failing = False
        return True

    def _on_frame(self, msg: can.Message) -> None:
        reply = self.protocol.decode(msg)
        if reply is None:
            return
        self.counters["replies"] += 1
        module = self.modules.get(reply.address)
        if module is None:
            if reply.address not in self._unexpected:
                self._unexpected.add(reply.address)
                logger.warning("%s: module %d answers but is not configured", self.name,
                               reply.address)
            return
        was_usable = module.usable
        first = module.heard_at is None
        module.heard_at = self._ctx.monotonic()
        if module.lost:
            module.lost = False
            logger.info("connector %d: power module %d answers again", module.group,
                        module.address)
        changed = self._apply_reply(module, reply)
        if first and all(m.heard_at is not None for m in self.modules.values()):
            self._all_heard.set()
        if changed or module.usable != was_usable:
            self._changed(module)

    def _apply_reply(self, module: ModuleState, reply: ModuleReply) -> bool:
        """Take a reply in; True when it changes what the module can deliver."""
        match reply:
            case OutputReply(voltage_v=volts, current_a=amps):
                module.voltage_v, module.current_a = volts, amps
                module.readings += 1
            case StatusReply():
                module.output_off = reply.output_off
                module.power_limited = reply.power_limited
                module.temperature_c = reply.temperature_c
                if reply.faults != module.faults:
                    old, module.faults = module.faults, reply.faults
                    names = ",".join(sorted(f.value for f in reply.faults)) or "none"
                    log = logger.warning if reply.faults - old else logger.info
                    log("connector %d: power module %d faults: %s", module.group,
                        module.address, names)
                    return True
            case LimitsReply(limits=limits):
                first = not module.limits_reported
                module.limits_reported = True
                if limits != module.limits:
                    logger.info("%s: module %d rated %s", self.name, module.address, limits)
                    module.limits = limits
                    return True
                return first
            case CountReply(count=count):
                self.counted = max(count, self.counted or 0)
            case AckReply(command=command, error=error) if error:
                self.counters["refused"] += 1
                logger.warning("connector %d: power module %d refused command 0x%02X "
                               "(error %d)", module.group, module.address, command, error)
            case _:
                pass
        return False

    def _changed(self, module: ModuleState) -> None:
        listener = self._group_listeners.get(module.group)
        if listener is not None:
            listener()
        for callback in list(self._listeners):
            callback()

    # ------------------------------------------------------------------ commands

    def command_output(self, address: int, voltage_v: float, current_a: float) -> None:
        """Send a set-point to one module; raises :class:`DeviceSilent` if it cannot."""
        module = self.modules[address]
        module.setpoint = (voltage_v, current_a)
        self._command(self.protocol.set_output(address, voltage_v, current_a))

    def command_switch(self, address: int, on: bool) -> None:
        """Switch one module's output; raises :class:`DeviceSilent` if it cannot."""
        self.modules[address].on = on
        self._command(self.protocol.switch(address, on))

    def switch_off_now(self, addresses: Iterable[int]) -> None:
        """Off frames to every module given, never raising (the safety path)."""
        for address in addresses:
            self.modules[address].on = False
            self._send(self.protocol.switch(address, False))

    def request_output(self, addresses: Iterable[int]) -> None:
        """Ask these modules for their output now (someone waits for the current)."""
        for address in addresses:
            self._send(self.protocol.read_output(address))

    def _command(self, msg: can.Message) -> None:
        if self._bus is None:
            raise DeviceSilent(f"{self.name}: used before start()")
        self._bus.send(msg)

    # ------------------------------------------------------------------ groups

    def attach(self, connector_id: int, addresses: Sequence[int],
               on_change: Callable[[], None]) -> None:
        """A connector's module group: its initial modules and the callback that runs
        when any of its modules changes (answers, is lost, faults, joins or leaves)."""
        if connector_id in self._group_listeners:
            raise DriverError(f"{self.name}: connector {connector_id} attached twice")
        for address in addresses:
            module = self.modules.get(address)
            if module is None:
                raise DriverError(f"{self.name}: connector {connector_id}: module {address} "
                                  f"is not installed (modules 0..{len(self.modules) - 1})")
            if module.group not in (0, connector_id):
                raise DriverError(f"{self.name}: connector {connector_id}: module {address} "
                                  f"already belongs to connector {module.group}")
        for address in addresses:
            self.modules[address].group = connector_id
            if self.switchable and self._bus is not None:
                self._send(self.protocol.set_group(address, connector_id))
        self._group_listeners[connector_id] = on_change

    def members(self, connector_id: int) -> tuple[int, ...]:
        """The modules switched to ``connector_id`` now."""
        return tuple(a for a, m in self.modules.items() if m.group == connector_id)

    def assignment(self) -> dict[int, tuple[int, ...]]:
        """Connector id -> its modules, for every attached connector."""
        return {cid: self.members(cid) for cid in self._group_listeners}

    def fresh(self, address: int) -> bool:
        """The module answered recently: its readings describe the output now."""
        module = self.modules[address]
        return (module.heard_at is not None and not module.lost
                and self._ctx.monotonic() - module.heard_at <= self.stale_after_s)

    def available(self) -> tuple[int, ...]:
        """Every module that may deliver power now (the budget's pool)."""
        return tuple(a for a, m in self.modules.items() if m.usable)

    def rated_power_w(self, address: int) -> float:
        """The module's rated power: what it reported, else the configured rating."""
        return self.modules[address].limits.max_power_w

    def subscribe(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change()`` whenever a module's health, ratings or connector changes
        (the station runs its power budget again)."""
        self._listeners.append(on_change)

    async def assign(self, assignment: Mapping[int, Sequence[int]]) -> None:
        """Switch modules between connectors: ``assignment`` maps a connector id to all
        its modules; a module not named goes to no connector.

        A module that moves is taken out of its group first (the rest of the group takes
        over its share), switched off, and regrouped once its current is below
        :data:`OFF_CURRENT_A`. One that does not get there stays with no connector and
        :class:`DeviceFaulted` is raised after the others moved."""
        if not self.switchable:
            raise DriverError(f"{self.name}: modules are wired to fixed connectors")
        target: dict[int, int] = {}
        for cid, addresses in assignment.items():
            for address in addresses:
                if address not in self.modules or address in target:
                    raise DriverError(f"{self.name}: bad assignment of module {address}")
                target[address] = cid
        async with self._assigning:
            moving = [m for m in self.modules.values() if target.get(m.address, 0) != m.group]
            if not moving:
                return
            for module in moving:
                old, module.group = module.group, 0
                logger.info("connector %d: power module %d leaves for connector %d", old,
                            module.address, target.get(module.address, 0))
                self._notify_group(old)
            self.switch_off_now(m.address for m in moving)
            stuck = await self._settle(moving)
            for module in moving:
                if module in stuck:
                    continue
                module.group = target.get(module.address, 0)
                self._send(self.protocol.set_group(module.address, module.group))
                self._notify_group(module.group)
            for callback in list(self._listeners):
                callback()
        if stuck:
            names = ", ".join(f"{m.address} ({m.current_a:.1f} A)" for m in stuck)
            raise DeviceFaulted(PowerStackFault.GENERIC, f"modules still carry current: {names}")

    def _notify_group(self, connector_id: int) -> None:
        listener = self._group_listeners.get(connector_id)
        if listener is not None:
            listener()

    async def _settle(self, modules: Sequence[ModuleState]) -> list[ModuleState]:
        """Wait for a fresh reading below the safe current from each module; the ones
        that do not get there in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT_S
        since = {m.address: m.readings for m in modules}
        while True:
            waiting = [
                m for m in modules
                if not m.lost and (m.readings == since[m.address] or m.current_a >= OFF_CURRENT_A)
            ]
            if not waiting or loop.time() >= deadline:
                return waiting
            self.request_output(m.address for m in waiting)
            await asyncio.sleep(SETTLE_POLL_S)

    # ------------------------------------------------------------------ status

    def health(self) -> DriverHealth:
        lost = [a for a, m in self.modules.items() if m.lost]
        faulted = [a for a, m in self.modules.items() if m.faults]
        detail = []
        if lost:
            detail.append(f"lost: {lost}")
        if faulted:
            detail.append(f"in fault: {faulted}")
        return DriverHealth(ok=not detail, detail="; ".join(detail), counters=dict(self.counters))


# The registry hands driver classes out untyped: mypy checks each against its role here.
_CAN_MODULE_POOL_ROLE: type[ModulePool] = CanModulePool

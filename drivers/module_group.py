"""A connector's power stack: the pool modules switched to it, seen as one source.

``[connectors.power_stack] driver = "module_group"`` names the CAN bus of the station's
module pool (``[devices.power_modules]``) and the modules wired to the connector at
start. :class:`ModuleGroupStack` implements :class:`drivers.interfaces.PowerStack`:
a set-point is split over the group's usable modules in proportion to what each can
deliver at that voltage and sent at once (one frame per module); a module that is lost
or faults leaves the split and the others take its share up to their ratings, so a
session goes on with less power as long as one module serves. ``faults()`` reports only
what stops the connector: no usable module left, or a fault every module in the group
shares the output with (output over-voltage).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Final

from drivers.can_bus import CanBusOwner
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent, DriverError
from drivers.interfaces import DriverHealth, PowerCapabilities, PowerStack, PowerStackFault
from drivers.module_protocol import ModuleLimits
from drivers.params import Param
from drivers.power_modules import OFF_CURRENT_A, SERVICE, CanModulePool, ModuleState

logger = logging.getLogger(__name__)

OFF_TIMEOUT_S = 2.0
OFF_POLL_S = 0.02
# Faults of one module that make the whole output unsafe, whatever the others do.
SHARED_FAULTS: Final = frozenset({PowerStackFault.OUTPUT_OVER_VOLTAGE})
# Temperature derating of the modules (the budget's per-connector factor).
DERATE_FROM_C = 70.0
DERATE_TO_C = 90.0
DERATE_MIN = 0.5


def split_current(current_a: float, voltage_v: float,
                  limits: Sequence[ModuleLimits]) -> list[float]:
    """Each module's share of ``current_a`` at ``voltage_v``: in proportion to what it
    can deliver there, never above it (a request above the sum gets every maximum)."""
    capacity = [lim.current_at(voltage_v) for lim in limits]
    total = sum(capacity)
    if total <= 0.0:
        return [0.0 for _ in limits]
    wanted = max(0.0, min(current_a, total))
    return [wanted * cap / total for cap in capacity]


def derating(temperatures_c: Sequence[float | None]) -> float:
    """Power factor for the hottest module: 1 up to 70 °C, down to 0.5 at 90 °C."""
    known = [t for t in temperatures_c if t is not None]
    if not known:
        return 1.0
    hottest = max(known)
    if hottest <= DERATE_FROM_C:
        return 1.0
    span = (hottest - DERATE_FROM_C) / (DERATE_TO_C - DERATE_FROM_C)
    return max(DERATE_MIN, 1.0 - (1.0 - DERATE_MIN) * span)


class ModuleGroupStack:
    """:class:`drivers.interfaces.PowerStack` over the connector's modules of the pool."""

    BUS_KIND: ClassVar[str] = "can"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="CAN bus of the module pool ([buses.can.<name>])"),
        "first_module": Param(int, 0, min=0, max=61, doc="address of the first module"),
        "modules": Param(int, 1, min=0, max=62, doc="modules wired to this connector at start"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._cid = ctx.connector_id
        self._bus_name: str = params["bus"]
        first = int(params.get("first_module", 0))
        self._initial = tuple(range(first, first + int(params.get("modules", 1))))
        self._pool: CanModulePool | None = None
        self._on = False
        self._setpoint = (0.0, 0.0)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Join the station's module pool with the modules wired to this connector."""
        bus = self._ctx.buses.get(self._bus_name)
        if not isinstance(bus, CanBusOwner):
            raise DeviceSilent(f"{self._ctx.where}: no CAN bus {self._bus_name!r}")
        pool = bus.service(SERVICE)
        if not isinstance(pool, CanModulePool):
            raise DriverError(
                f"{self._ctx.where}: no power module pool on CAN bus {self._bus_name!r} "
                "([devices.power_modules] on this bus must be built before the stacks start)"
            )
        pool.attach(self._cid, self._initial, self._reapply)
        self._pool = pool
        logger.info("connector %d: power stack on modules %s", self._cid, list(self._initial))

    async def release(self) -> None:
        """Leave the output off."""
        if self._pool is not None:
            self.emergency_off()

    @property
    def pool(self) -> CanModulePool:
        if self._pool is None:
            raise RuntimeError(f"connector {self._cid}: power stack used before start()")
        return self._pool

    @property
    def modules(self) -> tuple[int, ...]:
        """The module addresses switched to this connector now."""
        return self.pool.members(self._cid)

    def _states(self) -> list[ModuleState]:
        pool = self.pool
        return [pool.modules[a] for a in pool.members(self._cid)]

    def _usable(self) -> list[ModuleState]:
        return [m for m in self._states() if m.usable]

    # ------------------------------------------------------------------ PowerStack

    def capabilities(self) -> PowerCapabilities:
        """What the usable modules deliver together (all zero when none is usable)."""
        usable = self._usable()
        if not usable:
            return PowerCapabilities(0.0, 0.0, 0.0, 0.0)
        return PowerCapabilities(
            min_voltage_v=max(m.limits.min_voltage_v for m in usable),
            max_voltage_v=min(m.limits.max_voltage_v for m in usable),
            max_current_a=sum(m.limits.max_current_a for m in usable),
            max_power_w=sum(m.limits.max_power_w for m in usable),
        )

    async def set_output(self, voltage_v: float, current_a: float) -> None:
        """Send the set-point now (one frame per usable module)."""
        self._setpoint = (max(0.0, voltage_v), max(0.0, current_a))
        self._send_setpoints(self._usable())

    def _send_setpoints(self, usable: Sequence[ModuleState]) -> None:
        voltage, current = self._setpoint
        # Modules limit their power at the voltage they run at (the battery's, below the
        # set-point while charging): split by what each delivers there.
        present = max((m.voltage_v for m in usable), default=0.0)
        shares = split_current(current, present or voltage, [m.limits for m in usable])
        for module, share in zip(usable, shares, strict=True):
            self.pool.command_output(module.address, voltage, share)

    async def on(self) -> None:
        """Switch the group's usable modules on; raises :class:`DeviceFaulted` when
        :meth:`faults` is not empty or the connector has modules but none can deliver."""
        states = self._states()
        usable = [m for m in states if m.usable]
        faults = self.faults()
        if faults or (states and not usable):
            fault = min(faults, default=PowerStackFault.COMMS)
            raise DeviceFaulted(fault, f"connector {self._cid}: power modules in fault")
        if not self._on:
            logger.info("connector %d: power stack on (%d modules)", self._cid, len(usable))
        self._on = True
        self._send_setpoints(usable)  # the split may have changed since set_output()
        for module in usable:
            self.pool.command_switch(module.address, True)

    def emergency_off(self) -> None:
        """Off frames to every module of the group now (never raises)."""
        was_on, self._on = self._on, False
        self.pool.switch_off_now(self.pool.members(self._cid))
        if was_on:  # logged after the frames are out: the safe path does not wait for I/O
            logger.info("connector %d: power stack off", self._cid)

    async def off(self) -> None:
        """Switch off and return once the modules report less than 2 A."""
        self.emergency_off()
        states = self._states()
        since = {m.address: m.readings for m in states}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + OFF_TIMEOUT_S
        while True:
            live = [m for m in states if self.pool.fresh(m.address)]
            fresh = all(m.readings != since[m.address] for m in live)
            current = sum(m.current_a for m in live)
            if fresh and current < OFF_CURRENT_A:
                return
            if loop.time() >= deadline:
                raise DeviceFaulted(PowerStackFault.GENERIC,
                                    f"connector {self._cid}: {current:.1f} A after off")
            self.pool.request_output(m.address for m in live)
            await asyncio.sleep(OFF_POLL_S)

    def measured(self) -> tuple[float, float]:
        """Output bus voltage (highest module reading) and the summed current of the
        modules that answer (a silent module's last reading is not counted)."""
        live = [m for m in self._states() if self.pool.fresh(m.address)]
        if not live:
            return 0.0, 0.0
        return max(m.voltage_v for m in live), sum(m.current_a for m in live)

    def faults(self) -> frozenset[PowerStackFault]:
        """Faults that stop this connector (see the module docstring)."""
        states = self._states()
        shared = frozenset().union(*(m.faults & SHARED_FAULTS for m in states))
        if not states or any(m.usable for m in states):
            return shared
        found: set[PowerStackFault] = set(shared)
        for module in states:
            found |= module.faults
            if module.lost or module.heard_at is None:
                found.add(PowerStackFault.COMMS)
        return frozenset(found)

    # ------------------------------------------------------------------ extras

    def derating(self) -> float:
        """Temperature derating factor of the group (the budget's per-connector input)."""
        return derating([m.temperature_c for m in self._usable()])

    def health(self) -> DriverHealth:
        states = self._states()
        bad = [m.address for m in states if not m.usable]
        detail = f"modules {[m.address for m in states]}"
        if bad:
            detail += f", not usable: {bad}"
        return DriverHealth(ok=not self.faults(), detail=detail)

    def _reapply(self) -> None:
        """A module of the group changed: split the set-point over the usable ones again,
        switch newcomers on while the output is on, and lost or faulted ones off."""
        states = self._states()
        usable = [m for m in states if m.usable]
        try:
            if self._on:
                self._send_setpoints(usable)
                for module in usable:
                    if not module.on or module.output_off:
                        self.pool.command_switch(module.address, True)
            self.pool.switch_off_now(
                m.address for m in states if m.on and not m.usable and not m.lost
            )
        except DriverError as exc:  # the next set-point or poll finds the bus again
            logger.error("connector %d: cannot update the modules: %s", self._cid, exc)
        if states and not usable:
            logger.warning("connector %d: no usable power module left", self._cid)
        elif self._on:
            caps = self.capabilities()
            logger.info("connector %d: %d modules serve, up to %.0f A / %.0f W", self._cid,
                        len(usable), caps.max_current_a, caps.max_power_w)


# The registry hands driver classes out untyped: mypy checks each against its role here.
_MODULE_GROUP_STACK_ROLE: type[PowerStack] = ModuleGroupStack

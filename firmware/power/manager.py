"""Applies the station's one power budget (``firmware.power.budget``) to its connectors.

Re-run whenever something it depends on changes (a session starts or ends, an EV asks
for a different current, the module pool changes, a key changes): demands in, offers out.
Offers are lowered before modules move, so a connector never asks more of fewer modules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from drivers.interfaces import EvStatus, ModulePool
from firmware.config import ConnectorConfig, StationConfig
from firmware.power.budget import (
    AC_PHASE_V,
    BudgetResult,
    Demand,
    Limit,
    ModuleSpec,
    PowerBudget,
    Strategy,
    ev_demand,
    rating_of,
)

log = logging.getLogger(__name__)


class BudgetedConnector(Protocol):
    """What the budget needs of a connector (a ``ConnectorController``)."""

    @property
    def id(self) -> int: ...

    @property
    def cfg(self) -> ConnectorConfig: ...

    @property
    def tx_since(self) -> float | None:
        """Monotonic start of its transaction (FCFS order); None: no transaction."""

    @property
    def ev(self) -> EvStatus | None:
        """What a DC EV asks for (None: AC, or no EV talking)."""

    @property
    def charging(self) -> bool:
        """The session is Charging (a DC EV's request counts in full only then)."""

    def set_budget(self, amps: float, watts: float | None) -> None:
        """The budget's allowance: the connector offers no more than this."""


def _csl_watts(text: str | None) -> dict[int, float]:
    """ConnectorsPowerLimit: "W1,W2,..." starting with connector 1; blanks skip."""
    limits: dict[int, float] = {}
    for index, part in enumerate((text or "").split(","), start=1):
        part = part.strip()
        if part:
            try:
                limits[index] = float(part)
            except ValueError:
                log.warning("ConnectorsPowerLimit entry %d is not a number: %r", index, part)
    return limits


class PowerManager:
    """Owns the :class:`PowerBudget` of a station and keeps the offers up to date.

    Offers change at once (synchronously, in :meth:`refresh`); moving power modules
    between connectors takes CAN round trips, so the assignments go to :meth:`run`, which
    carries them out one after the other, in order."""

    def __init__(
        self,
        config: StationConfig,
        connectors: Mapping[int, BudgetedConnector],
        pool: ModulePool | None,
        key: Callable[[str], str | None],
    ) -> None:
        self._config = config
        self._connectors = connectors
        self._pool = pool
        self._key = key
        self._assignments: asyncio.Queue[BudgetResult] = asyncio.Queue()
        # Limits set while running (cable over-temperature, ...): (name, connector) -> A.
        self._connector_limits: dict[tuple[str, int], float] = {}
        self._last: tuple[tuple[int, float, float], ...] | None = None
        self.result: BudgetResult | None = None
        self.budget = self._build()
        if pool is not None:
            pool.subscribe(self.refresh)

    def _build(self) -> PowerBudget:
        grid = self._key("MaxGridPower")
        max_grid = float(grid) if grid and grid.strip().isdigit() else None
        strategy = (self._key("ChargingStrategy") or "FCFS").upper()
        budget = PowerBudget(
            [rating_of(c) for c in self._config.connectors],
            max_grid_power_w=max_grid or self._config.max_grid_power_w,
            strategy=Strategy(strategy) if strategy in Strategy.__members__ else Strategy.FCFS,
            connectors_power_limit_w={
                cid: w for cid, w in _csl_watts(self._key("ConnectorsPowerLimit")).items()
                if cid in self._connectors
            },
        )
        for (name, cid), amps in self._connector_limits.items():
            budget.set_limit(Limit(name, amps=amps, connector=cid))
        self._set_stacks(budget)
        return budget

    def set_connector_limit(self, connector_id: int, name: str, amps: float | None) -> None:
        """A named current limit on one connector (None: no limit), applied now: the
        status page names it when it binds, and what it frees goes to the others."""
        if amps is None:
            if self._connector_limits.pop((name, connector_id), None) is None:
                return
            self.budget.clear_limit(name, connector_id)
        else:
            self._connector_limits[(name, connector_id)] = amps
            self.budget.set_limit(Limit(name, amps=amps, connector=connector_id))
        self._last = None
        self.refresh()

    def _set_stacks(self, budget: PowerBudget) -> None:
        pool = self._pool
        if pool is not None and pool.switchable:
            budget.set_modules([ModuleSpec(a, pool.rated_power_w(a)) for a in pool.available()])

    def reconfigure(self) -> None:
        """A key changed (ChargingStrategy, MaxGridPower, ConnectorsPowerLimit)."""
        self.budget = self._build()
        self._last = None
        self.refresh()

    # ------------------------------------------------------------------ the loop
    def _demands(self) -> list[Demand]:
        demands = []
        for c in self._connectors.values():
            since = c.tx_since
            if since is None:
                continue
            if c.cfg.is_dc:
                ev = c.ev
                if ev is None:
                    continue
                demands.append(ev_demand(c.id, since, ev, c.charging))
            else:
                volts = AC_PHASE_V * c.cfg.phases
                demands.append(Demand(c.id, since, c.cfg.max_current_a * volts, volts))
        return demands

    def refresh(self) -> None:
        """Recompute if the demands changed, and apply the result."""
        self._set_stacks(self.budget)
        demands = self._demands()
        key = tuple(sorted((d.connector_id, round(d.power_w), d.since) for d in demands))
        if key == self._last:
            return
        self._last = key
        pool = self._pool
        current = pool.assignment() if pool is not None else None
        result = self.budget.allocate(demands, current)
        self.result = result
        active = {d.connector_id for d in demands}
        for cid, c in self._connectors.items():
            a = result[cid]
            if cid not in active:
                c.set_budget(c.cfg.max_current_a, None)  # idle: offer the rating
            else:
                c.set_budget(a.current_a, a.power_w if c.cfg.is_dc else None)
            log.debug("connector %d: budget %.0f W %.1f A (%s)", cid, a.power_w,
                      a.current_a, a.binding)
        if pool is not None and pool.switchable:
            self._assignments.put_nowait(result)

    async def run(self) -> None:
        """Move the power modules as the budget assigns them, in order, until cancelled
        (a station without a switchable pool never gets an assignment)."""
        while True:
            result = await self._assignments.get()
            if self._pool is None:
                continue
            try:
                await self._pool.assign(result.assignment())
            except Exception:  # the next budget run assigns again; the offers already hold
                log.exception("module assignment failed")

    def status(self) -> dict[str, Any]:
        """The load-management view of the DC manual 4.2.3."""
        result = self.result
        return {
            "strategy": str(self.budget.strategy),
            "grid_available_power_w": result.station_limit_w if result else None,
            "station_binding": result.station_binding if result else None,
            "connectors": {
                cid: {"power_w": a.power_w, "current_a": a.current_a, "binding": a.binding,
                      "modules": list(a.modules)}
                for cid, a in (result.allocations.items() if result else ())
            },
        }


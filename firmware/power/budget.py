"""The station's one power budget: what each connector may draw, from every limit.

Pure and clock-free: :meth:`PowerBudget.allocate` takes the connectors' demands and
returns each connector's allowed power and current, the power modules it gets (for a
shared module pool) and the limit that decides it (for the status page, DC manual 4.2.3).

Limits are :class:`Limit` entries, station-wide (``connector=None``) or per connector:
MaxGridPower and ConnectorsPowerLimit come from the configuration, temperature derating
from the stacks; GridFallbackPower, an external energy manager, charging profiles are
more entries under their own names, the algorithm does not change.

Charging strategies (DC manual 4.4.2, key ChargingStrategy 5.1.6.32):

* FCFS: connectors are served in the order their sessions started; each gets all it can
  use of what the earlier ones left. A connector that gets nothing cannot start: it
  stays in SuspendedEVSE until power is free.
* FAIR: one session alone gets all it can use; with N sessions each gets an equal share
  of the station limit, and what a connector does not use of its share goes to the others
  (max-min fair sharing).

Power modules (a shared pool): each connector gets whole modules enough for its power,
keeping the modules it has where it can; when there are too few modules, the earlier
session is served first and the power is shared again within the modules each got.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from drivers.interfaces import EvStatus
from firmware.config.model import ConnectorConfig


class Strategy(StrEnum):
    """ChargingStrategy values as the DC manual spells them."""

    FCFS = "FCFS"
    FAIR = "FAIR"


# Names of the limits, as the status page shows them.
MAX_GRID_POWER: Final = "MaxGridPower"
CONNECTORS_POWER_LIMIT: Final = "ConnectorsPowerLimit"
RATING: Final = "connector_rating"
CABLE: Final = "cable"
TEMPERATURE: Final = "temperature"
CABLE_TEMPERATURE: Final = "cable_temperature"  # a liquid-cooled cable's contacts too hot
POWER_MODULES: Final = "power_modules"
POWER_STACK: Final = "power_stack"
EV: Final = "ev"  # the EV asks for less than it may have
IDLE: Final = "idle"  # no session

_EPS: Final = 1e-6
AC_PHASE_V: Final = 230.0  # AC connectors: watts = amps per phase x 230 V x phases


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit, on the station total (``connector`` None) or on one connector.

    ``watts`` and ``amps`` may both be given; amps only make sense per connector (they
    become watts at the connector's voltage)."""

    name: str
    watts: float | None = None
    amps: float | None = None
    connector: int | None = None


@dataclass(frozen=True, slots=True)
class ConnectorRating:
    """What a connector is built for (station file) and its cable's rating, if known."""

    connector_id: int
    max_current_a: float
    max_voltage_v: float
    max_power_w: float
    cable_max_current_a: float | None = None


@dataclass(frozen=True, slots=True)
class Demand:
    """A connector with a session: when it started (any monotonic time; earlier is
    first), the power the EV can use now and the voltage that power is at."""

    connector_id: int
    since: float
    power_w: float
    voltage_v: float


def rating_of(connector: ConnectorConfig,
              cable_max_current_a: float | None = None) -> ConnectorRating:
    """A connector's rating from the station file. AC connectors count in watts at
    230 V per phase, so their current stays amps per phase."""
    if connector.is_dc:
        volts = connector.max_voltage_v or 0.0
        watts = connector.max_power_w or connector.max_current_a * volts
    else:
        volts = AC_PHASE_V * connector.phases
        watts = connector.max_current_a * volts
    return ConnectorRating(connector.id, connector.max_current_a, volts, watts,
                           cable_max_current_a)


def ev_demand(connector_id: int, since: float, ev: EvStatus, charging: bool) -> Demand:
    """What a DC EV can use, at the voltage it charges at (its battery's, which is what
    the output runs at): its present current request while charging, its maximum
    current before (cable check and precharge need the modules the charge will use)."""
    volts = ev.battery_voltage_v or ev.target_voltage_v or ev.max_voltage_v
    amps = ev.target_current_a if charging else ev.max_current_a
    return Demand(connector_id, since, volts * amps, volts)


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """A power module the pool can give away now, and its rated power."""

    address: int
    max_power_w: float


@dataclass(frozen=True, slots=True)
class Allocation:
    """One connector's share: power, current, modules, and the limit that decides it."""

    connector_id: int
    power_w: float
    current_a: float
    binding: str
    modules: tuple[int, ...] = ()

    @property
    def suspended(self) -> bool:
        """Nothing allowed: the session waits in SuspendedEVSE (or cannot start)."""
        return self.power_w <= _EPS


@dataclass(frozen=True)
class BudgetResult:
    """Every rated connector's allocation and the station total's limit."""

    allocations: Mapping[int, Allocation]
    station_limit_w: float  # "Grid Available Power"
    station_binding: str
    total_w: float = 0.0
    strategy: Strategy = Strategy.FCFS

    def __getitem__(self, connector_id: int) -> Allocation:
        return self.allocations[connector_id]

    def assignment(self) -> dict[int, tuple[int, ...]]:
        """Connector id -> modules, for :meth:`drivers.power_modules.ModulePool.assign`."""
        return {cid: a.modules for cid, a in self.allocations.items()}


@dataclass
class _Want:
    """Working state of one active connector."""

    demand: Demand
    volts: float
    cap_w: float
    cap_name: str
    amps_cap: float
    want_w: float = 0.0
    binding: str = EV
    give_w: float = 0.0
    modules: list[int] = field(default_factory=list)
    first_give_w: float = 0.0  # before whole modules were counted
    module_capped: bool = False  # its modules carry less than it wants


class PowerBudget:
    """The limits of one station and the strategy; :meth:`allocate` applies them."""

    def __init__(
        self,
        ratings: Iterable[ConnectorRating],
        *,
        max_grid_power_w: float,
        strategy: Strategy = Strategy.FCFS,
        connectors_power_limit_w: Mapping[int, float] | None = None,
        stack_power_w: Mapping[int, float] | None = None,
        modules: Sequence[ModuleSpec] | None = None,
    ) -> None:
        self.ratings = {r.connector_id: r for r in ratings}
        self.strategy = Strategy(strategy)
        self._limits: dict[tuple[str, int | None], Limit] = {}
        self.modules: tuple[ModuleSpec, ...] | None = None if modules is None else tuple(modules)
        self.set_limit(Limit(MAX_GRID_POWER, watts=max_grid_power_w))
        for cid, watts in (connectors_power_limit_w or {}).items():
            self.set_limit(Limit(CONNECTORS_POWER_LIMIT, watts=watts, connector=cid))
        for cid, watts in (stack_power_w or {}).items():
            self.set_limit(Limit(POWER_STACK, watts=watts, connector=cid))

    # ------------------------------------------------------------------ limits

    def set_limit(self, limit: Limit) -> None:
        """Add or replace the limit of that name (and connector)."""
        if limit.connector is not None and limit.connector not in self.ratings:
            raise ValueError(f"limit {limit.name}: no connector {limit.connector}")
        if limit.connector is None and limit.amps is not None:
            raise ValueError(f"limit {limit.name}: amps only per connector")
        self._limits[(limit.name, limit.connector)] = limit

    def clear_limit(self, name: str, connector: int | None = None) -> None:
        self._limits.pop((name, connector), None)

    def limits(self) -> tuple[Limit, ...]:
        return tuple(self._limits.values())

    def set_derating(self, connector_id: int, factor: float) -> None:
        """Temperature derating: the connector may use ``factor`` of its rated power."""
        if factor >= 1.0:
            self.clear_limit(TEMPERATURE, connector_id)
            return
        rated = self.ratings[connector_id].max_power_w
        self.set_limit(Limit(TEMPERATURE, watts=max(0.0, factor) * rated,
                             connector=connector_id))

    def set_modules(self, modules: Sequence[ModuleSpec] | None) -> None:
        """The pool's usable modules now (None: connectors have fixed stacks)."""
        self.modules = None if modules is None else tuple(modules)

    # ------------------------------------------------------------------ allocation

    def allocate(
        self,
        demands: Iterable[Demand],
        current: Mapping[int, Sequence[int]] | None = None,
    ) -> BudgetResult:
        """Each connector's allocation for these demands; ``current`` is the present
        module assignment (modules stay where they are when they can)."""
        station_w, station_name = self._station_limit()
        order = sorted((self._want(d) for d in demands),
                       key=lambda w: (w.demand.since, w.demand.connector_id))
        if len({w.demand.connector_id for w in order}) != len(order):
            raise ValueError("one demand per connector")
        self._share(order, station_w)
        if self.modules is not None:
            self._give_modules(order, current or {})
            for want in order:  # what the modules each connector got can carry
                want.first_give_w = want.give_w
                capacity = self._carried(want)
                if capacity < want.want_w - _EPS:
                    want.want_w, want.module_capped = capacity, True
                    if capacity < want.give_w - _EPS:  # too few modules left for it
                        want.binding = POWER_MODULES
            self._share(order, station_w)
        allocations: dict[int, Allocation] = {
            cid: Allocation(cid, 0.0, 0.0, IDLE) for cid in self.ratings
        }
        for want in order:
            cid = want.demand.connector_id
            full = want.give_w >= want.want_w - _EPS
            binding = want.binding if full else station_name
            if want.module_capped and full and binding != POWER_MODULES:
                # Sized to what the station left it, unless it got more and used them up.
                grew = want.give_w > want.first_give_w + _EPS
                binding = POWER_MODULES if grew else station_name
            amps = min(want.give_w / want.volts, want.amps_cap)
            allocations[cid] = Allocation(cid, want.give_w, amps, binding, tuple(want.modules))
        total = sum(w.give_w for w in order)
        return BudgetResult(allocations, station_w, station_name, total, self.strategy)

    def _station_limit(self) -> tuple[float, str]:
        found = [(lim.watts, lim.name) for lim in self._limits.values()
                 if lim.connector is None and lim.watts is not None]
        if self.modules is not None:
            found.append((sum(m.max_power_w for m in self.modules), POWER_MODULES))
        watts, name = min(found, key=lambda item: item[0])
        return max(0.0, watts), name

    def _want(self, demand: Demand) -> _Want:
        rating = self.ratings.get(demand.connector_id)
        if rating is None:
            raise ValueError(f"demand for unknown connector {demand.connector_id}")
        volts = demand.voltage_v if demand.voltage_v > 0.0 else rating.max_voltage_v
        amps: list[tuple[float, str]] = [(rating.max_current_a, RATING)]
        if rating.cable_max_current_a is not None:
            amps.append((rating.cable_max_current_a, CABLE))
        watts: list[tuple[float, str]] = [(rating.max_power_w, RATING)]
        for lim in self._limits.values():
            if lim.connector != demand.connector_id:
                continue
            if lim.watts is not None:
                watts.append((lim.watts, lim.name))
            if lim.amps is not None:
                amps.append((lim.amps, lim.name))
        amps_cap, amps_name = min(amps, key=lambda item: item[0])
        watts.append((amps_cap * volts, amps_name))
        cap_w, cap_name = min(watts, key=lambda item: item[0])
        cap_w = max(0.0, cap_w)
        want = _Want(demand, volts, cap_w, cap_name, max(0.0, amps_cap))
        asked = max(0.0, demand.power_w)
        want.want_w, want.binding = (asked, EV) if asked <= cap_w else (cap_w, cap_name)
        return want

    def _share(self, order: Sequence[_Want], station_w: float) -> None:
        """Split ``station_w`` by the strategy (``order``: earliest session first)."""
        remaining = station_w
        if self.strategy is Strategy.FCFS:
            for want in order:
                want.give_w = max(0.0, min(want.want_w, remaining))
                remaining -= want.give_w
            return
        # FAIR: water-filling, smallest demand first, so what one leaves goes to the rest.
        left = len(order)
        for want in sorted(order, key=lambda w: w.want_w):
            share = remaining / left
            want.give_w = max(0.0, min(want.want_w, share))
            remaining -= want.give_w
            left -= 1

    def _module_power(self, address: int) -> float:
        assert self.modules is not None
        return next(m.max_power_w for m in self.modules if m.address == address)

    def _give_modules(self, order: Sequence[_Want], current: Mapping[int, Sequence[int]]) -> None:
        """Whole modules for each connector's power: its own first, then free ones, the
        earliest session first."""
        assert self.modules is not None
        available = [m.address for m in self.modules]
        taken: set[int] = set()
        for want in order:
            want.modules = []
            kept = [a for a in current.get(want.demand.connector_id, ()) if a in available]
            for address in kept:
                if self._carried(want) >= want.give_w - _EPS:
                    break
                if address not in taken:
                    want.modules.append(address)
                    taken.add(address)
        for want in order:
            for address in available:
                if self._carried(want) >= want.give_w - _EPS:
                    break
                if address not in taken:
                    want.modules.append(address)
                    taken.add(address)
            want.modules.sort()

    def _carried(self, want: _Want) -> float:
        return sum(self._module_power(a) for a in want.modules)

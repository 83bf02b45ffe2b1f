"""The power budget (firmware.power.budget): every limit, FCFS and FAIR as the DC manual 4.4.2
describes them, module pools, and hypothesis properties of any allocation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.interfaces import EvStatus
from firmware.config.model import ConnectorConfig, ConnectorKind
from firmware.power.budget import (
    CABLE,
    CONNECTORS_POWER_LIMIT,
    EV,
    IDLE,
    MAX_GRID_POWER,
    POWER_MODULES,
    POWER_STACK,
    RATING,
    TEMPERATURE,
    ConnectorRating,
    Demand,
    Limit,
    ModuleSpec,
    PowerBudget,
    Strategy,
    ev_demand,
    rating_of,
)

CCS = ConnectorRating(1, max_current_a=400.0, max_voltage_v=920.0, max_power_w=150_000.0)
CHADEMO = ConnectorRating(2, max_current_a=400.0, max_voltage_v=500.0, max_power_w=150_000.0)
GRID = 100_000.0


def budget(strategy: Strategy = Strategy.FCFS, **kw: object) -> PowerBudget:
    return PowerBudget([CCS, CHADEMO], max_grid_power_w=GRID, strategy=strategy, **kw)  # type: ignore[arg-type]


def ev(cid: int, since: float, kw: float, volts: float = 400.0) -> Demand:
    return Demand(cid, since, kw * 1000.0, volts)


# ------------------------------------------------------------------ limits, one connector


def test_alone_the_ev_gets_what_it_asks() -> None:
    result = budget().allocate([ev(1, 0.0, 50)])
    assert result[1].power_w == 50_000
    assert result[1].current_a == pytest.approx(125.0)
    assert result[1].binding == EV
    assert result[2].power_w == 0 and result[2].binding == IDLE
    assert result.total_w == 50_000


def test_max_grid_power_caps_a_single_session() -> None:
    result = budget().allocate([ev(1, 0.0, 140)])
    assert result[1].power_w == GRID
    assert result[1].binding == MAX_GRID_POWER
    assert (result.station_limit_w, result.station_binding) == (GRID, MAX_GRID_POWER)


def test_connectors_power_limit_per_connector() -> None:
    b = budget(connectors_power_limit_w={1: 40_000.0, 2: 150_000.0})
    result = b.allocate([ev(1, 0.0, 140)])
    assert (result[1].power_w, result[1].binding) == (40_000, CONNECTORS_POWER_LIMIT)


def test_connector_current_rating_at_the_voltage() -> None:
    result = budget().allocate([ev(1, 0.0, 90, volts=200.0)])
    assert result[1].power_w == 80_000  # 400 A x 200 V
    assert (result[1].current_a, result[1].binding) == (400.0, RATING)


def test_cable_rating() -> None:
    cable = ConnectorRating(1, 200.0, 920.0, 150_000.0, cable_max_current_a=125.0)
    b = PowerBudget([cable], max_grid_power_w=GRID)
    result = b.allocate([ev(1, 0.0, 90, volts=400.0)])
    assert (result[1].power_w, result[1].current_a, result[1].binding) == (50_000, 125.0, CABLE)


def test_temperature_derating_and_its_end() -> None:
    b = budget()
    b.set_derating(1, 0.5)  # 75 kW of 150
    result = b.allocate([ev(1, 0.0, 90)])
    assert (result[1].power_w, result[1].binding) == (75_000, TEMPERATURE)
    b.set_derating(1, 1.0)
    assert b.allocate([ev(1, 0.0, 90)])[1].binding == EV


def test_fixed_stack_power() -> None:
    result = budget(stack_power_w={1: 60_000.0}).allocate([ev(1, 0.0, 90)])
    assert (result[1].power_w, result[1].binding) == (60_000, POWER_STACK)


def test_later_limits_are_entries_under_their_own_name() -> None:
    """GridFallbackPower, an energy manager, a charging profile: more entries."""
    b = budget()
    b.set_limit(Limit("GridFallbackPower", watts=30_000.0))
    b.set_limit(Limit("TxProfile", amps=50.0, connector=2))
    result = b.allocate([ev(1, 0.0, 90), ev(2, 1.0, 90)])
    assert (result.station_limit_w, result.station_binding) == (30_000, "GridFallbackPower")
    assert result[1].power_w == 30_000 and result[2].power_w == 0
    b.clear_limit("GridFallbackPower")
    result = b.allocate([ev(1, 0.0, 10), ev(2, 1.0, 90)])
    assert (result[2].power_w, result[2].current_a, result[2].binding) == (20_000, 50.0,
                                                                            "TxProfile")


def test_bad_limits_and_demands_are_refused() -> None:
    b = budget()
    with pytest.raises(ValueError, match="no connector 7"):
        b.set_limit(Limit("x", watts=1.0, connector=7))
    with pytest.raises(ValueError, match="amps only per connector"):
        b.set_limit(Limit("x", amps=1.0))
    with pytest.raises(ValueError, match="unknown connector 9"):
        b.allocate([ev(9, 0.0, 1)])
    with pytest.raises(ValueError, match="one demand per connector"):
        b.allocate([ev(1, 0.0, 1), ev(1, 1.0, 1)])


# ------------------------------------------------------------------ FCFS and FAIR (4.4.2)


def test_fcfs_first_gets_all_it_can_use_the_second_the_rest() -> None:
    result = budget().allocate([ev(2, 5.0, 90), ev(1, 0.0, 70)])
    assert result[1].power_w == 70_000 and result[1].binding == EV
    assert result[2].power_w == 30_000 and result[2].binding == MAX_GRID_POWER


def test_fcfs_second_cannot_start_while_the_first_uses_everything() -> None:
    result = budget().allocate([ev(1, 0.0, 140), ev(2, 5.0, 50)])
    assert result[1].power_w == GRID
    assert result[2].suspended and result[2].binding == MAX_GRID_POWER


def test_fcfs_then_fair_splits_fifty_fifty() -> None:
    """Two EVs on two DC connectors: FCFS, then ChargingStrategy changed to FAIR."""
    b = budget()
    demands = [ev(1, 0.0, 140), ev(2, 5.0, 140)]
    first = b.allocate(demands)
    assert (first[1].power_w, first[2].power_w) == (GRID, 0)
    b.strategy = Strategy.FAIR
    fair = b.allocate(demands)
    assert fair[1].power_w == fair[2].power_w == GRID / 2
    assert fair[1].binding == fair[2].binding == MAX_GRID_POWER


def test_fair_alone_gets_everything() -> None:
    result = budget(Strategy.FAIR).allocate([ev(2, 3.0, 140)])
    assert result[2].power_w == GRID


def test_fair_gives_the_unused_share_to_the_other() -> None:
    result = budget(Strategy.FAIR).allocate([ev(1, 0.0, 20), ev(2, 5.0, 140)])
    assert result[1].power_w == 20_000 and result[1].binding == EV
    assert result[2].power_w == 80_000


def test_fair_three_sessions_equal_shares() -> None:
    third = ConnectorRating(3, 400.0, 920.0, 150_000.0)
    b = PowerBudget([CCS, CHADEMO, third], max_grid_power_w=90_000, strategy=Strategy.FAIR)
    result = b.allocate([ev(1, 0.0, 140), ev(2, 1.0, 140), ev(3, 2.0, 140)])
    assert [result[c].power_w for c in (1, 2, 3)] == [30_000, 30_000, 30_000]


def test_strategy_from_the_configuration_key_text() -> None:
    assert Strategy("FAIR") is Strategy.FAIR
    assert budget(Strategy("FCFS")).strategy is Strategy.FCFS


# ------------------------------------------------------------------ module pool


def pool(n: int, watts: float = 30_000.0) -> list[ModuleSpec]:
    return [ModuleSpec(a, watts) for a in range(n)]


def test_pool_whole_modules_for_the_power() -> None:
    b = budget(modules=pool(4))
    result = b.allocate([ev(1, 0.0, 40)])
    assert result[1].power_w == 40_000
    assert result[1].modules == (0, 1)
    assert result[2].modules == ()
    assert result.assignment() == {1: (0, 1), 2: ()}


def test_pool_fcfs_first_keeps_its_modules_second_gets_the_rest() -> None:
    b = budget(modules=pool(4))
    result = b.allocate([ev(1, 0.0, 40), ev(2, 2.0, 140)], current={1: (2, 3)})
    assert result[1].modules == (2, 3)  # kept
    assert result[2].modules == (0, 1)
    assert (result[2].power_w, result[2].binding) == (60_000, MAX_GRID_POWER)


def test_pool_fair_fifty_fifty_two_modules_each() -> None:
    b = budget(Strategy.FAIR, modules=pool(4))
    result = b.allocate([ev(1, 0.0, 140), ev(2, 2.0, 140)], current={1: (0, 1, 2, 3)})
    assert result[1].power_w == result[2].power_w == 50_000
    assert len(result[1].modules) == len(result[2].modules) == 2
    assert set(result[1].modules) | set(result[2].modules) == {0, 1, 2, 3}


def test_pool_too_few_modules_the_earlier_session_first() -> None:
    b = budget(Strategy.FAIR, modules=pool(3))  # 90 kW of modules, 100 kW grid
    result = b.allocate([ev(1, 0.0, 140), ev(2, 2.0, 140)])
    assert len(result[1].modules) == 2 and len(result[2].modules) == 1
    assert result[2].power_w == 30_000 and result[2].binding == POWER_MODULES
    assert result[1].power_w == 60_000
    assert result.station_binding == POWER_MODULES  # the pool is less than the grid


def test_pool_without_modules_no_session_starts() -> None:
    b = budget(modules=pool(0))
    result = b.allocate([ev(1, 0.0, 50)])
    assert result[1].suspended and result[1].modules == ()


# ------------------------------------------------------------------ properties

RATINGS = [
    ConnectorRating(1, 200.0, 920.0, 150_000.0, cable_max_current_a=150.0),
    ConnectorRating(2, 125.0, 500.0, 50_000.0),
    ConnectorRating(3, 500.0, 1000.0, 350_000.0),
]

demand_lists = st.lists(
    st.builds(
        Demand,
        connector_id=st.sampled_from([1, 2, 3]),
        since=st.floats(0, 1000),
        power_w=st.floats(0, 400_000),
        voltage_v=st.floats(150, 1000),
    ),
    max_size=3,
    unique_by=lambda d: d.connector_id,
)


def _rated(d: Demand) -> float:
    r = RATINGS[d.connector_id - 1]
    amps = min(r.max_current_a, r.cable_max_current_a or r.max_current_a)
    return min(r.max_power_w, amps * d.voltage_v, d.power_w)


@settings(max_examples=300, deadline=None)
@given(
    demands=demand_lists,
    grid=st.floats(1_000, 500_000),
    strategy=st.sampled_from(list(Strategy)),
    modules=st.one_of(st.none(), st.integers(0, 8)),
    limit1=st.floats(0, 200_000),
)
def test_no_allocation_breaks_a_limit(
    demands: list[Demand], grid: float, strategy: Strategy, modules: int | None, limit1: float
) -> None:
    b = PowerBudget(RATINGS, max_grid_power_w=grid, strategy=strategy,
                    connectors_power_limit_w={1: limit1},
                    modules=None if modules is None else pool(modules, 25_000.0))
    result = b.allocate(demands)
    assert result.total_w <= grid + 1e-6
    assigned: list[int] = []
    for d in demands:
        a = result[d.connector_id]
        r = RATINGS[d.connector_id - 1]
        assert 0.0 <= a.power_w <= _rated(d) + 1e-6
        assert a.current_a <= min(r.max_current_a, r.cable_max_current_a or 1e9) + 1e-6
        if d.connector_id == 1:
            assert a.power_w <= limit1 + 1e-6
        if modules is not None:
            assert a.power_w <= 25_000.0 * len(a.modules) + 1e-6
            assigned.extend(a.modules)
    assert len(assigned) == len(set(assigned))  # a module serves one connector


@settings(max_examples=200, deadline=None)
@given(demands=demand_lists, grid=st.floats(1_000, 500_000))
def test_fcfs_order_is_respected(demands: list[Demand], grid: float) -> None:
    result = PowerBudget(RATINGS, max_grid_power_w=grid).allocate(demands)
    order = sorted(demands, key=lambda d: (d.since, d.connector_id))
    for i, earlier in enumerate(order):
        for later in order[i + 1:]:
            if result[later.connector_id].power_w > 1e-6:
                assert result[earlier.connector_id].power_w == pytest.approx(_rated(earlier))


@settings(max_examples=200, deadline=None)
@given(
    a=st.floats(0, 200_000), b=st.floats(0, 200_000), grid=st.floats(1_000, 200_000),
    since=st.floats(0, 10),
)
def test_fair_equal_when_both_want_more_than_half(
    a: float, b: float, grid: float, since: float
) -> None:
    wide = [ConnectorRating(c, 1000.0, 1000.0, 1e6) for c in (1, 2)]
    budget_ = PowerBudget(wide, max_grid_power_w=grid, strategy=Strategy.FAIR)
    result = budget_.allocate([Demand(1, since, a, 500.0), Demand(2, 5.0, b, 500.0)])
    if a >= grid / 2 and b >= grid / 2:
        assert result[1].power_w == pytest.approx(grid / 2)
        assert result[2].power_w == pytest.approx(grid / 2)
    else:  # the smaller demand is served in full, the other gets the rest
        small, large = sorted((a, b))
        assert sorted((result[1].power_w, result[2].power_w)) == pytest.approx(
            sorted((small, min(large, grid - small)))
        )


# ------------------------------------------------------------------ helpers for the station


def test_ratings_from_the_station_file() -> None:
    dc = ConnectorConfig(1, ConnectorKind.CCS, 125.0, max_voltage_v=920.0, max_power_w=50_000.0)
    ac = ConnectorConfig(3, ConnectorKind.TYPE2_SOCKET, 32.0, phases=3)
    assert rating_of(dc) == ConnectorRating(1, 125.0, 920.0, 50_000.0)
    assert rating_of(ac, cable_max_current_a=20.0) == ConnectorRating(3, 32.0, 690.0, 22_080.0,
                                                                      20.0)
    b = PowerBudget([rating_of(ac, 20.0)], max_grid_power_w=GRID)
    result = b.allocate([Demand(3, 0.0, 22_080.0, 690.0)])
    assert (result[3].current_a, result[3].binding) == (20.0, CABLE)  # amps per phase


def test_ev_demand_before_and_while_charging() -> None:
    status = EvStatus(connected=True, ready=True, target_voltage_v=400.0, target_current_a=50.0,
                      max_voltage_v=450.0, max_current_a=150.0)
    assert ev_demand(1, 5.0, status, charging=True) == Demand(1, 5.0, 20_000.0, 400.0)
    assert ev_demand(1, 5.0, status, charging=False) == Demand(1, 5.0, 60_000.0, 400.0)
    at_battery = EvStatus(target_voltage_v=400.0, target_current_a=50.0, battery_voltage_v=350.0)
    assert ev_demand(2, 0.0, at_battery, charging=True) == Demand(2, 0.0, 17_500.0, 350.0)

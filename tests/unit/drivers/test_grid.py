"""Grid supervision from meter readings: limits, missing phase, hysteresis, confirmation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.grid import GridIssue, GridLimits, GridMonitor, check_reading
from drivers.interfaces import MeterReading

LIMITS = GridLimits()


def reading(*volts: float, hz: float | None = 50.0) -> MeterReading:
    return MeterReading(energy_import_wh=0.0, power_w=0.0, voltage_v=volts, frequency_hz=hz)


def test_a_healthy_grid_has_no_issue() -> None:
    assert check_reading(reading(230.0, 229.0, 231.5), 3, LIMITS) == {}


def test_undervoltage_names_the_lowest_phase() -> None:
    found = check_reading(reading(230.0, 189.0, 205.0), 3, LIMITS)
    assert set(found) == {GridIssue.UNDERVOLTAGE}
    assert (found[GridIssue.UNDERVOLTAGE].value, found[GridIssue.UNDERVOLTAGE].phase) == (
        189.0, 2
    )


def test_overvoltage() -> None:
    found = check_reading(reading(276.0, 230.0, 230.0), 3, LIMITS)
    assert found[GridIssue.OVERVOLTAGE].phase == 1


def test_missing_phase_is_not_also_undervoltage() -> None:
    found = check_reading(reading(231.0, 0.4, 229.0), 3, LIMITS)
    assert set(found) == {GridIssue.PHASE_MISSING}
    assert found[GridIssue.PHASE_MISSING].phase == 2


def test_all_phases_dead_is_a_power_cut_not_a_missing_phase() -> None:
    assert check_reading(reading(0.0, 0.0, 0.0, hz=None), 3, LIMITS) == {}


def test_single_phase_connector_looks_at_l1_only() -> None:
    assert check_reading(reading(230.0, 0.0, 0.0), 1, LIMITS) == {}
    assert GridIssue.UNDERVOLTAGE in check_reading(reading(200.0, 0.0, 0.0), 1, LIMITS)


def test_frequency_out_of_range() -> None:
    assert GridIssue.FREQUENCY in check_reading(reading(230.0, 230.0, 230.0, hz=48.7), 3,
                                                LIMITS)


def test_limits_come_from_the_catalogue_thresholds() -> None:
    limits = GridLimits.from_thresholds({"undervoltage_v": 200.0, "phase_missing_v": 50.0})
    assert (limits.undervoltage_v, limits.overvoltage_v, limits.phase_missing_v) == (
        200.0, 275.0, 50.0
    )


def test_monitor_confirms_and_clears_with_hysteresis() -> None:
    grid = GridMonitor(3, LIMITS, confirm=2)
    low = reading(205.0, 230.0, 230.0)
    assert grid.feed(low) == ([], [])  # one reading is not enough
    raised, cleared = grid.feed(low)
    assert [f.issue for f in raised] == [GridIssue.UNDERVOLTAGE] and cleared == []
    barely = reading(212.0, 230.0, 230.0)  # above 210 but inside the 5 V hysteresis
    assert grid.feed(barely) == ([], []) and grid.feed(barely) == ([], [])
    assert GridIssue.UNDERVOLTAGE in grid.active
    good = reading(220.0, 230.0, 230.0)
    assert grid.feed(good) == ([], [])
    assert grid.feed(good) == ([], [GridIssue.UNDERVOLTAGE])
    assert grid.active == {}


def test_a_single_odd_reading_changes_nothing() -> None:
    grid = GridMonitor(3, LIMITS, confirm=2)
    grid.feed(reading(231.0, 0.0, 229.0))
    assert grid.feed(reading(231.0, 230.0, 229.0)) == ([], [])
    assert grid.active == {}


@given(st.lists(st.floats(min_value=0.0, max_value=400.0), min_size=3, max_size=3),
       st.floats(min_value=40.0, max_value=60.0))
def test_any_reading_gives_consistent_findings(volts: list[float], hz: float) -> None:
    found = check_reading(reading(*volts, hz=hz), 3, LIMITS)
    for finding in found.values():
        if finding.phase is not None:
            assert finding.value == volts[finding.phase - 1]
    if GridIssue.OVERVOLTAGE in found:
        assert max(volts) > LIMITS.overvoltage_v
    if all(LIMITS.undervoltage_v <= v <= LIMITS.overvoltage_v for v in volts):
        assert set(found) <= {GridIssue.FREQUENCY}

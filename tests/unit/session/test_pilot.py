"""Control pilot classification, debouncing, PP bands and duty cycle
(firmware.session.pilot_detector)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.interfaces import PilotSample
from firmware.session.pilot_detector import (
    PilotDetector,
    PilotState,
    PpReading,
    classify,
    current_for_duty,
    duty_for_current,
    pp_ampacity,
    read_pp,
)

A, B, C, D, E, F, ERR = (
    PilotState.A,
    PilotState.B,
    PilotState.C,
    PilotState.D,
    PilotState.E,
    PilotState.F,
    PilotState.ERROR,
)


def low_for(high: float) -> float:
    """The low level of a healthy circuit: -12 V (diode in the EV, or no EV)."""
    return -12.0 if high > -10.0 else high


# ------------------------------------------------------------------ windows


@pytest.mark.parametrize(
    ("high", "expected"),
    [
        (12.0, A),
        (11.0, A),
        (13.0, A),
        (9.0, B),
        (8.0, B),
        (10.0, B),
        (6.0, C),
        (5.0, C),
        (7.0, C),
        (3.0, D),
        (4.0, D),
        (2.01, D),
        (2.0, E),
        (0.0, E),
        (-1.0, E),
        (-12.0, F),
        (-11.0, F),
        (-13.0, F),
    ],
)
def test_windows_and_their_ends(high: float, expected: PilotState) -> None:
    assert classify(high, low_for(high), pwm_on=False) is expected
    assert classify(high, low_for(high), pwm_on=True) is expected


@pytest.mark.parametrize("high", [10.5, 10.01, 10.99, 7.5, 7.01, 7.99, 4.5, 4.01, 4.99])
def test_grey_zones_between_windows_keep_the_previous_state(high: float) -> None:
    assert classify(high, -12.0, pwm_on=True) is None


@pytest.mark.parametrize("high", [-10.5, -10.0, -10.99])
def test_grey_zone_next_to_f(high: float) -> None:
    assert classify(high, high, pwm_on=False) is None


@pytest.mark.parametrize("high", [13.01, 14.0, 20.0, -1.01, -5.0, -9.8, -9.99, -13.01, -15.0])
def test_out_of_every_window_is_error(high: float) -> None:
    assert classify(high, -12.0, pwm_on=False) is ERR


@pytest.mark.parametrize("high", [9.0, 6.0, 3.0, 2.5])
def test_missing_diode_is_error_while_pwm_runs(high: float) -> None:
    # Without the diode the EV's resistor loads the negative half as well: low = -high.
    assert classify(high, -high, pwm_on=True) is ERR
    assert classify(high, -high + 1.1, pwm_on=True) is ERR
    assert classify(high, -high - 1.1, pwm_on=True) is ERR
    # The same levels without PWM say nothing about the diode.
    assert classify(high, -high, pwm_on=False) is not ERR


def test_diode_check_tolerance_edge() -> None:
    assert classify(9.0, -10.3, pwm_on=True) is B  # |9 - 10.3| = 1.3 > 1.2
    assert classify(9.0, -12.0, pwm_on=True) is B


def test_state_a_with_pwm_is_not_a_diode_fault() -> None:
    # No EV, PWM still running: +12 / -12 V, |sum| = 0 but the low level is about -12 V.
    assert classify(12.0, -12.0, pwm_on=True) is A


def test_diode_check_ignores_e() -> None:
    assert classify(1.0, -1.0, pwm_on=True) is E


@given(st.floats(min_value=-20.0, max_value=20.0, allow_nan=False))
def test_every_level_has_exactly_one_meaning(high: float) -> None:
    result = classify(high, -12.0, pwm_on=False)
    assert result is None or isinstance(result, PilotState)


# ------------------------------------------------------------------ detector


def sample(high: float, low: float | None = None, t: float = 0.0) -> PilotSample:
    return PilotSample(t=t, cp_high_v=high, cp_low_v=low_for(high) if low is None else low)


def test_detector_starts_unknown_and_reports_the_first_confirmed_state() -> None:
    det = PilotDetector(confirm_samples=2)
    assert det.state is None
    assert det.feed(sample(12.0), False) is None
    assert det.feed(sample(12.0), False) is A
    assert det.state is A
    assert det.feed(sample(12.0), False) is None  # no change, nothing reported


def test_single_glitch_sample_does_not_change_state() -> None:
    det = PilotDetector(confirm_samples=2)
    for _ in range(2):
        det.feed(sample(9.0), True)
    assert det.state is B
    for _ in range(10):
        assert det.feed(sample(6.0), True) is None
        assert det.feed(sample(9.0), True) is None
    assert det.state is B


def test_glitch_to_error_is_filtered() -> None:
    det = PilotDetector(confirm_samples=3)
    for _ in range(3):
        det.feed(sample(9.0), True)
    assert det.feed(sample(15.0), True) is None
    assert det.feed(sample(15.0), True) is None
    assert det.feed(sample(9.0), True) is None
    assert det.state is B


def test_grey_zone_samples_neither_confirm_nor_break_a_run() -> None:
    det = PilotDetector(confirm_samples=3)
    for _ in range(3):
        det.feed(sample(9.0), True)
    assert det.feed(sample(6.0), True) is None
    assert det.feed(sample(4.5), True) is None  # grey zone: the run of C goes on
    assert det.feed(sample(6.0), True) is None
    assert det.feed(sample(7.5), True) is None  # grey zone again
    assert det.feed(sample(6.0), True) is C


def test_grey_zone_alone_keeps_the_stable_state() -> None:
    det = PilotDetector()
    det.feed(sample(12.0), False)
    det.feed(sample(12.0), False)
    for _ in range(20):
        assert det.feed(sample(10.5), False) is None
    assert det.state is A


def test_wake_up_b_c_b_of_200_ms_is_seen_at_5_ms_sampling() -> None:
    det = PilotDetector(confirm_samples=2)
    seen: list[PilotState] = []
    t = 0.0
    for high, duration in ((9.0, 0.5), (6.0, 0.2), (9.0, 0.5)):
        end = t + duration
        while t < end - 1e-9:
            new = det.feed(sample(high, t=t), True)
            if new is not None:
                seen.append(new)
            t += 0.005
    assert seen == [B, C, B]


def test_error_records_the_levels_for_the_fault_text() -> None:
    det = PilotDetector(confirm_samples=2)
    det.feed(sample(-9.8, -12.0), True)
    assert det.feed(sample(-9.8, -12.0), True) is ERR
    assert det.last_out_of_range == (-9.8, -12.0)


def test_diode_fault_through_the_detector() -> None:
    det = PilotDetector(confirm_samples=2)
    det.feed(sample(9.0, -9.0), True)
    assert det.feed(sample(9.0, -9.0), True) is ERR
    assert det.last_out_of_range == (9.0, -9.0)


def test_confirm_samples_one_takes_every_sample() -> None:
    det = PilotDetector(confirm_samples=1)
    assert det.feed(sample(9.0), True) is B
    assert det.feed(sample(6.0), True) is C


def test_reset_forgets_the_state() -> None:
    det = PilotDetector(confirm_samples=1)
    det.feed(sample(9.0), True)
    det.reset()
    assert det.state is None
    assert det.feed(sample(9.0), True) is B


def test_confirm_samples_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PilotDetector(confirm_samples=0)


@given(st.lists(st.floats(min_value=-15.0, max_value=15.0, allow_nan=False), max_size=60))
def test_reported_states_are_confirmed_runs(highs: list[float]) -> None:
    det = PilotDetector(confirm_samples=2)
    previous: PilotState | None = None
    for high in highs:
        new = det.feed(sample(high), True)
        if new is not None:
            assert new != previous
            assert classify(high, low_for(high), True) is new
            previous = new
        assert det.state is previous


# ------------------------------------------------------------------ proximity pilot


@pytest.mark.parametrize(
    ("ohm", "amps"),
    [
        (1500.0, 13.0),
        (1100.0, 13.0),
        (2460.0, 13.0),
        (3000.0, 13.0),  # above the 13 A band: lower ampacity rule
        (4500.0, 13.0),
        (680.0, 20.0),
        (400.0, 20.0),
        (936.0, 20.0),
        (1000.0, 20.0),  # between 20 A and 13 A bands
        (220.0, 32.0),
        (164.0, 32.0),
        (308.0, 32.0),
        (350.0, 32.0),  # between 32 A and 20 A
        (150.0, 32.0),  # between 63 A and 32 A
        (100.0, 63.0),
        (80.0, 63.0),
        (140.0, 63.0),
        (60.0, 63.0),  # below the 63 A band but still valid
    ],
)
def test_pp_bands(ohm: float, amps: float) -> None:
    assert read_pp(ohm) == PpReading(cable=True, ampacity_a=amps, valid=True)
    assert pp_ampacity(ohm) == amps


def test_pp_63_a_band_single_phase_is_70_a() -> None:
    assert pp_ampacity(100.0, phases=1) == 70.0
    assert pp_ampacity(100.0, phases=3) == 63.0
    assert pp_ampacity(220.0, phases=1) == 32.0


@pytest.mark.parametrize("ohm", [59.9, 0.0, 4500.1, 10_000.0, math.nan])
def test_pp_invalid_cable(ohm: float) -> None:
    assert read_pp(ohm) == PpReading(cable=True, ampacity_a=None, valid=False)
    assert pp_ampacity(ohm) is None


@pytest.mark.parametrize("ohm", [None, math.inf])
def test_pp_no_cable(ohm: float | None) -> None:
    assert read_pp(ohm) == PpReading(cable=False, ampacity_a=0.0, valid=True)
    assert pp_ampacity(ohm) == 0.0


# ------------------------------------------------------------------ duty cycle


@pytest.mark.parametrize(
    ("amps", "duty"),
    [(6.0, 10.0), (10.0, 16.667), (16.0, 26.667), (32.0, 53.333), (51.0, 85.0),
     (63.0, 89.2), (80.0, 96.0), (100.0, 96.0)],
)
def test_duty_for_current(amps: float, duty: float) -> None:
    assert duty_for_current(amps) == pytest.approx(duty, abs=1e-3)


@pytest.mark.parametrize("amps", [5.99, 0.0, -1.0, math.nan])
def test_duty_below_6_a_is_refused(amps: float) -> None:
    with pytest.raises(ValueError):
        duty_for_current(amps)


@given(st.floats(min_value=6.0, max_value=80.0))
def test_current_for_duty_inverts_duty_for_current(amps: float) -> None:
    back = current_for_duty(duty_for_current(amps))
    if 51.0 < amps <= 52.5:
        # Not expressible (the two formulas do not meet): 85 % offers 51 A, never more.
        assert back == pytest.approx(51.0)
    else:
        assert back == pytest.approx(amps, abs=1e-9)


@pytest.mark.parametrize("amps", [51.01, 52.0, 52.5])
def test_gap_between_the_two_formulas_offers_51_a(amps: float) -> None:
    assert duty_for_current(amps) == 85.0
    assert duty_for_current(52.5) == pytest.approx(85.0)


@pytest.mark.parametrize(
    ("duty", "amps"),
    [(0.0, 0.0), (5.0, 0.0), (7.9, 0.0), (8.0, 6.0), (9.0, 6.0), (10.0, 6.0),
     (50.0, 30.0), (85.0, 51.0), (90.0, 65.0), (96.0, 80.0), (96.5, 80.0), (97.1, 0.0),
     (100.0, 0.0)],
)
def test_current_for_duty_table(duty: float, amps: float) -> None:
    assert current_for_duty(duty) == pytest.approx(amps)


@given(st.floats(min_value=6.0, max_value=80.0), st.floats(min_value=6.0, max_value=80.0))
def test_duty_is_monotonic(a: float, b: float) -> None:
    if a <= b:
        assert duty_for_current(a) <= duty_for_current(b)

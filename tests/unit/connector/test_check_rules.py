"""The counted and timed connector checks as a pure machine (firmware.connector.check_rules):
readings and a plain float time in, fault changes out."""

from __future__ import annotations

import pytest

from firmware.connector.check_rules import (
    RAIL_SAMPLES,
    CheckRules,
    CheckThresholds,
    EndFault,
    Notice,
    RaiseFault,
)
from firmware.safety.fault_catalogue import Condition, default_catalogue
from firmware.session.pilot_detector import PilotState

A, B, C, D = PilotState.A, PilotState.B, PilotState.C, PilotState.D
PWM = 53.3  # a PWM offer (32 A)
T0 = 1000.0


def faults(changes: object) -> list[RaiseFault | EndFault]:
    """The fault changes only (notices are log lines)."""
    assert isinstance(changes, (list, tuple))
    return [c for c in changes if not isinstance(c, Notice)]


def test_thresholds_come_from_the_catalogue_with_defaults() -> None:
    assert CheckThresholds.from_mapping({}) == CheckThresholds()
    catalogue = default_catalogue().thresholds
    t = CheckThresholds.from_mapping(catalogue)
    assert t.max_starts == int(catalogue["max_starts_per_minute"])
    assert t.cable_without_session_s == catalogue["cable_without_session_s"]
    custom = CheckThresholds.from_mapping({
        "internal_supply_min_v": 11.0, "overcurrent_tolerance_pct": 5.0,
        "overcurrent_tolerance_a": 1.0, "overcurrent_time_s": 3.0,
        "max_starts_per_minute": 2, "cable_without_session_s": 60.0, "no_pwm_grace_s": 4.0,
    })
    assert custom == CheckThresholds(11.0, 5.0, 1.0, 3.0, 2, 60.0, 4.0)


# ------------------------------------------------------------------ 104: the +12 V rail


def test_rail_low_for_five_samples_is_104() -> None:
    rules = CheckRules()
    for _ in range(RAIL_SAMPLES - 1):
        assert rules.sample(A, 100.0, 11.0) == ()
    out = rules.sample(A, 100.0, 11.0)
    assert faults(out) == [RaiseFault(Condition.INTERNAL_SUPPLY_LOW)]
    notice = out[0]
    assert isinstance(notice, Notice) and notice.error
    assert "11.00 V" in notice.message
    assert rules.sample(A, 100.0, 11.0) == ()  # raised once, not on every sample


def test_one_good_sample_or_a_pwm_restarts_the_rail_count() -> None:
    rules = CheckRules()
    for _ in range(RAIL_SAMPLES - 1):
        rules.sample(A, 100.0, 11.0)
    assert rules.sample(A, 100.0, 12.0) == (EndFault(Condition.INTERNAL_SUPPLY_LOW),)
    for _ in range(RAIL_SAMPLES - 1):
        rules.sample(A, 100.0, 11.0)
    assert rules.sample(B, 100.0, 9.0) == ()  # not resting at +12 V: not the rail
    for _ in range(RAIL_SAMPLES - 1):
        assert rules.sample(A, 100.0, 11.0) == ()
    assert rules.sample(A, PWM, 11.0) == ()  # a PWM: not the rail either
    assert rules.sample(None, 100.0, 11.0) == ()  # no state yet


def test_the_rail_ends_104_only_above_the_hysteresis() -> None:
    rules = CheckRules()
    assert rules.sample(A, 100.0, 11.45) == ()  # between 11.4 and 11.5: neither
    assert rules.sample(A, 100.0, 11.5) == (EndFault(Condition.INTERNAL_SUPPLY_LOW),)


# ------------------------------------------------------------------ 303: too many starts


def test_more_starts_than_allowed_in_a_minute_is_303() -> None:
    rules = CheckRules(CheckThresholds(max_starts=2))
    assert rules.state_entered(B, 100.0, T0) == []
    assert rules.state_entered(C, PWM, T0 + 1) == []
    assert rules.state_entered(C, PWM, T0 + 2) == []
    assert rules.state_entered(C, PWM, T0 + 3) == [
        RaiseFault(Condition.TOO_MANY_STARTS, retry=True)]


def test_starts_older_than_a_minute_do_not_count() -> None:
    rules = CheckRules(CheckThresholds(max_starts=2))
    rules.state_entered(C, PWM, T0)
    rules.state_entered(C, PWM, T0 + 30)
    assert rules.state_entered(C, PWM, T0 + 60.5) == []  # the first one fell out
    rules.unplugged()
    rules.state_entered(D, PWM, T0 + 61)
    assert rules.state_entered(D, PWM, T0 + 62) == []  # unplugging started again


def test_entering_c_without_a_pwm_is_noted() -> None:
    rules = CheckRules()
    out = rules.state_entered(C, 100.0, T0)
    assert len(out) == 1 and isinstance(out[0], Notice)
    assert "no PWM" in out[0].message


# ------------------------------------------------------------------ 302: over-current


def test_over_current_for_the_tolerance_time_is_302_safe_first() -> None:
    rules = CheckRules()  # 16 A offered: 16 * 1.1 + 0.5 = 18.1 A allowed, for 7 s
    assert rules.meter(16.0, (18.1, 10.0, 10.0), T0) == ()  # at the limit: fine
    out = rules.meter(16.0, (18.2, 10.0, 10.0), T0)
    assert len(out) == 1 and isinstance(out[0], Notice)
    assert rules.meter(16.0, (18.2,), T0 + 6.9) == ()
    (raised,) = rules.meter(16.0, (18.2,), T0 + 7.0)
    assert isinstance(raised, RaiseFault)
    assert raised.condition is Condition.OVER_CURRENT
    assert raised.safe_first == "EV over current" and raised.retry
    assert dict(raised.values) == {"allowed_a": pytest.approx(18.1), "actual_a": 18.2}
    assert len(rules.meter(16.0, (18.2,), T0 + 7.1)) == 1  # a new episode: noted again


def test_over_current_must_last_without_a_break() -> None:
    rules = CheckRules()
    rules.meter(16.0, (20.0,), T0)
    assert rules.meter(16.0, (17.0,), T0 + 5) == ()  # back within the tolerance
    rules.meter(16.0, (20.0,), T0 + 6)
    assert rules.meter(16.0, (20.0,), T0 + 12) == ()  # 6 s of this episode only
    assert faults(rules.meter(16.0, (20.0,), T0 + 13)) != []


def test_no_offer_no_over_current() -> None:
    rules = CheckRules()
    assert rules.meter(0.0, (40.0,), T0) == ()
    assert rules.meter(0.0, (40.0,), T0 + 100) == ()
    assert rules.meter(16.0, (), T0) == ()  # no phase current at all


# ------------------------------------------------------------------ 304: cable without session


def test_a_cable_without_a_session_for_two_minutes_is_304() -> None:
    rules = CheckRules()
    rules.state_entered(B, 100.0, T0)
    assert rules.tick(T0 + 119.9, B, 100.0, False) == []
    assert rules.tick(T0 + 120.0, B, 100.0, False) == [
        RaiseFault(Condition.CABLE_WITHOUT_SESSION)]


def test_a_transaction_since_the_plug_is_a_session() -> None:
    rules = CheckRules()
    rules.state_entered(B, 100.0, T0)
    assert rules.tick(T0 + 200, B, 100.0, True) == []  # a transaction runs
    rules.status(True)
    assert rules.tick(T0 + 300, B, 100.0, False) == []  # it ran since the plug
    rules.unplugged()
    rules.state_entered(B, 100.0, T0 + 400)
    assert faults(rules.tick(T0 + 520, B, 100.0, False)) == [
        RaiseFault(Condition.CABLE_WITHOUT_SESSION)]  # a new plug, no session


def test_the_plug_time_is_the_first_state_after_a() -> None:
    rules = CheckRules()
    rules.state_entered(B, 100.0, T0)
    rules.state_entered(C, PWM, T0 + 100)  # B -> C keeps the plug time
    assert faults(rules.tick(T0 + 120, B, 100.0, False)) == [
        RaiseFault(Condition.CABLE_WITHOUT_SESSION)]
    assert CheckRules().tick(T0 + 1000, A, 100.0, False) == []  # never plugged


# ------------------------------------------------------------------ 301: C without PWM


def test_staying_in_c_without_a_pwm_past_the_grace_time_is_301() -> None:
    rules = CheckRules()
    assert rules.tick(T0, C, 100.0, False) == []  # the grace time starts
    assert rules.tick(T0 + 5.9, C, 100.0, False) == []
    out = rules.tick(T0 + 6.0, C, 100.0, False)
    assert faults(out) == [RaiseFault(Condition.EV_COMM_UNKNOWN, retry=True)]
    assert isinstance(out[0], Notice)
    assert rules.tick(T0 + 6.1, C, 100.0, False) == []  # a new grace time runs


def test_a_pwm_or_leaving_c_ends_the_grace_time() -> None:
    rules = CheckRules()
    rules.tick(T0, D, 0.0, False)  # state F's 0 % is no PWM either
    rules.tick(T0 + 3, C, PWM, False)  # the PWM is back
    assert rules.tick(T0 + 6, C, 100.0, False) == []  # starts again here
    rules.tick(T0 + 7, B, 100.0, False)  # the EV went to B
    assert rules.tick(T0 + 12, C, 100.0, False) == []
    assert faults(rules.tick(T0 + 18, C, 100.0, False)) == [
        RaiseFault(Condition.EV_COMM_UNKNOWN, retry=True)]


def test_thresholds_may_change_between_calls() -> None:
    rules = CheckRules(CheckThresholds(max_starts=1))
    rules.state_entered(C, PWM, T0)
    rules.thresholds.max_starts = 1_000_000  # what the benchmarks do
    assert rules.state_entered(C, PWM, T0 + 1) == []

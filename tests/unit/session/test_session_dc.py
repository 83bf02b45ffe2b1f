"""DC session (firmware.session.dc_session.DcSession): the IEC 61851-23 sequence, each failure,
and a hypothesis stateful test of the safety invariants. Time is a plain float."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from drivers.interfaces import EvCommError
from firmware.config.model import ConnectorKind
from firmware.session.ac_session import create_session
from firmware.session.dc_session import DcPhase, DcSession
from firmware.session.events import (
    Action,
    Authorized,
    AvailabilityChanged,
    BeginTransaction,
    ChargePointStatus,
    CloseContactor,
    EndTransaction,
    Event,
    EvUpdate,
    FaultCleared,
    FaultRaised,
    ImdSelfTest,
    ImdSelfTestDone,
    InsulationMeasured,
    MeasureInsulation,
    OfferChanged,
    OpenContactor,
    OutputMeasured,
    PilotChanged,
    PlugPresent,
    SessionFault,
    SessionFaultKind,
    SessionSettings,
    SetDuty,
    StackOff,
    StackOn,
    StackSetpoint,
    StatusChanged,
    StopRequested,
)
from firmware.session.pilot_detector import PilotState
from tests.support.dc_rig import EV, Rig

S = ChargePointStatus
K = SessionFaultKind
SHUTDOWN = [StackOff(), OpenContactor()]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def phase(rig: Rig) -> DcPhase:
    """The phase, read through a call so that mypy does not narrow it between steps."""
    return rig.s.phase


# ------------------------------------------------------------------ the whole sequence


def test_whole_ccs_sequence(rig: Rig) -> None:
    assert rig.plug() == [SetDuty(5.0), StatusChanged(S.PREPARING)]
    assert rig.ev(ready=False) == []
    assert rig(Authorized("TAG")) == [BeginTransaction("TAG", False, False)]
    assert phase(rig) is DcPhase.WAIT_EV
    assert rig.s.status == "Preparing"
    assert rig.ev() == []  # EV ready: check the connector is dead first
    assert phase(rig) is DcPhase.PRE_CHECK
    assert rig(OutputMeasured(3.0, 0.0)) == [ImdSelfTest()]
    assert rig(ImdSelfTestDone(True)) == [
        CloseContactor(),
        StackSetpoint(500.0, 2.0),  # EV max 450 V: min(450 + 50, 500, 920)
        StackOn(),
    ]
    assert rig.s.contactor_closed_wanted and rig.s.stack_on_wanted
    assert rig(OutputMeasured(300.0, 0.0)) == []
    assert rig(OutputMeasured(481.0, 0.0)) == [MeasureInsulation()]
    assert rig(InsulationMeasured(2e6)) == [StackSetpoint(380.0, 2.0)]  # precharge
    assert rig(OutputMeasured(300.0, 0.0)) == []
    assert rig(OutputMeasured(395.0, 0.0)) == []  # matched; the EV closes its contactors
    assert rig.ev(power_delivery=True) == [
        StackSetpoint(400.0, 100.0),
        StatusChanged(S.CHARGING),
    ]
    # The setpoint follows the EV within the connector maximum (125 A, 50 kW).
    assert rig.ev(target_current_a=150.0, power_delivery=True) == [
        StackSetpoint(400.0, 125.0)
    ]
    assert rig.ev(target_current_a=150.0, power_delivery=True) == []  # unchanged
    # 50 kW at 450 V would be 111 A, but the output runs at the battery's 395 V, where
    # 50 kW is 126.6 A: the connector's 125 A decides.
    assert rig(OutputMeasured(395.0, 100.0)) == []
    assert rig.ev(target_voltage_v=450.0, target_current_a=150.0, power_delivery=True) == [
        StackSetpoint(450.0, 125.0)
    ]
    assert rig(OutputMeasured(450.0, 100.0)) == []
    assert rig.ev(target_voltage_v=450.0, target_current_a=149.0, power_delivery=True) == [
        StackSetpoint(450.0, round(50_000 / 450.0, 1))
    ]
    # Stop: ramp down, then power off before the contactor opens, then the weld check.
    assert rig(StopRequested("Local")) == [
        StackSetpoint(450.0, 0.0),
        StatusChanged(S.FINISHING),
    ]
    assert phase(rig) is DcPhase.RAMP_DOWN and rig.s.transaction_active
    assert rig(OutputMeasured(450.0, 30.0)) == []
    assert rig(OutputMeasured(450.0, 1.9)) == SHUTDOWN
    assert phase(rig) is DcPhase.WELD_CHECK
    rig.t += 0.5
    assert rig(OutputMeasured(200.0, 0.0)) == []  # still discharging: too early to judge
    rig.t += 0.5
    assert rig(OutputMeasured(12.0, 0.0)) == [EndTransaction("Local")]
    assert rig.s.status is S.FINISHING and phase(rig) is DcPhase.IDLE
    assert rig(PilotChanged(PilotState.A)) == [SetDuty(100.0), StatusChanged(S.AVAILABLE)]


def test_chademo_plug_without_pilot() -> None:
    rig = Rig(ConnectorKind.CHADEMO, max_voltage_v=500.0)
    assert rig(PilotChanged(PilotState.B)) == []  # no CP on CHAdeMO
    assert rig.plug() == [StatusChanged(S.PREPARING)]
    rig(Authorized("TAG"))
    rig.ev()
    rig(OutputMeasured(0.0, 0.0))
    assert rig(ImdSelfTestDone(True)) == [CloseContactor(), StackSetpoint(500.0, 2.0), StackOn()]
    assert rig(PlugPresent(False)) == [
        StackOff(),
        OpenContactor(),
        EndTransaction("EVDisconnected"),
        StatusChanged(S.AVAILABLE),
    ]


def test_authorization_before_the_plug(rig: Rig) -> None:
    assert rig(Authorized("TAG")) == [StatusChanged(S.PREPARING)]
    assert rig.plug() == [SetDuty(5.0), BeginTransaction("TAG", False, False)]


def test_ev_ready_before_the_transaction_goes_straight_to_pre_check(rig: Rig) -> None:
    rig.plug()
    rig.ev()
    rig(Authorized("TAG"))
    assert rig.s.phase is DcPhase.PRE_CHECK


def test_offer_limits_and_pause(rig: Rig) -> None:
    rig.to_charging()
    assert rig(OfferChanged(60.0)) == [StackSetpoint(400.0, 60.0)]
    # 20 kW at the measured 385 V (the battery), not at the 400 V set-point.
    assert rig(OfferChanged(100.0, watts=20_000.0)) == [StackSetpoint(400.0, 51.9)]
    assert rig(OfferChanged(0.0)) == [StackSetpoint(400.0, 0.0), StatusChanged(S.SUSPENDED_EVSE)]
    assert rig.s.contactor_closed_wanted  # paused, not stopped
    assert rig(OfferChanged(125.0)) == [StackSetpoint(400.0, 100.0), StatusChanged(S.CHARGING)]


def test_offered_current_is_the_offer_within_the_rating(rig: Rig) -> None:
    assert rig.s.offered_a == 125.0  # the rating, until the budget says otherwise
    rig(OfferChanged(60.0))
    assert rig.s.offered_a == 60.0
    rig(OfferChanged(300.0, watts=20_000.0))
    assert rig.s.offered_a == 125.0  # the power limit is the set-point's business
    rig(OfferChanged(100.0, watts=0.0))
    assert rig.s.offered_a == 0.0  # no power: paused
    rig(OfferChanged(0.0))
    assert rig.s.offered_a == 0.0


def test_ev_done_ramps_down_with_reason_local(rig: Rig) -> None:
    rig.to_charging()
    assert rig.ev(ready=False) == [StackSetpoint(400.0, 0.0), StatusChanged(S.FINISHING)]
    assert rig.s.phase is DcPhase.RAMP_DOWN


def test_ev_error_ramps_down_with_reason_other(rig: Rig) -> None:
    rig.to_charging()
    rig.ev(error=EvCommError.EV_ERROR)
    rig(OutputMeasured(400.0, 0.0))
    rig.t += 1.0
    assert rig(OutputMeasured(0.0, 0.0)) == [EndTransaction("Other")]


def test_stop_before_energy_ends_at_once(rig: Rig) -> None:
    rig.to_wait_ev()
    assert rig(StopRequested("Remote")) == [EndTransaction("Remote"), StatusChanged(S.FINISHING)]


def test_stop_during_cable_check_ramps_down(rig: Rig) -> None:
    rig.to_cable_check()
    assert rig(StopRequested("Local")) == [StackSetpoint(500.0, 0.0), StatusChanged(S.FINISHING)]


def test_second_stop_keeps_the_first_reason(rig: Rig) -> None:
    rig.to_charging()
    rig(StopRequested("Remote"))
    assert rig(StopRequested("Local")) == []
    rig(OutputMeasured(400.0, 0.0))
    rig.t += 1.0
    assert rig(OutputMeasured(0.0, 0.0)) == [EndTransaction("Remote")]


def test_unplug_while_charging_stops_at_once(rig: Rig) -> None:
    rig.to_charging()
    assert rig(PilotChanged(PilotState.A)) == [
        *SHUTDOWN,
        SetDuty(100.0),
        EndTransaction("EVDisconnected"),
        StatusChanged(S.AVAILABLE),
    ]


def test_blocking_fault_while_charging(rig: Rig) -> None:
    rig.to_charging()
    assert rig(FaultRaised("19")) == [
        *SHUTDOWN,
        SetDuty(0.0),
        EndTransaction("Other"),
        StatusChanged(S.FAULTED),
    ]
    assert rig.at(0.3) == [SetDuty(100.0)]
    assert rig(FaultCleared("19")) == [SetDuty(5.0), StatusChanged(S.PREPARING)]


def test_autocharge_uses_the_ev_id(rig: Rig) -> None:
    rig.s.apply_settings(SessionSettings(autocharge=True))
    rig.plug()
    assert rig.ev(ready=False, ev_id="VID:0012AB") == [
        BeginTransaction("VID:0012AB", False, False)
    ]


def test_autocharge_off_ignores_the_ev_id(rig: Rig) -> None:
    rig.plug()
    assert rig.ev(ev_id="VID:0012AB") == []
    assert not rig.s.transaction_active


def test_dc_takes_the_settings_that_apply_to_dc() -> None:
    settings = SessionSettings(connection_timeout_s=12.0, stop_on_ev_disconnect=False,
                               unlock_on_ev_disconnect=False, autocharge=True)
    rig = Rig()
    rig.s.apply_settings(settings)
    assert rig.s.settings == settings
    assert rig.s.timers.connection_timeout_s == 12.0
    rig(Authorized("TAG"))
    assert rig.s.deadline == pytest.approx(rig.t + 12.0)  # ConnectionTimeOut
    charging = Rig()
    charging.s.apply_settings(settings)
    charging.to_charging()
    # StopTransactionOnEVSideDisconnect is an AC key: a DC unplug always ends the session.
    assert EndTransaction("EVDisconnected") in charging(PilotChanged(PilotState.A))
    assert not charging.s.transaction_active


def test_unavailable_ccs_offers_no_communication(rig: Rig) -> None:
    rig(AvailabilityChanged(False))
    assert rig.plug() == []
    assert rig.s.duty == 100.0 and rig.s.status is S.UNAVAILABLE


# ------------------------------------------------------------------ each failure


def test_ev_voltage_above_60_v_before_start(rig: Rig) -> None:
    rig.to_wait_ev()
    rig.ev()
    assert rig(OutputMeasured(350.0, 0.0)) == [
        SetDuty(0.0),
        SessionFault(K.EV_VOLTAGE, True, "350.0 V"),
        EndTransaction("Other"),
        StatusChanged(S.FAULTED),
    ]
    assert rig.at(0.3) == [SetDuty(100.0)]
    assert rig(PilotChanged(PilotState.A)) == [
        SessionFault(K.EV_VOLTAGE, False),
        StatusChanged(S.AVAILABLE),
    ]


def test_pre_check_without_any_reading_times_out(rig: Rig) -> None:
    rig.to_wait_ev()
    rig.ev()
    out = rig.at(30.0)
    assert SessionFault(K.CABLE_CHECK_TIMEOUT, True, "no voltage reading") in out


def test_imd_self_test_fails(rig: Rig) -> None:
    rig.to_wait_ev()
    rig.ev()
    rig(OutputMeasured(0.0, 0.0))
    assert rig(ImdSelfTestDone(False)) == [
        SetDuty(0.0),
        SessionFault(K.IMD_SELF_TEST, True, "self-test failed"),
        EndTransaction("Other"),
        StatusChanged(S.FAULTED),
    ]
    assert not rig.s.contactor_closed_wanted


def test_imd_self_test_timeout(rig: Rig) -> None:
    rig.to_wait_ev()
    rig.ev()
    rig(OutputMeasured(0.0, 0.0))
    assert rig.s.deadline == pytest.approx(rig.t + 30.0)
    assert rig.at(29.9) == []
    assert SessionFault(K.IMD_SELF_TEST, True, "self-test timeout") in rig.at(0.1)
    assert rig(ImdSelfTestDone(True)) == []  # too late


def test_insulation_fault(rig: Rig) -> None:
    rig.to_cable_check()
    rig(OutputMeasured(500.0, 0.0))
    assert rig(InsulationMeasured(48_000.0)) == [
        *SHUTDOWN,
        SetDuty(0.0),
        SessionFault(K.INSULATION, True, "48000 ohm"),
        EndTransaction("Other"),
        StatusChanged(S.FAULTED),
    ]


def test_insulation_fault_while_charging(rig: Rig) -> None:
    rig.to_charging()
    out = rig(InsulationMeasured(10_000.0))
    assert out[:2] == SHUTDOWN
    assert rig.s.status is S.FAULTED


def test_cable_check_voltage_never_reached(rig: Rig) -> None:
    rig.to_cable_check()
    rig(OutputMeasured(120.0, 0.0))
    out = rig.at(30.0)
    assert out[:2] == SHUTDOWN
    assert SessionFault(K.CABLE_CHECK_TIMEOUT, True, "120.0 V 0.0 A") in out
    assert EndTransaction("Other") in out


def test_precharge_timeout(rig: Rig) -> None:
    rig.to_precharge()
    rig(OutputMeasured(250.0, 0.0))
    assert rig.at(6.9) == []
    out = rig.at(0.1)
    assert out[:2] == SHUTDOWN
    assert SessionFault(K.PRECHARGE_TIMEOUT, True, "250.0 V 0.0 A") in out


def test_ramp_down_timeout_opens_anyway(rig: Rig) -> None:
    rig.to_charging()
    rig(StopRequested("Local"))
    rig(OutputMeasured(400.0, 40.0))
    assert rig.at(1.9) == []
    assert rig.at(0.1) == [
        *SHUTDOWN,
        SetDuty(0.0),
        SessionFault(K.RAMP_DOWN_TIMEOUT, True, "400.0 V 40.0 A"),
        EndTransaction("Local"),
        StatusChanged(S.FAULTED),
    ]


def test_welding_detected_is_latched(rig: Rig) -> None:
    rig.to_weld_check()
    rig.t += 1.0
    assert rig(OutputMeasured(380.0, 0.0)) == [
        SetDuty(0.0),
        SessionFault(K.WELDED, True, "380.0 V"),
        EndTransaction("Local"),
        StatusChanged(S.FAULTED),
    ]
    rig.at(0.3)
    assert rig(PilotChanged(PilotState.A)) == []  # unplugging does not clear it
    assert rig.s.status is S.FAULTED
    assert rig(FaultCleared("welded")) == [
        SessionFault(K.WELDED, False),
        StatusChanged(S.AVAILABLE),
    ]


def test_weld_check_without_reading_ends_unchecked(rig: Rig) -> None:
    rig.to_weld_check()
    assert rig.s.deadline == pytest.approx(rig.t + 6.0)
    assert rig.at(6.0) == [EndTransaction("Local")]
    assert rig.s.status is S.FINISHING


# ------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("ev_max", "evse_max", "expected"),
    [
        (300.0, 920.0, 350.0),
        (460.0, 920.0, 500.0),
        (500.0, 920.0, 500.0),
        (450.0, 480.0, 480.0),
        (800.0, 920.0, 880.0),
        (900.0, 920.0, 920.0),
        (800.0, 500.0, 500.0),
        (0.0, 920.0, 500.0),  # EV maximum not known yet
    ],
)
def test_cable_check_test_voltage(ev_max: float, evse_max: float, expected: float) -> None:
    rig = Rig(max_voltage_v=evse_max)
    rig.ev(max_voltage_v=ev_max)
    assert rig.s.test_voltage_v == pytest.approx(expected)


def test_dc_session_needs_max_voltage() -> None:
    with pytest.raises(ValueError):
        create_session(ConnectorKind.CCS, 100.0)


def test_ac_kinds_refused() -> None:
    with pytest.raises(ValueError):
        DcSession(ConnectorKind.TYPE2_SOCKET, 32.0, max_voltage_v=400.0)


# ------------------------------------------------------------------ stateful invariants

_POWER = {
    DcPhase.CABLE_CHECK,
    DcPhase.INSULATION,
    DcPhase.PRECHARGE,
    DcPhase.CHARGING,
    DcPhase.RAMP_DOWN,
}


class DcMachine(RuleBasedStateMachine):
    """Random event sequences on a CCS connector; invariants after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.s = DcSession(ConnectorKind.CCS, 125.0, max_voltage_v=920.0, max_power_w=50_000)
        self.t = 0.0
        self.pilot: PilotState | None = None
        self.faults: set[str] = set()
        self.reported = self.s.status
        self.closed_since: float | None = None

    def step(self, out: list[Action], before: bool) -> None:
        after = self.s.contactor_closed_wanted
        if OpenContactor() in out:
            assert out[:2] == SHUTDOWN, out  # power off first, then the contactor
        if before and not after:
            assert out[:2] == SHUTDOWN, out
        if CloseContactor() in out:
            assert after and out.index(CloseContactor()) < out.index(StackOn())
        for action in out:
            if isinstance(action, StatusChanged):
                self.reported = action.status
        assert self.reported == self.s.status

    def do(self, event: Event) -> None:
        before = self.s.contactor_closed_wanted
        self.step(self.s.handle(event, self.t), before)

    @rule(state=st.sampled_from(list(PilotState)))
    def pilot_changes(self, state: PilotState) -> None:
        # F while we drive -12 V ourselves is our own signal: the session ignores it and,
        # on a real wire, the next sample after the hold shows the EV's state again.
        self.own_f = state is PilotState.F and self.s.duty == 0.0
        self.pilot = state
        self.do(PilotChanged(state))

    @rule()
    def plug(self) -> None:
        self.pilot_changes(PilotState.B)

    @rule()
    def unplug(self) -> None:
        self.pilot_changes(PilotState.A)

    @rule(tag=st.sampled_from(["T1", "T2"]))
    def authorize(self, tag: str) -> None:
        self.do(Authorized(tag))

    @rule(ready=st.booleans(), error=st.sampled_from([None, None, None, EvCommError.EV_ERROR]))
    def ev_update(self, ready: bool, error: EvCommError | None) -> None:
        self.do(EvUpdate(dataclasses.replace(EV, ready=ready, error=error)))

    @rule(
        volts=st.sampled_from([0.0, 30.0, 100.0, 380.0, 400.0, 500.0]),
        amps=st.sampled_from([0.0, 1.0, 50.0]),
    )
    def output(self, volts: float, amps: float) -> None:
        self.do(OutputMeasured(volts, amps))

    @rule(ok=st.sampled_from([True, True, False]))
    def imd_done(self, ok: bool) -> None:
        self.do(ImdSelfTestDone(ok))

    @rule(ohm=st.sampled_from([5e4, 5e6, 5e6]))
    def insulation(self, ohm: float) -> None:
        self.do(InsulationMeasured(ohm))

    @rule(steps=st.integers(min_value=0, max_value=5))
    def happy_path(self, steps: int) -> None:
        """Plug, card, EV ready, then ``steps`` of: dead connector, IMD ok, test voltage,
        insulation ok, precharge reached (5 = Charging unless something got in the way)."""
        self.plug()
        self.authorize("T1")
        self.ev_update(True, None)
        for event in (
            OutputMeasured(0.0, 0.0),
            ImdSelfTestDone(True),
            OutputMeasured(500.0, 0.0),
            InsulationMeasured(5e6),
            OutputMeasured(380.0, 0.0),
        )[:steps]:
            self.do(event)

    @rule(reason=st.sampled_from(["Local", "Remote"]))
    def stop(self, reason: str) -> None:
        self.do(StopRequested(reason))

    @rule(amps=st.sampled_from([0.0, 50.0, 200.0]))
    def offer(self, amps: float) -> None:
        self.do(OfferChanged(amps))

    @rule(code=st.sampled_from(["19", "welded"]), blocking=st.sampled_from([False, True, False]))
    def fault(self, code: str, blocking: bool) -> None:
        if blocking:
            self.faults.add(code)
        self.do(FaultRaised(code, blocking))

    @rule(code=st.sampled_from(["19", "welded"]))
    def clear(self, code: str) -> None:
        self.faults.discard(code)
        self.do(FaultCleared(code))

    @rule(operative=st.booleans())
    def availability(self, operative: bool) -> None:
        self.do(AvailabilityChanged(operative))

    @rule(dt=st.sampled_from([0.1, 0.3, 1.0, 2.0, 7.0, 31.0]))
    def advance(self, dt: float) -> None:
        self.t += dt
        before = self.s.contactor_closed_wanted
        self.step(self.s.poll(self.t), before)

    @precondition(lambda self: self.s.deadline is not None)
    @rule()
    def poll_at_deadline(self) -> None:
        deadline = self.s.deadline
        assert deadline is not None
        self.t = max(self.t, deadline)
        before = self.s.contactor_closed_wanted
        self.step(self.s.poll(self.t), before)

    @invariant()
    def status_is_a_charge_point_status(self) -> None:
        assert self.s.status in {s.value for s in ChargePointStatus}

    @invariant()
    def power_only_when_safe(self) -> None:
        s = self.s
        assert s.stack_on_wanted == s.contactor_closed_wanted
        if s.contactor_closed_wanted:
            assert s.transaction_active and s.phase in _POWER
            assert self.pilot in (PilotState.B, PilotState.C, PilotState.D)
            assert not self.faults and not s.faulted

    @invariant()
    def phase_matches_transaction(self) -> None:
        assert (self.s.phase is DcPhase.IDLE) != self.s.transaction_active

    @invariant()
    def communication_duty(self) -> None:
        assert self.s.duty in (0.0, 5.0, 100.0)
        if self.s.duty == 5.0:
            own_f = self.pilot is PilotState.F and getattr(self, "own_f", False)
            assert self.pilot in (PilotState.B, PilotState.C, PilotState.D) or own_f


TestDcMachine = DcMachine.TestCase
TestDcMachine.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)


def test_no_power_waits_in_suspended_evse_before_cable_check(rig: Rig) -> None:
    """FCFS: a second session the budget gives nothing does not start its cable check."""
    rig(OfferChanged(0.0, 0.0))
    rig.to_wait_ev()
    assert rig.ev() == [StatusChanged(S.SUSPENDED_EVSE)]
    assert rig.s.phase is DcPhase.WAIT_EV
    assert rig.s.status == "SuspendedEVSE"
    actions = rig(OfferChanged(100.0, 40_000.0))  # the first session ended
    assert rig.s.phase is DcPhase.PRE_CHECK
    assert StatusChanged(S.PREPARING) in actions

"""AC session state machine (firmware.session.ac_session.AcSession): every transition, plus a
hypothesis stateful test of the safety invariants. Time is a plain float."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from firmware.config.model import ConnectorKind
from firmware.session.ac_session import AcSession, create_session
from firmware.session.events import (
    Action,
    Authorized,
    AvailabilityChanged,
    BeginTransaction,
    ChargePointStatus,
    CloseContactor,
    ContactorFeedback,
    EndTransaction,
    Event,
    FaultCleared,
    FaultRaised,
    Lock,
    LockResult,
    OfferChanged,
    OpenContactor,
    PilotChanged,
    ReservationEnded,
    ReservationMade,
    SessionFault,
    SessionFaultKind,
    SessionSettings,
    SessionTimers,
    SetDuty,
    StatusChanged,
    StopRequested,
    TransactionRejected,
    Unlock,
)
from firmware.session.pilot_detector import PilotState, duty_for_current

A, B, C, D, E, F, ERR = (
    PilotState.A,
    PilotState.B,
    PilotState.C,
    PilotState.D,
    PilotState.E,
    PilotState.F,
    PilotState.ERROR,
)
S = ChargePointStatus
D32 = duty_for_current(32.0)


class Rig:
    """A session and a manual clock."""

    def __init__(self, kind: ConnectorKind = ConnectorKind.TYPE2_SOCKET, **kw: object) -> None:
        session = create_session(kind, 32.0, SessionTimers(), **kw)  # type: ignore[arg-type]
        assert isinstance(session, AcSession)
        self.s = session
        self.t = 1000.0

    def __call__(self, event: Event) -> list[Action]:
        return self.s.handle(event, self.t)

    def pilot(self, state: PilotState) -> list[Action]:
        return self(PilotChanged(state))

    def at(self, dt: float) -> list[Action]:
        self.t += dt
        return self.s.poll(self.t)

    def charging(self, tag: str = "TAG") -> None:
        """Plug, lock, authorize, EV asks: Charging."""
        self.pilot(B)
        if self.s.socket:
            self(LockResult(True))
        self(Authorized(tag))
        assert self.pilot(C) == [CloseContactor(), StatusChanged(S.CHARGING)]


@pytest.fixture
def rig() -> Rig:
    return Rig()


# ------------------------------------------------------------------ start


def test_initial_state(rig: Rig) -> None:
    assert rig.s.status == "Available"
    assert rig.s.deadline is None
    assert not rig.s.contactor_closed_wanted
    assert rig.pilot(A) == []


def test_initially_inoperative() -> None:
    assert Rig(operative=False).s.status is S.UNAVAILABLE


def test_plug_first(rig: Rig) -> None:
    assert rig.pilot(B) == [Lock(), StatusChanged(S.PREPARING)]
    assert rig(LockResult(True)) == []
    # No PWM before authorization.
    assert rig.s.duty == 100.0
    assert rig(Authorized("TAG")) == [BeginTransaction("TAG", False, False), SetDuty(D32)]
    assert rig.s.transaction_active and rig.s.id_tag == "TAG"
    assert rig.s.status is S.PREPARING  # until the EV first asks for energy
    assert rig.pilot(C) == [CloseContactor(), StatusChanged(S.CHARGING)]
    assert rig.s.contactor_closed_wanted


def test_card_first(rig: Rig) -> None:
    assert rig(Authorized("TAG")) == [StatusChanged(S.PREPARING)]
    assert rig.s.id_tag == "TAG" and not rig.s.transaction_active
    assert rig.pilot(B) == [Lock()]
    assert rig(LockResult(True)) == [BeginTransaction("TAG", False, False), SetDuty(D32)]


def test_no_pwm_before_the_lock_holds(rig: Rig) -> None:
    rig(Authorized("TAG"))
    assert rig.pilot(B) == [Lock()]
    assert rig.pilot(C) == []  # EV asks, but no transaction yet
    assert rig(LockResult(True)) == [
        BeginTransaction("TAG", False, False),
        SetDuty(D32),
        CloseContactor(),
        StatusChanged(S.CHARGING),
    ]


def test_tethered_cable_needs_no_lock() -> None:
    rig = Rig(ConnectorKind.TYPE2_CABLE)
    assert rig.pilot(B) == [StatusChanged(S.PREPARING)]
    assert rig(Authorized("TAG")) == [BeginTransaction("TAG", False, False), SetDuty(D32)]


def test_remote_start(rig: Rig) -> None:
    assert rig(Authorized("REMOTE", remote=True)) == [StatusChanged(S.PREPARING)]
    rig.pilot(B)
    assert rig(LockResult(True)) == [BeginTransaction("REMOTE", True, False), SetDuty(D32)]


def test_ev_already_in_c_charges_in_the_same_call(rig: Rig) -> None:
    rig.pilot(B)
    rig(LockResult(True))
    rig.pilot(C)  # some EVs go to C before they see PWM
    assert rig(Authorized("TAG")) == [
        BeginTransaction("TAG", False, False),
        SetDuty(D32),
        CloseContactor(),
        StatusChanged(S.CHARGING),
    ]


def test_offer_is_clamped_to_the_connector_maximum(rig: Rig) -> None:
    rig(OfferChanged(63.0))
    rig.pilot(B)
    rig(LockResult(True))
    assert SetDuty(D32) in rig(Authorized("TAG"))
    assert rig.s.offered_a == 32.0


# ------------------------------------------------------------------ ConnectionTimeOut


def test_connection_timeout_card_without_plug(rig: Rig) -> None:
    rig(Authorized("TAG"))
    assert rig.s.deadline == pytest.approx(rig.t + 30.0)
    assert rig.at(29.9) == []
    assert rig.at(0.1) == [StatusChanged(S.AVAILABLE)]
    assert rig.s.id_tag is None and rig.s.deadline is None
    # A plug after the timeout does not start anything.
    assert rig.pilot(B) == [Lock(), StatusChanged(S.PREPARING)]
    assert rig(LockResult(True)) == []
    assert not rig.s.transaction_active


def test_connection_timeout_plug_without_card(rig: Rig) -> None:
    rig.pilot(B)
    rig(LockResult(True))
    assert rig.at(30.0) == [StatusChanged(S.AVAILABLE)]
    assert rig.s.deadline is None
    # A late card still starts the session: the plug is still there and locked.
    assert rig(Authorized("TAG")) == [
        BeginTransaction("TAG", False, False),
        SetDuty(D32),
        StatusChanged(S.PREPARING),
    ]


def test_timeout_handled_before_a_late_event(rig: Rig) -> None:
    rig(Authorized("TAG"))
    rig.t += 31.0  # nobody polled; the plug arrives after the timeout
    assert rig.pilot(B) == [Lock()]
    assert rig(LockResult(True)) == []
    assert rig.s.id_tag is None


def test_stop_without_transaction_cancels_the_authorization(rig: Rig) -> None:
    rig(Authorized("TAG"))
    assert rig(StopRequested("Local")) == [StatusChanged(S.AVAILABLE)]
    assert rig.s.id_tag is None


# ------------------------------------------------------------------ stop


@pytest.mark.parametrize("reason", ["Local", "Remote", "HardReset", "SoftReset", "Reboot"])
def test_stop_while_charging(rig: Rig, reason: str) -> None:
    rig.charging()
    assert rig(StopRequested(reason)) == [
        OpenContactor(),
        SetDuty(100.0),
        EndTransaction(reason),
        StatusChanged(S.FINISHING),
    ]
    assert not rig.s.transaction_active
    assert rig.pilot(B) == []
    assert rig.pilot(A) == [Unlock(), StatusChanged(S.AVAILABLE)]


def test_new_session_from_finishing(rig: Rig) -> None:
    rig.charging()
    rig(StopRequested("Local"))
    rig.pilot(B)
    assert rig(Authorized("NEXT")) == [
        BeginTransaction("NEXT", False, False),
        SetDuty(D32),
        StatusChanged(S.PREPARING),
    ]


def test_ev_unplugs_during_transaction(rig: Rig) -> None:
    rig.charging()
    assert rig.pilot(A) == [
        OpenContactor(),
        SetDuty(100.0),
        EndTransaction("EVDisconnected"),
        Unlock(),
        StatusChanged(S.AVAILABLE),
    ]


def test_ev_unplugs_without_stop_on_ev_side_disconnect(rig: Rig) -> None:
    rig.s.apply_settings(SessionSettings(stop_on_ev_disconnect=False))
    rig.charging()
    assert rig.pilot(A) == [
        OpenContactor(),
        SetDuty(100.0),
        Unlock(),
        StatusChanged(S.SUSPENDED_EV),
    ]
    assert rig.s.transaction_active
    rig.t += 1.0
    assert rig.pilot(B) == [Lock(), StatusChanged(S.SUSPENDED_EVSE)]
    assert rig(LockResult(True)) == []  # PWM comes back 5 s after it was removed
    assert rig.s.deadline == pytest.approx(rig.t + 4.0)
    assert rig.at(4.0) == [SetDuty(D32), StatusChanged(S.SUSPENDED_EV)]
    assert rig.pilot(C) == [CloseContactor(), StatusChanged(S.CHARGING)]


def test_unlock_on_ev_side_disconnect_off_keeps_the_cable_locked(rig: Rig) -> None:
    rig.s.apply_settings(SessionSettings(stop_on_ev_disconnect=False,
                                         unlock_on_ev_disconnect=False))
    rig.charging()
    assert rig.pilot(A) == [OpenContactor(), SetDuty(100.0), StatusChanged(S.SUSPENDED_EV)]
    assert rig.s.transaction_active  # no Unlock: the cable stays in the socket
    assert Unlock() not in rig(StopRequested("Local"))  # nor when the transaction ends


def test_ac_takes_the_settings_that_apply_to_ac(rig: Rig) -> None:
    settings = SessionSettings(connection_timeout_s=12.0, autocharge=True)
    rig.s.apply_settings(settings)
    assert rig.s.settings == settings
    assert rig.s.timers == SessionTimers(connection_timeout_s=12.0)  # the rest untouched
    rig(Authorized("TAG"))
    assert rig.s.deadline == pytest.approx(rig.t + 12.0)
    assert rig.at(12.0) == [StatusChanged(S.AVAILABLE)]
    # Autocharge is a DC key: an AC session starts nothing without an authorization.
    assert rig.pilot(B) == [Lock(), StatusChanged(S.PREPARING)]
    assert rig(LockResult(True)) == [] and not rig.s.transaction_active


def test_transaction_rejected(rig: Rig) -> None:
    rig.charging()
    assert rig(TransactionRejected()) == [
        OpenContactor(),
        SetDuty(100.0),
        EndTransaction("DeAuthorized"),
        StatusChanged(S.FINISHING),
    ]


def test_transaction_rejected_without_transaction_is_ignored(rig: Rig) -> None:
    assert rig(TransactionRejected()) == []


# ------------------------------------------------------------------ pauses


def test_ev_pause_and_resume(rig: Rig) -> None:
    rig.charging()
    assert rig.pilot(B) == [OpenContactor(), StatusChanged(S.SUSPENDED_EV)]
    assert rig.s.duty == D32  # PWM stays: the EV may resume
    assert rig.pilot(C) == [CloseContactor(), StatusChanged(S.CHARGING)]


def test_offer_zero_pauses_and_ev_answers_with_b(rig: Rig) -> None:
    rig.charging()
    assert rig(OfferChanged(0.0)) == [SetDuty(100.0), StatusChanged(S.SUSPENDED_EVSE)]
    assert rig.s.contactor_closed_wanted  # the EV gets its time to stop drawing
    assert rig.pilot(B) == [OpenContactor()]
    assert rig.s.status is S.SUSPENDED_EVSE


@pytest.mark.parametrize("amps", [0.0, 5.9])
def test_pwm_removed_and_ev_stays_in_c_opens_after_6_s(rig: Rig, amps: float) -> None:
    rig.charging()
    rig(OfferChanged(amps))
    assert rig.s.deadline == pytest.approx(rig.t + 6.0)
    assert rig.at(5.9) == []
    assert rig.s.contactor_closed_wanted
    assert rig.at(0.1) == [OpenContactor()]
    assert rig.s.status is S.SUSPENDED_EVSE
    assert rig.s.deadline is None


def test_offer_back_after_pause_resumes_after_5_s(rig: Rig) -> None:
    rig.charging()
    rig(OfferChanged(0.0))
    rig.pilot(B)
    rig.t += 1.0
    assert rig(OfferChanged(16.0)) == []
    assert rig.s.status is S.SUSPENDED_EVSE
    assert rig.at(4.0) == [SetDuty(duty_for_current(16.0)), StatusChanged(S.SUSPENDED_EV)]
    assert rig.pilot(C) == [CloseContactor(), StatusChanged(S.CHARGING)]


def test_pwm_changes_at_most_every_5_s(rig: Rig) -> None:
    t0 = rig.t
    rig.charging()  # PWM set at t0
    rig.t = t0 + 1.0
    assert rig(OfferChanged(16.0)) == []  # decrease waits too
    assert rig.s.deadline == pytest.approx(t0 + 5.0)
    rig.t = t0 + 2.0
    assert rig(OfferChanged(20.0)) == []  # the pending value is the latest offer
    rig.t = t0 + 5.0
    assert rig.s.poll(rig.t) == [SetDuty(duty_for_current(20.0))]
    rig.t = t0 + 6.0
    assert rig(OfferChanged(32.0)) == []  # increase waits as well
    assert rig.s.deadline == pytest.approx(t0 + 10.0)
    rig.t = t0 + 9.0
    assert rig(OfferChanged(20.0)) == []  # back to the present value: nothing pending
    assert rig.s.deadline is None
    assert rig.s.status is S.CHARGING


def test_pause_is_immediate_even_inside_the_5_s(rig: Rig) -> None:
    rig.charging()
    rig.t += 1.0
    assert rig(OfferChanged(3.0)) == [SetDuty(100.0), StatusChanged(S.SUSPENDED_EVSE)]


# ------------------------------------------------------------------ faults


def test_blocking_fault_while_charging(rig: Rig) -> None:
    rig.charging()
    assert rig(FaultRaised("106")) == [
        OpenContactor(),
        SetDuty(0.0),
        EndTransaction("Other"),
        Unlock(),
        StatusChanged(S.FAULTED),
    ]
    assert rig.s.deadline == pytest.approx(rig.t + 0.3)
    assert rig.pilot(F) == []  # our own -12 V is no pilot fault
    assert rig.at(0.29) == []
    assert rig.at(0.01) == [SetDuty(100.0)]  # F held 300 ms, then +12 V while Faulted
    assert rig.pilot(B) == []
    assert rig.s.status is S.FAULTED
    assert rig(Authorized("TAG")) == []  # refused while faulted
    assert rig(FaultCleared("106")) == [Lock(), StatusChanged(S.PREPARING)]


def test_emergency_stop_reason(rig: Rig) -> None:
    rig.charging()
    out = rig(FaultRaised("stop_button", stop_reason="EmergencyStop"))
    assert out[0] == OpenContactor()
    assert EndTransaction("EmergencyStop") in out


def test_faulted_until_every_blocking_fault_clears(rig: Rig) -> None:
    assert rig(FaultRaised("a")) == [SetDuty(0.0), StatusChanged(S.FAULTED)]
    assert rig(FaultRaised("b")) == []
    rig.at(1.0)
    assert rig(FaultCleared("a")) == []
    assert rig(FaultCleared("b")) == [StatusChanged(S.AVAILABLE)]


def test_non_blocking_fault_stops_nothing(rig: Rig) -> None:
    rig.charging()
    assert rig(FaultRaised("401", blocking=False)) == []
    assert rig.s.contactor_closed_wanted and rig.s.status is S.CHARGING


@pytest.mark.parametrize("state", [ERR, E, F])
def test_pilot_fault_while_charging(rig: Rig, state: PilotState) -> None:
    rig.charging()
    assert rig.pilot(state) == [
        OpenContactor(),
        SetDuty(0.0),
        SessionFault(SessionFaultKind.PILOT, True, state.value),
        EndTransaction("Other"),
        Unlock(),
        StatusChanged(S.FAULTED),
    ]
    assert rig.at(0.3) == [SetDuty(100.0)]
    assert rig.pilot(B) == [
        SessionFault(SessionFaultKind.PILOT, False),
        Lock(),
        StatusChanged(S.PREPARING),
    ]


def test_pilot_fault_persists_after_the_hold(rig: Rig) -> None:
    rig.charging()
    rig.pilot(ERR)
    rig.pilot(F)  # the hold
    rig.at(0.3)
    assert rig.pilot(ERR) == []
    assert rig.s.status is S.FAULTED
    assert rig.pilot(A) == [
        SessionFault(SessionFaultKind.PILOT, False),
        StatusChanged(S.AVAILABLE),
    ]


def test_ventilation_allowed_by_default(rig: Rig) -> None:
    rig.pilot(B)
    rig(LockResult(True))
    rig(Authorized("TAG"))
    assert rig.pilot(D) == [CloseContactor(), StatusChanged(S.CHARGING)]


def test_ventilation_refused_is_a_pilot_fault(rig: Rig) -> None:
    rig.s.allow_ventilation = False
    rig.pilot(B)
    rig(LockResult(True))
    rig(Authorized("TAG"))
    out = rig.pilot(D)
    assert CloseContactor() not in out
    assert SessionFault(SessionFaultKind.PILOT, True, "D") in out
    assert rig.s.status is S.FAULTED


# ------------------------------------------------------------------ availability


def test_unavailable_now(rig: Rig) -> None:
    assert rig(AvailabilityChanged(False)) == [StatusChanged(S.UNAVAILABLE)]
    assert rig.pilot(B) == []  # no lock, no Preparing
    assert rig(Authorized("TAG")) == []
    assert rig(AvailabilityChanged(True)) == [Lock(), StatusChanged(S.PREPARING)]


def test_unavailable_drops_a_waiting_authorization(rig: Rig) -> None:
    rig(Authorized("TAG"))
    assert rig(AvailabilityChanged(False)) == [StatusChanged(S.UNAVAILABLE)]
    assert rig.s.id_tag is None


def test_unavailable_scheduled_until_the_transaction_ends(rig: Rig) -> None:
    rig.charging()
    assert rig(AvailabilityChanged(False)) == []
    assert rig.s.availability_pending and rig.s.contactor_closed_wanted
    assert rig(StopRequested("Local")) == [
        OpenContactor(),
        SetDuty(100.0),
        EndTransaction("Local"),
        Unlock(),
        StatusChanged(S.UNAVAILABLE),
    ]
    assert not rig.s.availability_pending


def test_scheduled_unavailable_cancelled(rig: Rig) -> None:
    rig.charging()
    rig(AvailabilityChanged(False))
    rig(AvailabilityChanged(True))
    assert not rig.s.availability_pending
    assert rig(StopRequested("Local"))[-1] == StatusChanged(S.FINISHING)


# ------------------------------------------------------------------ reservations


def test_reservation_used_by_its_id_tag(rig: Rig) -> None:
    assert rig(ReservationMade("R1")) == [StatusChanged(S.RESERVED)]
    assert not rig.s.reserved_for("OTHER")
    assert rig(Authorized("OTHER")) == []
    assert rig.pilot(B) == [Lock()]  # someone plugs: still Reserved
    assert rig.s.status is S.RESERVED
    rig(LockResult(True))
    assert rig(Authorized("R1")) == [
        BeginTransaction("R1", False, True),
        SetDuty(D32),
        StatusChanged(S.PREPARING),
    ]
    assert rig.s.reservation is None


def test_reservation_by_parent_id_tag(rig: Rig) -> None:
    rig(ReservationMade("R1", parent_id_tag="FLEET"))
    assert rig.s.reserved_for("CARD2", "FLEET")
    assert rig(Authorized("CARD2", parent_id_tag="FLEET")) == [StatusChanged(S.PREPARING)]
    rig.pilot(B)
    assert rig(LockResult(True))[0] == BeginTransaction("CARD2", False, True)


def test_reservation_card_timeout_returns_to_reserved(rig: Rig) -> None:
    rig(ReservationMade("R1"))
    rig(Authorized("R1"))
    assert rig.at(30.0) == [StatusChanged(S.RESERVED)]


def test_reservation_ended(rig: Rig) -> None:
    rig(ReservationMade("R1"))
    assert rig(ReservationEnded()) == [StatusChanged(S.AVAILABLE)]
    assert rig.s.reserved_for("ANY")


def test_reservation_only_from_available(rig: Rig) -> None:
    rig.pilot(B)
    assert rig(ReservationMade("R1")) == []
    assert rig.s.reservation is None


# ------------------------------------------------------------------ lock


def test_lock_failure_blocks_the_transaction_and_a_new_card_retries(rig: Rig) -> None:
    rig(Authorized("TAG"))
    rig.pilot(B)
    assert rig(LockResult(False)) == []
    assert not rig.s.transaction_active and rig.s.status is S.PREPARING
    assert rig.s.id_tag is None
    assert rig(Authorized("TAG")) == [Lock()]
    assert rig(LockResult(True)) == [BeginTransaction("TAG", False, False), SetDuty(D32)]


def test_lock_failure_then_unplug_unlocks(rig: Rig) -> None:
    rig.pilot(B)
    rig(LockResult(False))
    assert rig.pilot(A) == [Unlock(), StatusChanged(S.AVAILABLE)]
    assert rig.pilot(B) == [Lock(), StatusChanged(S.PREPARING)]


def test_late_lock_result_after_unplug_is_ignored(rig: Rig) -> None:
    rig.pilot(B)
    rig.pilot(A)
    assert rig(LockResult(True)) == []
    rig(Authorized("TAG"))
    assert rig.pilot(B) == [Lock()]  # a fresh lock, not the stale answer


def test_contactor_feedback_is_recorded(rig: Rig) -> None:
    assert rig.s.contactor_feedback is None
    assert rig(ContactorFeedback(True)) == []
    assert rig.s.contactor_feedback is True


def test_dc_kinds_refused() -> None:
    with pytest.raises(ValueError):
        AcSession(ConnectorKind.CCS, 100.0)


# ------------------------------------------------------------------ stateful invariants

PILOTS = [A, B, C, D, E, F, ERR]


class AcMachine(RuleBasedStateMachine):
    """Random event sequences; after every step the safety invariants must hold."""

    def __init__(self) -> None:
        super().__init__()
        self.s = AcSession(ConnectorKind.TYPE2_SOCKET, 32.0)
        self.t = 0.0
        self.pilot: PilotState | None = None
        self.faults: set[str] = set()
        self.locked = False
        self.lock_pending = False
        self.paused_at: float | None = None  # PWM removed while the contactor was closed
        self.reported = self.s.status

    def step(self, out: list[Action], before: bool) -> None:
        after = self.s.contactor_closed_wanted
        if OpenContactor() in out:
            assert out[0] == OpenContactor(), out
        if before and not after:
            assert out[0] == OpenContactor(), out
        if not before and after:
            assert CloseContactor() in out
        for action in out:
            match action:
                case StatusChanged(status=status):
                    self.reported = status
                case Lock():
                    self.locked, self.lock_pending = False, True
                case Unlock():
                    self.locked, self.lock_pending = False, False
                case BeginTransaction():
                    assert self.locked, "transaction without the lock"
                case SetDuty(percent=100.0) if before:
                    self.paused_at = self.t
                case SetDuty():
                    self.paused_at = None
                case _:
                    pass
        assert self.reported == self.s.status

    def do(self, event: Event) -> None:
        before = self.s.contactor_closed_wanted
        self.step(self.s.handle(event, self.t), before)

    @rule(state=st.sampled_from(PILOTS))
    def pilot_changes(self, state: PilotState) -> None:
        self.pilot = state
        self.do(PilotChanged(state))

    # Separate rules for the common pilot moves, so the walk spends time in a session.
    @rule()
    def ev_pauses(self) -> None:
        self.pilot_changes(B)

    @rule()
    def ev_asks(self) -> None:
        self.pilot_changes(C)

    @rule()
    def ev_leaves(self) -> None:
        self.pilot_changes(A)

    @rule(tag=st.sampled_from(["T1", "T2"]), remote=st.booleans())
    def authorize(self, tag: str, remote: bool) -> None:
        self.do(Authorized(tag, remote))

    @rule(tag=st.sampled_from(["T1", "T2"]))
    def plug_authorize_and_ask(self, tag: str) -> None:
        """The usual session in one go: B, lock answered, card, C."""
        self.pilot_changes(B)
        self.lock_result(True)
        self.authorize(tag, False)
        self.pilot_changes(C)

    @rule(reason=st.sampled_from(["Local", "Remote", "HardReset"]))
    def stop(self, reason: str) -> None:
        self.do(StopRequested(reason))

    @rule(amps=st.sampled_from([0.0, 3.0, 6.0, 10.0, 16.0, 32.0, 40.0]))
    def offer(self, amps: float) -> None:
        self.do(OfferChanged(amps))

    @rule(ok=st.booleans())
    def lock_result(self, ok: bool) -> None:
        if self.lock_pending:
            self.locked, self.lock_pending = ok, False
        self.do(LockResult(ok))

    @rule(code=st.sampled_from(["x", "y"]), blocking=st.sampled_from([False, False, True]))
    def fault(self, code: str, blocking: bool) -> None:
        if blocking:
            self.faults.add(code)
        self.do(FaultRaised(code, blocking))

    @rule(code=st.sampled_from(["x", "y"]))
    def clear(self, code: str) -> None:
        self.faults.discard(code)
        self.do(FaultCleared(code))

    @rule(operative=st.booleans())
    def availability(self, operative: bool) -> None:
        self.do(AvailabilityChanged(operative))

    @rule(tag=st.sampled_from(["T1", "T2"]))
    def reserve(self, tag: str) -> None:
        self.do(ReservationMade(tag))

    @rule()
    def reservation_ends(self) -> None:
        self.do(ReservationEnded())

    @rule()
    def rejected(self) -> None:
        self.do(TransactionRejected())

    @rule(flag=st.booleans())
    def stop_on_ev_disconnect(self, flag: bool) -> None:
        self.s.apply_settings(replace(self.s.settings, stop_on_ev_disconnect=flag))

    @rule(dt=st.sampled_from([0.05, 0.3, 1.0, 4.9, 6.0, 31.0]))
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
    def contactor_only_when_safe(self) -> None:
        s = self.s
        if not s.contactor_closed_wanted:
            return
        assert s.transaction_active and s.id_tag is not None
        assert self.pilot in (C, D)
        assert not self.faults and not s.faulted
        assert s.operative and self.locked
        if s.status is S.CHARGING:
            assert s.offered_a >= 6.0 and 0.0 < s.duty < 100.0
        else:
            # PWM removed, the EV still in C: at most pwm_removed_open_s.
            assert s.status is S.SUSPENDED_EVSE and s.duty == 100.0
            assert self.paused_at is not None and self.t - self.paused_at < 6.0

    @invariant()
    def pwm_only_in_a_transaction(self) -> None:
        if 0.0 < self.s.duty < 100.0:
            assert self.s.transaction_active and not self.s.faulted

    @invariant()
    def faulted_status(self) -> None:
        if self.faults:
            assert self.s.status is S.FAULTED and not self.s.transaction_active


TestAcMachine = AcMachine.TestCase
TestAcMachine.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)

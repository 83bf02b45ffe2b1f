"""Connector session state machines: pure, one per connector, AC and DC.

No I/O, no asyncio, no clock: time comes in as ``now`` (monotonic seconds). The glue
(``firmware/connector/controller.py``) feeds events and executes the returned actions in order.

Use::

    s = create_session(cfg.kind, cfg.max_current_a, timers, limits,
                       max_voltage_v=cfg.max_voltage_v, max_power_w=cfg.max_power_w)
    for action in s.handle(PilotChanged(PilotState.B), clock.monotonic()):
        execute(action)                      # in list order, power actions first
    # and whenever clock.monotonic() >= s.deadline:  execute(s.poll(now))

``s.status`` is the OCPP ChargePointStatus (the initial one before any event: report it
at boot); every later change also comes as a ``StatusChanged`` action. Other read-outs:
``contactor_closed_wanted``, ``transaction_active``, ``id_tag``, ``availability_pending``,
``faulted``, ``reservation``, ``reserved_for(id_tag, parent)``, ``duty``, and for DC
``phase`` (:class:`DcPhase`), ``offered_a``. The configuration keys come as one
``SessionSettings`` through ``s.apply_settings(settings)`` (ConnectionTimeOut,
StopTransactionOnEVSideDisconnect, UnlockConnectorOnEVSideDisconnect, AutochargeEnabled;
each kind takes what applies to it). Settable: ``allow_ventilation``,
``timers``/``limits`` (frozen dataclasses: replace them).

Events (``firmware.session.events``): ``PilotChanged``, ``PlugPresent`` (CHAdeMO),
``Authorized`` (already approved; checked against the reservation here too),
``StopRequested(reason)``, ``OfferChanged(amps, watts)`` (min of budget and cable, A),
``LockResult``, ``FaultRaised(code, blocking, stop_reason)``, ``FaultCleared``,
``AvailabilityChanged``, ``ReservationMade`` (only taken while Available),
``ReservationEnded``, ``TransactionRejected``, ``ContactorFeedback`` (informational),
DC: ``EvUpdate``, ``OutputMeasured``, ``ImdSelfTestDone``, ``InsulationMeasured``.

Actions: ``OpenContactor``, ``CloseContactor``, ``SetDuty``, ``Lock``, ``Unlock``,
``BeginTransaction``, ``EndTransaction``, ``StatusChanged``, ``SessionFault(kind,
active, detail)``; DC: ``StackOff``, ``StackOn``, ``StackSetpoint``, ``ImdSelfTest``,
``MeasureInsulation``.

Order of actions in one call: AC ``OpenContactor`` (always first when the contactor must
open), ``SetDuty`` to 0/100, ``EndTransaction``/``SessionFault``, ``Unlock``/``Lock``,
``BeginTransaction``, ``SetDuty`` to a PWM value, ``CloseContactor``, ``StatusChanged``.
DC: ``StackOff`` then ``OpenContactor`` first (power off before the contactor opens),
``SetDuty`` (CCS), notices, ``BeginTransaction``, ``CloseContactor``, sequence steps,
``StackOn``, ``StatusChanged``.

Faults. ``FaultRaised(blocking=True)`` from the glue: contactor open, CP at -12 V (state F)
for ``fault_hold_s``, then +12 V without PWM, transaction ended (``stop_reason``),
Faulted until every blocking code is cleared; then Preparing or Available per the plug.
Faults the session finds itself (pilot E/F/ERROR or D without ventilation; the DC
sequence failures) take the same safe path and come out as ``SessionFault(kind, True)``
and later ``SessionFault(kind, False)``: the glue maps the kind to its vendor code (pilot
-> 406 with ``PilotDetector.last_out_of_range``) and must not feed it back as
``FaultRaised``. DC sequence faults clear when the EV is unplugged, except ``WELDED``,
which stays until ``FaultCleared("welded")``.

AC behaviour in brief: plug (B) -> Preparing + Lock (socket); authorization before or
after the plug (ConnectionTimeOut: card without plug -> authorization dropped; plug
without card -> Available while plugged); plug + authorization + lock ->
BeginTransaction + PWM; Preparing until the EV first asks (C/D) -> CloseContactor ->
Charging; EV back to B -> OpenContactor -> SuspendedEV; offer below 6 A -> +12 V ->
SuspendedEVSE, contactor opened after ``pwm_removed_open_s`` if the EV stays in C; PWM
changes (and resuming after a pause) at most every ``min_pwm_change_s``; stop ->
Finishing until unplug; unplug -> Unlock -> Available. The contactor is wanted closed
only with a transaction, the EV present in C (or D), no fault, the lock held and PWM on
(or within ``pwm_removed_open_s`` of removing it while the EV stays in C).
"""

from __future__ import annotations

import math
from enum import StrEnum

from firmware.config.model import ConnectorKind
from firmware.session.base import IdToken, Session
from firmware.session.dc_session import DcPhase, DcSession
from firmware.session.events import (
    Action,
    Authorized,
    ChargePointStatus,
    CloseContactor,
    Event,
    Lock,
    LockResult,
    OpenContactor,
    SessionLimits,
    SessionTimers,
    StopReason,
    Unlock,
)
from firmware.session.pilot_detector import MIN_CURRENT_A, PilotState, duty_for_current

__all__ = ["AcSession", "DcPhase", "DcSession", "IdToken", "Session", "create_session"]


class _LockState(StrEnum):
    UNLOCKED = "unlocked"
    LOCKING = "locking"  # Lock sent, LockResult not yet in
    LOCKED = "locked"
    FAILED = "failed"  # retried on the next authorization or plug-in


def _pwm(duty: float) -> bool:
    return 0.0 < duty < 100.0


class AcSession(Session):
    """IEC 61851-1 / OCPP 1.6 session of a Type 2 socket or tethered cable."""

    def __init__(
        self,
        kind: ConnectorKind,
        max_current_a: float,
        timers: SessionTimers | None = None,
        limits: SessionLimits | None = None,
        *,
        operative: bool = True,
    ) -> None:
        if kind.is_dc:
            raise ValueError(f"AcSession cannot run a {kind} connector")
        super().__init__(kind, max_current_a, timers, limits, operative=operative)
        self._lock = _LockState.UNLOCKED
        self._pwm_changed_at = -math.inf  # last PWM-related duty change in this tx
        self._pwm_grace_until: float | None = None  # PWM removed, EV still in C
        # The cable kept locked in the socket after it was pulled out of the EV
        # (UnlockConnectorOnEVSideDisconnect false), until a card releases it.
        self._hold_lock = False

    @property
    def socket(self) -> bool:
        return self.kind is ConnectorKind.TYPE2_SOCKET

    @property
    def offered_a(self) -> float:
        """The current the session offers while PWM runs (0 when paused)."""
        amps = min(self._offer_a, self.max_current_a)
        return amps if amps >= MIN_CURRENT_A else 0.0

    # ------------------------------------------------------------------ derived outputs

    def _lock_ok(self) -> bool:
        return not self.socket or self._lock is _LockState.LOCKED

    def _duty_target(self) -> float:
        if self._hold_until is not None:
            return 0.0
        if (
            self._tx is not None
            and self._ev_present
            and not self.faulted
            and self._lock_ok()
            and self.offered_a > 0.0
        ):
            return duty_for_current(self.offered_a)
        return 100.0

    def _contactor_allowed(self) -> bool:
        return (
            self._tx is not None
            and self._ev_present
            and self._pilot in (PilotState.C, PilotState.D)
            and not self.faulted
            and self._hold_until is None
            and self._lock_ok()
            and (_pwm(self._duty) or self._pwm_grace_until is not None)
        )

    def _lock_wanted(self) -> bool:
        present = self._ev_present or self._hold_lock
        return self.socket and present and self._operative and not self.faulted

    def _on_authorized(self, auth: Authorized) -> None:
        self._hold_lock = False  # the card releases a cable kept locked after the EV left
        super()._on_authorized(auth)

    # ------------------------------------------------------------------ reconcile

    def _reconcile(self, now: float) -> list[Action]:
        out: list[Action] = []
        if self._contactor and not self._contactor_allowed():
            out.append(OpenContactor())
            self._contactor = False
            self._pwm_grace_until = None
        target = self._duty_target()
        if not _pwm(target) and target != self._duty:
            if self._contactor and _pwm(self._duty):
                self._pwm_grace_until = now + self.timers.pwm_removed_open_s
            self._change_duty(out, target, now)
        out.extend(self._notices)
        self._reconcile_lock(out)
        if self._may_begin():
            self._begin(out)
            self._pwm_changed_at = -math.inf
        target = self._duty_target()
        if _pwm(target) and target != self._duty and now >= self._pwm_free_at():
            self._change_duty(out, target, now)
            self._pwm_grace_until = None
        if not self._contactor and self._contactor_allowed():
            out.append(CloseContactor())
            self._contactor = True
        return self._close_out(out, now)

    def _change_duty(self, out: list[Action], target: float, now: float) -> None:
        before = self._duty
        if self._set_duty(out, target) and self._tx is not None and (
            _pwm(before) or _pwm(target)
        ):
            self._pwm_changed_at = now

    def _pwm_free_at(self) -> float:
        return self._pwm_changed_at + self.timers.min_pwm_change_s

    def _reconcile_lock(self, out: list[Action]) -> None:
        if not self.socket:
            return
        if self._ev_present:
            self._hold_lock = False
        elif self._lock is _LockState.LOCKED and not self._settings.unlock_on_ev_disconnect:
            self._hold_lock = True
        wanted = self._lock_wanted()
        if wanted and self._lock is _LockState.UNLOCKED:
            out.append(Lock())
            self._lock = _LockState.LOCKING
        elif not wanted and self._lock is not _LockState.UNLOCKED:
            out.append(Unlock())
            self._lock = _LockState.UNLOCKED

    # ------------------------------------------------------------------ hooks

    def _tx_status(self) -> ChargePointStatus:
        assert self._tx is not None
        if self._contactor:
            if _pwm(self._duty):
                return ChargePointStatus.CHARGING
            return ChargePointStatus.SUSPENDED_EVSE  # PWM removed, EV not yet in B
        if not self._ev_present:
            return ChargePointStatus.SUSPENDED_EV  # unplugged, transaction kept
        if self.offered_a <= 0.0 or not _pwm(self._duty):
            return ChargePointStatus.SUSPENDED_EVSE
        if not self._tx.ev_requested:
            return ChargePointStatus.PREPARING
        return ChargePointStatus.SUSPENDED_EV

    def _stop_tx(self, reason: str, now: float) -> None:
        self._end_tx(reason)

    def _abort_tx(self, reason: str, now: float) -> None:
        self._end_tx(reason)

    def _on_unplug(self, now: float) -> None:
        if self._tx is not None and self._settings.stop_on_ev_disconnect:
            self._end_tx(StopReason.EV_DISCONNECTED)

    def _apply_kind(self, event: Event, now: float) -> None:
        if isinstance(event, LockResult) and self._lock is _LockState.LOCKING:
            if event.ok:
                self._lock = _LockState.LOCKED
            else:
                self._lock = _LockState.FAILED
                self._auth = None  # no transaction; the glue reports the lock fault

    def _on_new_authorization(self) -> None:
        if self._lock is _LockState.FAILED:
            self._lock = _LockState.UNLOCKED  # try again

    def _ready_to_begin(self) -> bool:
        return self._lock_ok()

    def _expire_kind(self, now: float) -> None:
        if self._pwm_grace_until is not None and now >= self._pwm_grace_until:
            self._pwm_grace_until = None

    def _kind_deadlines(self) -> list[float]:
        times: list[float] = []
        if self._pwm_grace_until is not None:
            times.append(self._pwm_grace_until)
        target = self._duty_target()
        if _pwm(target) and target != self._duty:
            times.append(self._pwm_free_at())
        return times


def create_session(
    kind: ConnectorKind,
    max_current_a: float,
    timers: SessionTimers | None = None,
    limits: SessionLimits | None = None,
    *,
    max_voltage_v: float | None = None,
    max_power_w: float | None = None,
    operative: bool = True,
) -> Session:
    """The session for a connector kind: :class:`AcSession` or
    :class:`firmware.session.dc_session.DcSession` (which needs ``max_voltage_v``).
    ``operative`` is the persisted availability (ChangeAvailability survives a reboot)."""
    if not kind.is_dc:
        return AcSession(kind, max_current_a, timers, limits, operative=operative)
    if max_voltage_v is None:
        raise ValueError(f"a {kind} session needs max_voltage_v")
    return DcSession(
        kind,
        max_current_a,
        timers,
        limits,
        max_voltage_v=max_voltage_v,
        max_power_w=max_power_w,
        operative=operative,
    )

"""The part of the connector session that AC and DC share (see ``firmware.session.ac_session``).

Facts in, actions out: every ``handle``/``poll`` call first runs the timers that are due,
then applies the event to the facts (pilot, plug, authorization, faults, availability,
reservation, transaction), then lets the subclass *reconcile*: compare what the outputs
should be with what was last commanded and emit the difference in a fixed, safe order
(power off first). The status is derived from the facts, never stored by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from firmware.config.model import ConnectorKind
from firmware.session.events import (
    Action,
    Authorized,
    AvailabilityChanged,
    BeginTransaction,
    ChargePointStatus,
    ContactorFeedback,
    EndTransaction,
    Event,
    FaultCleared,
    FaultRaised,
    OfferChanged,
    PilotChanged,
    PlugPresent,
    ReservationEnded,
    ReservationMade,
    SessionFault,
    SessionFaultKind,
    SessionLimits,
    SessionSettings,
    SessionTimers,
    SetDuty,
    StatusChanged,
    StopReason,
    StopRequested,
    TransactionRejected,
)
from firmware.session.pilot_detector import PilotState

_PILOT_KINDS = (ConnectorKind.TYPE2_SOCKET, ConnectorKind.TYPE2_CABLE, ConnectorKind.CCS)
_PLUGGED = (PilotState.B, PilotState.C, PilotState.D)
_PILOT_FAULTS = (PilotState.E, PilotState.F, PilotState.ERROR)


@dataclass(frozen=True, slots=True)
class IdToken:
    """An authorization waiting for its transaction, or a reservation's holder."""

    id_tag: str
    remote: bool = False
    parent_id_tag: str | None = None


@dataclass(slots=True)
class _Tx:
    id_tag: str
    remote: bool
    ev_requested: bool = False  # the EV asked for energy at least once (AC: C/D seen)


class Session:
    """One connector's session state machine; build it with ``create_session``.

    Public, read-only unless noted: ``status``, ``contactor_closed_wanted``,
    ``transaction_active``, ``id_tag``, ``availability_pending``, ``operative``,
    ``faulted``, ``reservation``, ``deadline``, ``duty``, ``offered_a``, ``settings``;
    the configuration keys come in through :meth:`apply_settings`; settable: the flag
    ``allow_ventilation`` and the ``timers`` / ``limits`` dataclasses.
    """

    def __init__(
        self,
        kind: ConnectorKind,
        max_current_a: float,
        timers: SessionTimers | None = None,
        limits: SessionLimits | None = None,
        *,
        operative: bool = True,
    ) -> None:
        self.kind = kind
        self.max_current_a = max_current_a
        self.timers = timers or SessionTimers()
        self.limits = limits or SessionLimits()
        self._settings = SessionSettings(connection_timeout_s=self.timers.connection_timeout_s)
        self.allow_ventilation = True
        self.contactor_feedback: bool | None = None  # last ContactorFeedback, informational
        self._pilot: PilotState | None = None
        self._ev_present = False
        self._auth: IdToken | None = None
        self._reservation: IdToken | None = None
        self._operative = operative
        self._operative_wanted = operative
        self._faults: set[str] = set()
        self._pilot_fault: PilotState | None = None
        self._session_fault: SessionFaultKind | None = None
        self._hold_until: float | None = None
        self._tx: _Tx | None = None
        self._finishing = False
        self._prep_since: float | None = None
        self._idle_plug = False  # plugged, ConnectionTimeOut passed without authorization
        self._offer_a = max_current_a
        self._offer_w: float | None = None
        self._duty = 100.0
        self._contactor = False
        self._notices: list[Action] = []  # EndTransaction / SessionFault of this call
        self._progress: list[Action] = []  # DC sequence steps of this call
        self._status = self._compute_status()

    # ------------------------------------------------------------------ public API

    @property
    def has_pilot(self) -> bool:
        """True where the connector has a CP (Type 2, CCS); CHAdeMO uses PlugPresent."""
        return self.kind in _PILOT_KINDS

    @property
    def status(self) -> ChargePointStatus:
        """The OCPP 1.6 ChargePointStatus (a ``str``)."""
        return self._status

    @property
    def contactor_closed_wanted(self) -> bool:
        """What the session last commanded the contactor to be."""
        return self._contactor

    @property
    def transaction_active(self) -> bool:
        return self._tx is not None

    @property
    def id_tag(self) -> str | None:
        """The transaction's idTag, else the authorization waiting for a plug."""
        if self._tx is not None:
            return self._tx.id_tag
        return self._auth.id_tag if self._auth is not None else None

    @property
    def operative(self) -> bool:
        return self._operative

    @property
    def availability_pending(self) -> bool:
        """A ChangeAvailability waits for the running transaction to end."""
        return self._operative != self._operative_wanted

    @property
    def faulted(self) -> bool:
        """A blocking fault, a pilot fault or a session fault is active."""
        return bool(self._faults) or self._pilot_fault is not None or (
            self._session_fault is not None
        )

    @property
    def reservation(self) -> IdToken | None:
        return self._reservation

    @property
    def duty(self) -> float:
        """The CP duty last commanded (100 at start: +12 V)."""
        return self._duty

    @property
    def ev_present(self) -> bool:
        return self._ev_present

    @property
    def offered_a(self) -> float:
        """The current offered to the EV now, in A (0 while the offer pauses the
        session): AC what the PWM signals, DC the current offer within the rating."""
        raise NotImplementedError

    @property
    def settings(self) -> SessionSettings:
        """The configuration keys last applied (see :meth:`apply_settings`)."""
        return self._settings

    def apply_settings(self, settings: SessionSettings) -> None:
        """Follow the configuration keys in ``settings`` from the next event on. Every
        kind takes the ConnectionTimeOut (into ``timers``); AC the EV-side-disconnect
        keys, DC Autocharge (each reads them from :attr:`settings`, the others ignore
        them)."""
        self._settings = settings
        self.timers = replace(self.timers, connection_timeout_s=settings.connection_timeout_s)

    def reserved_for(self, id_tag: str, parent_id_tag: str | None = None) -> bool:
        """True if this idTag may use the connector: no reservation, or it (or its
        parent) holds the reservation."""
        res = self._reservation
        if res is None or res.id_tag == id_tag:
            return True
        return parent_id_tag is not None and parent_id_tag in (res.id_tag, res.parent_id_tag)

    @property
    def deadline(self) -> float | None:
        """The next time ``poll`` must be called, ``None`` when no timer runs."""
        times = [t for t in (self._hold_until, self._prep_deadline()) if t is not None]
        times += self._kind_deadlines()
        return min(times) if times else None

    def handle(self, event: Event, now: float) -> list[Action]:
        """Apply one event at monotonic time ``now``; return the actions, in order."""
        self._notices = []
        self._progress = []
        self._expire(now)
        self._apply(event, now)
        return self._reconcile(now)

    def poll(self, now: float) -> list[Action]:
        """Run the timers that are due at ``now``; return the actions, in order."""
        self._notices = []
        self._progress = []
        self._expire(now)
        return self._reconcile(now)

    # ------------------------------------------------------------------ events

    def _apply(self, event: Event, now: float) -> None:
        match event:
            case PilotChanged(state=state):
                if self.has_pilot:
                    self._on_pilot(state, now)
            case PlugPresent(present=present):
                if not self.has_pilot:
                    self._set_present(present, now)
            case Authorized():
                self._on_authorized(event)
            case StopRequested(reason=reason):
                if self._tx is not None:
                    self._stop_tx(reason, now)
                else:
                    self._auth = None  # cancels an authorization waiting for the plug
            case TransactionRejected():
                if self._tx is not None:
                    self._stop_tx(StopReason.DE_AUTHORIZED, now)
            case OfferChanged(amps=amps, watts=watts):
                self._offer_a = max(0.0, amps)
                self._offer_w = None if watts is None else max(0.0, watts)
                self._on_offer(now)
            case FaultRaised(code=code, blocking=blocking, stop_reason=reason):
                if blocking:
                    already = self.faulted
                    self._faults.add(code)
                    if not already:
                        self._fault_stop(reason, now)
            case FaultCleared(code=code):
                self._faults.discard(code)
                if code == self._session_fault:  # the glue saw the condition end (50, 102)
                    self._clear_session_fault()
            case AvailabilityChanged(operative=operative):
                self._operative_wanted = operative
                if self._tx is None:
                    self._operative = operative
                if not self._operative:
                    self._auth = None
            case ReservationMade(id_tag=id_tag, parent_id_tag=parent):
                if self._status is ChargePointStatus.AVAILABLE:
                    self._reservation = IdToken(id_tag, False, parent)
            case ReservationEnded():
                self._reservation = None
            case ContactorFeedback(closed=closed):
                self.contactor_feedback = closed
            case _:
                self._apply_kind(event, now)

    def _on_pilot(self, state: PilotState, now: float) -> None:
        self._pilot = state
        if state is PilotState.F and self._duty == 0.0:
            return  # our own -12 V during the fault hold (the detector reports changes
            # only, so F samples still in flight after the hold produce no event)
        if state in _PILOT_FAULTS or (state is PilotState.D and not self.allow_ventilation):
            if self._pilot_fault is None:
                already = self.faulted
                self._pilot_fault = state
                self._notices.append(SessionFault(SessionFaultKind.PILOT, True, state.value))
                if not already:
                    self._fault_stop(StopReason.OTHER, now)
            return
        if self._pilot_fault is not None:
            self._pilot_fault = None
            self._notices.append(SessionFault(SessionFaultKind.PILOT, False))
        self._set_present(state in _PLUGGED, now)
        if self._tx is not None and state in (PilotState.C, PilotState.D):
            self._tx.ev_requested = True

    def _set_present(self, present: bool, now: float) -> None:
        if present == self._ev_present:
            return
        self._ev_present = present
        self._idle_plug = False
        if present:
            return
        self._finishing = False
        self._on_unplug(now)
        if self._session_fault not in (None, SessionFaultKind.WELDED):
            self._clear_session_fault()  # "reconnect the vehicle" clears a DC session fault

    def _on_authorized(self, auth: Authorized) -> None:
        if self._tx is not None or self.faulted or not self._operative:
            return  # the glue decides whether a card during a transaction stops it
        if not self.reserved_for(auth.id_tag, auth.parent_id_tag):
            return
        self._auth = IdToken(auth.id_tag, auth.remote, auth.parent_id_tag)
        self._finishing = False
        self._idle_plug = False
        self._on_new_authorization()

    def _fault_stop(self, reason: str, now: float) -> None:
        """The connector became faulted: drop the authorization, hold F, end the tx."""
        self._auth = None
        self._finishing = False
        self._hold(now)
        if self._tx is not None:
            self._abort_tx(reason, now)

    def _hold(self, now: float) -> None:
        if self.has_pilot:
            until = now + self.timers.fault_hold_s
            self._hold_until = until if self._hold_until is None else max(until, self._hold_until)

    def _clear_session_fault(self) -> None:
        if self._session_fault is not None:
            self._notices.append(SessionFault(self._session_fault, False))
            self._session_fault = None

    # ------------------------------------------------------------------ transactions

    def _may_begin(self) -> bool:
        return (
            self._tx is None
            and self._auth is not None
            and self._ev_present
            and self._operative
            and not self.faulted
            and self._hold_until is None
            and self._ready_to_begin()
        )

    def _begin(self, out: list[Action]) -> None:
        auth = self._auth
        assert auth is not None
        used = self._reservation is not None
        self._reservation = None
        self._auth = None
        self._finishing = False
        self._tx = _Tx(auth.id_tag, auth.remote, self._pilot in (PilotState.C, PilotState.D))
        out.append(BeginTransaction(auth.id_tag, auth.remote, used))

    def _end_tx(self, reason: str) -> None:
        self._notices.append(EndTransaction(reason))
        self._tx = None
        self._finishing = self._ev_present and not self.faulted
        self._operative = self._operative_wanted  # a pending ChangeAvailability applies

    # ------------------------------------------------------------------ timers, status

    def _expire(self, now: float) -> None:
        if self._hold_until is not None and now >= self._hold_until:
            self._hold_until = None
        deadline = self._prep_deadline()
        if deadline is not None and now >= deadline:
            self._prep_since = None
            if self._auth is not None and not self._ev_present:
                self._auth = None
            elif self._ev_present and self._auth is None:
                self._idle_plug = True
        self._expire_kind(now)

    def _prep_deadline(self) -> float | None:
        if self._prep_since is None:
            return None
        return self._prep_since + self.timers.connection_timeout_s

    def _update_prep(self, now: float) -> None:
        """ConnectionTimeOut runs while one half (plug or authorization) waits alone."""
        waiting = (
            self._tx is None
            and not self.faulted
            and self._operative
            and not self._finishing
            and (
                (self._auth is not None and not self._ev_present)
                or (self._ev_present and self._auth is None and not self._idle_plug)
            )
        )
        if not waiting:
            self._prep_since = None
        elif self._prep_since is None:
            self._prep_since = now

    def _compute_status(self) -> ChargePointStatus:
        if self.faulted:
            return ChargePointStatus.FAULTED
        if self._tx is not None:
            return self._tx_status()
        if not self._operative:
            return ChargePointStatus.UNAVAILABLE
        if self._finishing:
            return ChargePointStatus.FINISHING
        if self._auth is not None:
            return ChargePointStatus.PREPARING
        if self._reservation is not None:
            return ChargePointStatus.RESERVED
        if self._ev_present and not self._idle_plug:
            return ChargePointStatus.PREPARING
        return ChargePointStatus.AVAILABLE

    def _set_duty(self, out: list[Action], percent: float) -> bool:
        if percent == self._duty:
            return False
        self._duty = percent
        out.append(SetDuty(percent))
        return True

    def _close_out(self, out: list[Action], now: float) -> list[Action]:
        """Last step of every reconcile: ConnectionTimeOut bookkeeping and the status."""
        self._update_prep(now)
        status = self._compute_status()
        if status is not self._status:
            self._status = status
            out.append(StatusChanged(status))
        return out

    # ------------------------------------------------------------------ subclass hooks

    def _reconcile(self, now: float) -> list[Action]:
        raise NotImplementedError

    def _tx_status(self) -> ChargePointStatus:
        raise NotImplementedError

    def _stop_tx(self, reason: str, now: float) -> None:
        """A regular stop (request, rejection, EV done)."""
        raise NotImplementedError

    def _abort_tx(self, reason: str, now: float) -> None:
        """An immediate stop (fault, EV gone): no ramp-down."""
        raise NotImplementedError

    def _on_unplug(self, now: float) -> None:
        raise NotImplementedError

    def _apply_kind(self, event: Event, now: float) -> None:
        """Events only one kind of session knows; the others are ignored."""

    def _expire_kind(self, now: float) -> None:
        """Timers only one kind of session has."""

    def _kind_deadlines(self) -> list[float]:
        return []

    def _ready_to_begin(self) -> bool:
        return True

    def _on_new_authorization(self) -> None:
        """An authorization was accepted (AC: retry a failed lock)."""

    def _on_offer(self, now: float) -> None:
        """The offer changed (DC: follow it with the setpoint)."""

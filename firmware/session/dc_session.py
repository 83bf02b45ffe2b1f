"""DC session (CCS, CHAdeMO): the IEC 61851-23 sequence on top of the shared session.

Plug (CCS: pilot B, CP at 5 % from then on; CHAdeMO: ``PlugPresent``) -> Preparing.
Authorization (or, with AutochargeEnabled, the EV's ``ev_id`` as idTag) -> on a connector
with a lock (``has_lock``): Lock, and the transaction waits for ``LockResult(ok)`` (a
failure drops the authorization: nothing is energised, the glue reports the lock fault,
the next authorization tries again) -> BeginTransaction, phase WAIT_EV. Then, when the EV
reports ``ready``:

    PRE_CHECK      next OutputMeasured must be <= safe_voltage_v, else EV_VOLTAGE (DC 50)
    IMD_SELF_TEST  ImdSelfTest -> ImdSelfTestDone(ok) within imd_self_test_timeout_s
    CABLE_CHECK    CloseContactor, StackSetpoint(test V, 2 A), StackOn; wait until the
                   output is within precharge_tolerance_v of the test voltage
    INSULATION     MeasureInsulation -> InsulationMeasured >= insulation_fault_ohm, else
                   INSULATION (DC 18); PRE_CHECK to here within cable_check_timeout_s
    PRECHARGE      StackSetpoint(battery V, 2 A); |V - battery| <= tolerance within
                   precharge_timeout_s
    CHARGING       StackSetpoint follows the EV's target within the offer, the connector
                   maximum current and power; offer 0 -> SuspendedEVSE (0 A setpoint)
    RAMP_DOWN      on a stop (request, EV not ready/error): StackSetpoint(V, 0) until the
                   current is <= safe_current_a, within ramp_down_timeout_s
    WELD_CHECK     StackOff, OpenContactor; the first OutputMeasured after
                   weld_check_delay_s must be <= safe_voltage_v, else WELDED (latched)
    -> EndTransaction, Finishing until unplug.

Test voltage (hardware.md): EV max <= 500 V -> min(EVmax + 50, 500, EVSEmax), else
min(EVSEmax, 1.1 x EVmax); an EV that has not told its maximum (0) -> min(500, EVSEmax).
A fault, a session failure or the EV leaving stops at once: StackOff, OpenContactor first,
EndTransaction, no ramp-down. The EV ending the session by itself (ready false) stops with
reason Local; an EV communication error with reason Other.

The lock opens (Unlock) once it is no longer wanted (the session ended, the EV left, a
fault) and only when nothing can be live on the cable (:attr:`DcSession.lock_may_open`):
no power phase, stack off, contactor open and the last measured output at or below
``safe_voltage_v``.
"""

from __future__ import annotations

from enum import StrEnum

from drivers.interfaces import EvStatus
from firmware.config.model import ConnectorKind
from firmware.session.base import Session
from firmware.session.events import (
    Action,
    Authorized,
    ChargePointStatus,
    CloseContactor,
    Event,
    EvUpdate,
    ImdSelfTest,
    ImdSelfTestDone,
    InsulationMeasured,
    Lock,
    LockResult,
    MeasureInsulation,
    OpenContactor,
    OutputMeasured,
    SessionFault,
    SessionFaultKind,
    SessionLimits,
    SessionTimers,
    StackOff,
    StackOn,
    StackSetpoint,
    StopReason,
    Unlock,
)


class DcPhase(StrEnum):
    """Where a DC session is in its sequence."""

    IDLE = "idle"  # no transaction
    WAIT_EV = "wait_ev"  # transaction started, EV not ready yet
    PRE_CHECK = "pre_check"
    IMD_SELF_TEST = "imd_self_test"
    CABLE_CHECK = "cable_check"
    INSULATION = "insulation"
    PRECHARGE = "precharge"
    CHARGING = "charging"
    RAMP_DOWN = "ramp_down"
    WELD_CHECK = "weld_check"


_POWER = (
    DcPhase.CABLE_CHECK,
    DcPhase.INSULATION,
    DcPhase.PRECHARGE,
    DcPhase.CHARGING,
    DcPhase.RAMP_DOWN,
)
_BEFORE_CHARGING = (
    DcPhase.PRE_CHECK,
    DcPhase.IMD_SELF_TEST,
    DcPhase.CABLE_CHECK,
    DcPhase.INSULATION,
    DcPhase.PRECHARGE,
)
DIGITAL_DUTY = 5.0  # CCS: digital communication from plug-in on


class _LockState(StrEnum):
    UNLOCKED = "unlocked"
    LOCKING = "locking"  # Lock sent, LockResult not yet in
    LOCKED = "locked"
    FAILED = "failed"  # unlocked again once that is safe; the next authorization retries


class DcSession(Session):
    """Session of a CCS or CHAdeMO connector; ``phase`` tells the sequence step."""

    def __init__(
        self,
        kind: ConnectorKind,
        max_current_a: float,
        timers: SessionTimers | None = None,
        limits: SessionLimits | None = None,
        *,
        max_voltage_v: float,
        max_power_w: float | None = None,
        operative: bool = True,
    ) -> None:
        if not kind.is_dc:
            raise ValueError(f"DcSession cannot run a {kind} connector")
        super().__init__(kind, max_current_a, timers, limits, operative=operative)
        self.max_voltage_v = max_voltage_v
        self.max_power_w = max_power_w
        self.has_lock = False  # set by the glue: the connector has a lock actuator
        self._lock = _LockState.UNLOCKED
        self._phase = DcPhase.IDLE
        self._phase_deadline: float | None = None
        self._stack_on = False
        self._ev = EvStatus()
        self._output: tuple[float, float] | None = None
        self._test_v = 0.0
        self._setpoint: tuple[float, float] | None = None
        self._stop_reason: str | None = None
        self._weld_from = 0.0
        self._autocharge_tried = False

    @property
    def phase(self) -> DcPhase:
        return self._phase

    @property
    def stack_on_wanted(self) -> bool:
        return self._stack_on

    @property
    def test_voltage_v(self) -> float:
        """The cable-check voltage for the EV's maximum (see the module docstring)."""
        ev_max = self._ev.max_voltage_v
        if ev_max <= 0.0:
            return min(500.0, self.max_voltage_v)
        if ev_max <= 500.0:
            return min(ev_max + 50.0, 500.0, self.max_voltage_v)
        return min(self.max_voltage_v, 1.1 * ev_max)

    @property
    def lock_may_open(self) -> bool:
        """Nothing can be live on the cable: no power phase, the stack off, the contactor
        open and the last measured output at or below ``safe_voltage_v``."""
        return (
            self._phase not in (*_POWER, DcPhase.WELD_CHECK)
            and not self._stack_on
            and not self._contactor
            and (self._output is None or self._output[0] <= self.limits.safe_voltage_v)
        )

    def current_limit_a(self, voltage_v: float) -> float:
        """What the EV may draw at ``voltage_v``: its target within offer and maxima."""
        limits = [self._ev.target_current_a, self.max_current_a, self._offer_a]
        if voltage_v > 0.0:
            for watts in (self._offer_w, self.max_power_w):
                if watts is not None:
                    limits.append(watts / voltage_v)
        return max(0.0, min(limits))

    # ------------------------------------------------------------------ reconcile

    def _power_wanted(self) -> bool:
        return (
            self._phase in _POWER
            and self._tx is not None
            and self._ev_present
            and not self.faulted
            and self._hold_until is None
        )

    def _duty_target(self) -> float:
        if self._hold_until is not None:
            return 0.0
        if self._ev_present and self._operative and not self.faulted:
            return DIGITAL_DUTY
        return 100.0

    def _reconcile(self, now: float) -> list[Action]:
        out: list[Action] = []
        if not self._power_wanted():
            # Power off before the contactor opens: DC contactors must not break load.
            if self._stack_on:
                out.append(StackOff())
                self._stack_on = False
            if self._contactor:
                out.append(OpenContactor())
                self._contactor = False
        if self.has_pilot:
            self._set_duty(out, self._duty_target())
        out.extend(self._notices)
        self._reconcile_lock(out)
        if self._may_begin():
            self._begin(out)
            self._enter(DcPhase.WAIT_EV, now)
            if self._ev.ready:
                self._enter(DcPhase.PRE_CHECK, now, self.timers.cable_check_timeout_s)
        if self._power_wanted():
            if not self._contactor:
                out.append(CloseContactor())
                self._contactor = True
            out.extend(self._progress)
            if not self._stack_on:
                out.append(StackOn())
                self._stack_on = True
        elif self._phase is not DcPhase.IDLE:
            out.extend(self._progress)  # ImdSelfTest
        return self._close_out(out, now)

    def _lock_wanted(self) -> bool:
        """Locked from the authorization (plugged) until the session has ended."""
        return (
            self.has_lock
            and self._ev_present
            and self._operative
            and not self.faulted
            and not self._finishing
            and (self._auth is not None or self._tx is not None)
        )

    def _reconcile_lock(self, out: list[Action]) -> None:
        if not self.has_lock:
            return
        wanted = self._lock_wanted()
        if wanted and self._lock is _LockState.UNLOCKED:
            out.append(Lock())
            self._lock = _LockState.LOCKING
        elif not wanted and self._lock is not _LockState.UNLOCKED and self.lock_may_open:
            out.append(Unlock())
            self._lock = _LockState.UNLOCKED

    def _ready_to_begin(self) -> bool:
        return not self.has_lock or self._lock is _LockState.LOCKED

    def _on_new_authorization(self) -> None:
        if self._lock is _LockState.FAILED and self.lock_may_open:
            self._lock = _LockState.UNLOCKED  # try again

    # ------------------------------------------------------------------ sequence

    def _enter(self, phase: DcPhase, now: float, timeout_s: float | None = None) -> None:
        self._phase = phase
        self._phase_deadline = None if timeout_s is None else now + timeout_s

    def _setpoint_to(self, voltage_v: float, current_a: float) -> None:
        setpoint = (voltage_v, current_a)
        if setpoint != self._setpoint:
            self._setpoint = setpoint
            self._progress.append(StackSetpoint(voltage_v, current_a))

    def _battery_v(self) -> float:
        return self._ev.battery_voltage_v or self._ev.target_voltage_v

    def _follow_ev(self) -> None:
        voltage = min(self._ev.target_voltage_v or self._battery_v(), self.max_voltage_v)
        # A power limit becomes a current at the voltage the output really runs at (the
        # battery's, in constant-current charging), not at the voltage set-point above it.
        at = self._output[0] if self._output is not None and self._output[0] > 0 else voltage
        self._setpoint_to(voltage, round(self.current_limit_a(at), 1))

    def _on_ev(self, status: EvStatus, now: float) -> None:
        self._ev = status
        if (
            self._settings.autocharge  # AutochargeEnabled: the EV's ev_id starts a tx
            and status.ev_id
            and self._ev_present
            and self._tx is None
            and self._auth is None
            and not self._finishing
            and not self._autocharge_tried
        ):
            self._autocharge_tried = True
            self._on_authorized(Authorized(status.ev_id))
        if self._tx is None:
            return
        if status.error is not None:
            self._stop_tx(StopReason.OTHER, now)
        elif self._phase is DcPhase.WAIT_EV and status.ready:
            self._start_when_powered(now)
        elif self._phase in (*_BEFORE_CHARGING, DcPhase.CHARGING) and not status.ready:
            self._stop_tx(StopReason.LOCAL, now)
        elif self._phase is DcPhase.CHARGING:
            self._follow_ev()
        elif self._phase is DcPhase.PRECHARGE:
            self._precharge_done(now)

    def _on_output(self, voltage: float, current: float, now: float) -> None:
        lim = self.limits
        match self._phase:
            case DcPhase.PRE_CHECK:
                if voltage > lim.safe_voltage_v:
                    self._fail(SessionFaultKind.EV_VOLTAGE, f"{voltage:.1f} V", now)
                else:
                    self._enter(DcPhase.IMD_SELF_TEST, now, self.timers.imd_self_test_timeout_s)
                    self._progress.append(ImdSelfTest())
            case DcPhase.CABLE_CHECK:
                if voltage >= self._test_v - lim.precharge_tolerance_v:
                    self._phase = DcPhase.INSULATION  # same deadline: one cable-check budget
                    self._progress.append(MeasureInsulation())
            case DcPhase.PRECHARGE:
                self._precharge_done(now)
            case DcPhase.RAMP_DOWN:
                if abs(current) <= lim.safe_current_a:
                    self._enter_weld_check(now)
            case DcPhase.WELD_CHECK:
                if now >= self._weld_from:
                    if voltage > lim.safe_voltage_v:
                        self._fail(SessionFaultKind.WELDED, f"{voltage:.1f} V", now)
                    else:
                        self._finish(self._stop_reason or StopReason.LOCAL)

    def _precharge_done(self, now: float) -> None:
        """Charging starts when the output matches the battery and the EV has closed its
        contactors (ISO 15118 PowerDelivery start); before that the set-point stays."""
        if self._output is None or not self._ev.power_delivery:
            return
        if abs(self._output[0] - self._battery_v()) <= self.limits.precharge_tolerance_v:
            self._enter(DcPhase.CHARGING, now)
            self._follow_ev()

    def _enter_weld_check(self, now: float) -> None:
        self._weld_from = now + self.timers.weld_check_delay_s
        self._enter(
            DcPhase.WELD_CHECK,
            now,
            self.timers.weld_check_delay_s + self.timers.weld_check_timeout_s,
        )

    def _on_imd_done(self, ok: bool, now: float) -> None:
        if self._phase is not DcPhase.IMD_SELF_TEST:
            return
        if not ok:
            self._fail(SessionFaultKind.IMD_SELF_TEST, "self-test failed", now)
            return
        self._test_v = self.test_voltage_v
        self._enter(DcPhase.CABLE_CHECK, now, self.timers.cable_check_timeout_s)
        self._setpoint_to(self._test_v, self.limits.cable_check_current_a)

    def _on_insulation(self, ohm: float, now: float) -> None:
        if self._phase not in _POWER:
            return
        if ohm < self.limits.insulation_fault_ohm:
            self._fail(SessionFaultKind.INSULATION, f"{ohm:.0f} ohm", now)
        elif self._phase is DcPhase.INSULATION:
            self._enter(DcPhase.PRECHARGE, now, self.timers.precharge_timeout_s)
            voltage = min(self._battery_v(), self.max_voltage_v)
            self._setpoint_to(voltage, self.limits.precharge_current_a)

    def _fail(self, kind: SessionFaultKind, detail: str, now: float) -> None:
        """A sequence failure: safe state now, Faulted until unplug (WELDED: latched)."""
        self._session_fault = kind
        self._notices.append(SessionFault(kind, True, detail))
        self._auth = None
        self._hold(now)
        if self._tx is not None:
            self._finish(self._stop_reason or StopReason.OTHER)

    def _finish(self, reason: str) -> None:
        self._end_tx(reason)
        self._enter(DcPhase.IDLE, 0.0)
        self._setpoint = None
        self._stop_reason = None

    # ------------------------------------------------------------------ hooks

    def _apply_kind(self, event: Event, now: float) -> None:
        match event:
            case EvUpdate(status=status):
                self._on_ev(status, now)
            case OutputMeasured(voltage_v=voltage, current_a=current):
                self._output = (voltage, current)
                self._on_output(voltage, current, now)
            case ImdSelfTestDone(ok=ok):
                self._on_imd_done(ok, now)
            case InsulationMeasured(ohm=ohm):
                self._on_insulation(ohm, now)
            case LockResult(ok=ok) if self._lock is _LockState.LOCKING:
                if ok:
                    self._lock = _LockState.LOCKED
                else:
                    self._lock = _LockState.FAILED
                    self._auth = None  # no transaction; the glue reports the lock fault
            case _:
                pass

    def _stop_tx(self, reason: str, now: float) -> None:
        if self._phase in (DcPhase.RAMP_DOWN, DcPhase.WELD_CHECK):
            return  # already stopping; the first reason stands
        if self._phase in _POWER:
            self._stop_reason = reason
            self._enter(DcPhase.RAMP_DOWN, now, self.timers.ramp_down_timeout_s)
            voltage = self._setpoint[0] if self._setpoint else 0.0
            self._setpoint_to(voltage, 0.0)
        else:
            self._finish(reason)

    def _abort_tx(self, reason: str, now: float) -> None:
        self._finish(self._stop_reason or reason)

    def _on_unplug(self, now: float) -> None:
        self._autocharge_tried = False
        if self._tx is not None:
            self._abort_tx(StopReason.EV_DISCONNECTED, now)

    def _expire_kind(self, now: float) -> None:
        if self._phase_deadline is None or now < self._phase_deadline:
            return
        self._phase_deadline = None
        match self._phase:
            case DcPhase.PRE_CHECK:
                self._fail(SessionFaultKind.CABLE_CHECK_TIMEOUT, "no voltage reading", now)
            case DcPhase.IMD_SELF_TEST:
                self._fail(SessionFaultKind.IMD_SELF_TEST, "self-test timeout", now)
            case DcPhase.CABLE_CHECK | DcPhase.INSULATION:
                self._fail(SessionFaultKind.CABLE_CHECK_TIMEOUT, self._measured(), now)
            case DcPhase.PRECHARGE:
                self._fail(SessionFaultKind.PRECHARGE_TIMEOUT, self._measured(), now)
            case DcPhase.RAMP_DOWN:
                self._fail(SessionFaultKind.RAMP_DOWN_TIMEOUT, self._measured(), now)
            case DcPhase.WELD_CHECK:
                self._finish(self._stop_reason or StopReason.LOCAL)  # no reading: unchecked
            case _:
                pass

    def _measured(self) -> str:
        if self._output is None:
            return "no reading"
        return f"{self._output[0]:.1f} V {self._output[1]:.1f} A"

    def _kind_deadlines(self) -> list[float]:
        return [] if self._phase_deadline is None else [self._phase_deadline]

    @property
    def offered_a(self) -> float:
        """The current the budget offers now within the connector's rating (0: paused)."""
        return 0.0 if self._no_power() else min(self._offer_a, self.max_current_a)

    def _no_power(self) -> bool:
        return self._offer_a <= 0.0 or self._offer_w == 0.0

    def _start_when_powered(self, now: float) -> None:
        """FCFS: a session the budget gives nothing does not start its cable check; it
        waits (SuspendedEVSE) until power is free."""
        if not self._no_power():
            self._enter(DcPhase.PRE_CHECK, now, self.timers.cable_check_timeout_s)

    def _on_offer(self, now: float) -> None:
        if self._phase is DcPhase.CHARGING:
            self._follow_ev()
        elif self._phase is DcPhase.WAIT_EV and self._ev.ready:
            self._start_when_powered(now)

    def _tx_status(self) -> ChargePointStatus:
        if self._phase is DcPhase.CHARGING:
            paused = self._no_power()
            return ChargePointStatus.SUSPENDED_EVSE if paused else ChargePointStatus.CHARGING
        if self._phase is DcPhase.WAIT_EV and self._ev.ready and self._no_power():
            return ChargePointStatus.SUSPENDED_EVSE
        if self._phase in (DcPhase.RAMP_DOWN, DcPhase.WELD_CHECK):
            return ChargePointStatus.FINISHING
        return ChargePointStatus.PREPARING

"""The I/O glue of one connector: driver readings in, session actions out.

The pure state machines decide (``firmware.session.pilot_detector``,
``firmware.session.ac_session``, ``firmware.session.dc_session``); this class feeds them
and carries out what they return, on the drivers and the central-system link.
Everything safety-relevant on the reaction path is synchronous: a pilot sample that ends
state C runs detector → session → ``safety.open`` in one callback, without awaiting.
Slow actions (lock motor, IMD self-test, stack commands) run as tasks of the connector's
TaskGroup and come back as events.

The helpers (:class:`~firmware.connector.checks.ConnectorChecks`,
:class:`~firmware.connector.dc_control.DcControl`,
:class:`~firmware.connector.cable_supervision.CableSupervision`) see this class only
through the small contexts of :mod:`firmware.connector.context`, which it implements with
public methods. Every periodic loop of the connector sleeps on its :class:`Clock`, so on
a :class:`~firmware.clock.ManualClock` a test moves the connector's time by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from drivers.errors import DeviceFaulted, DriverError
from drivers.interfaces import (
    ConnectorLock,
    ContactorFault,
    EvStatus,
    MeterReading,
    PilotSample,
)
from firmware.clock import Clock
from firmware.config import ConnectorConfig, ConnectorKind
from firmware.connector.cable_supervision import CableSupervision
from firmware.connector.checks import LOCK_FAULT_CONDITIONS, ConnectorChecks
from firmware.connector.dc_control import DcControl
from firmware.connector.deadline_timer import DeadlineTimer
from firmware.connector.devices import ConnectorDevices
from firmware.connector.external import Counter, MemoryCounter, TransactionPort
from firmware.connector.interlocks import attach_interlocks
from firmware.log_context import connector_logger
from firmware.ports import MeterSnapshot, StatusReport, TxHandle
from firmware.safety.fault_book import ActiveFault, FaultBook
from firmware.safety.fault_catalogue import Catalogue, Condition
from firmware.safety.gate import InterlockOpen, Safety, follow_input
from firmware.session.ac_session import create_session
from firmware.session.dc_session import DcSession
from firmware.session.events import (
    Action,
    Authorized,
    BeginTransaction,
    ChargePointStatus,
    CloseContactor,
    EndTransaction,
    Event,
    FaultCleared,
    FaultRaised,
    Lock,
    LockResult,
    OfferChanged,
    OpenContactor,
    PilotChanged,
    SessionFault,
    SessionFaultKind,
    SessionSettings,
    SessionTimers,
    SetDuty,
    StatusChanged,
    StopRequested,
    Unlock,
)
from firmware.session.pilot_detector import PilotDetector, PilotState, read_pp
from firmware.tasks import start_supervised

_log = logging.getLogger(__name__)

METER_POLL_S = 1.0
METER_SILENT_AFTER = 3  # consecutive failed reads before fault 105 / 22
METER_PERSIST_S = 1.0  # the running transaction's meter reading is written this often
SUPERVISE_S = 0.05  # contactor feedback supervision period

_SESSION_FAULTS: dict[SessionFaultKind, Condition] = {
    SessionFaultKind.PILOT: Condition.PILOT_OUT_OF_RANGE,
    SessionFaultKind.EV_VOLTAGE: Condition.EV_VOLTAGE_PRESENT,
    SessionFaultKind.IMD_SELF_TEST: Condition.IMD_SELF_TEST_FAILED,
    SessionFaultKind.CABLE_CHECK_TIMEOUT: Condition.INSULATION,
    SessionFaultKind.INSULATION: Condition.INSULATION,
    SessionFaultKind.PRECHARGE_TIMEOUT: Condition.STACK_FAULT,
    SessionFaultKind.RAMP_DOWN_TIMEOUT: Condition.STACK_FAULT,
    SessionFaultKind.WELDED: Condition.CONTACTOR_WELDED,
}


class ConnectorController:
    """Runs one connector: pilot, lock, contactor, meter, faults, transaction.

    Implements :class:`~firmware.connector.context.ChecksContext` and
    :class:`~firmware.connector.context.DcContext` for its helpers.
    """

    def __init__(
        self,
        cfg: ConnectorConfig,
        devices: ConnectorDevices,
        *,
        safety: Safety,
        link: TransactionPort,
        catalogue: Catalogue,
        clock: Clock,
        timers: SessionTimers | None = None,
        persist_meter: Callable[[TxHandle, float], None] | None = None,
        station_faults: FaultBook | None = None,
        language: str = "en",
        plug_cycles: Counter | None = None,
    ) -> None:
        """``station_faults``: connector 0's faults (shown when a station fault makes
        this connector unusable); ``language``: of the fault texts on the display;
        ``plug_cycles``: where the plug cycles are counted (None: in memory)."""
        self.cfg = cfg
        self.id = cfg.id
        self.devices = devices
        self.safety = safety
        self.link = link
        self.clock = clock
        self._log = connector_logger(_log, cfg.id)
        self._persist_meter = persist_meter
        self._persisted_at: float | None = None  # monotonic time of the last write
        self.station_faults = station_faults
        self._change_listeners: list[Callable[[ConnectorController], None]] = []
        self._meter_listeners: list[Callable[[MeterReading], None]] = []
        self.session = create_session(
            cfg.kind,
            cfg.max_current_a,
            timers,
            max_voltage_v=cfg.max_voltage_v,
            max_power_w=cfg.max_power_w,
        )
        if isinstance(self.session, DcSession):  # a DC lock is locked for each session
            self.session.has_lock = devices.lock is not None
        self.detector = PilotDetector()
        self.faults = FaultBook(catalogue, cfg.id, cfg.is_dc, clock.now, language)
        self.meter: MeterReading | None = None
        self.tx: TxHandle | None = None
        self._plug_cycles: Counter = plug_cycles if plug_cycles is not None else MemoryCounter()
        self.stopping = 0  # StopTransactions waiting for their final meter reading
        self.energy_blocked = False  # an invalidated transaction past MaxEnergyOnInvalidId
        self._hold_reports = 0
        self.budget_a: float = cfg.max_current_a
        self.budget_w: float | None = None
        self.tx_since: float | None = None  # monotonic start of the transaction (FCFS)
        self._cable_a: float | None = None
        self._offer: tuple[float, float | None] | None = None
        self._reported: StatusReport | None = None
        self._meter_failures = 0
        self._timer = DeadlineTimer(clock)
        self._restore_at: deque[float] = deque()  # monotonic times to give the pilot back
        self._tg: asyncio.TaskGroup | None = None
        # The helpers get this connector as their context; they only keep it (and read
        # its id) until it runs.
        self.dc = self._build_dc(cfg, devices) if cfg.is_dc else None
        self.checks = ConnectorChecks(self, self.faults, catalogue.thresholds,
                                      lock=devices.lock, rcd=devices.rcd)
        self._attach_safety()

    def _build_dc(self, cfg: ConnectorConfig, devices: ConnectorDevices) -> DcControl:
        if devices.power_stack is None:  # the configuration requires one (power_stack)
            raise ValueError(f"connector {cfg.id}: a {cfg.kind} connector needs a power stack")
        cable = CableSupervision(self, self.faults, cfg.max_current_a, cable=devices.cable,
                                 cooler=devices.cooler)
        return DcControl(self, self.faults, cfg.kind, stack=devices.power_stack,
                         contactor=devices.contactor, cable=cable, ev_comm=devices.ev_comm,
                         imd=devices.imd)

    # ------------------------------------------------------------------ listeners
    def subscribe_changes(self, listener: Callable[[ConnectorController], None]) -> None:
        """Call ``listener(connector)`` after anything the station shows, budgets or
        authorizes on changed (status, readings, an EV request). Listeners are added by
        the assembly once every part exists; they run on the event loop, synchronously."""
        self._change_listeners.append(listener)

    def subscribe_meter(self, listener: Callable[[MeterReading], None]) -> None:
        """Call ``listener(reading)`` with every good meter reading (grid supervision)."""
        self._meter_listeners.append(listener)

    # ------------------------------------------------------------------ safety wiring
    def _attach_safety(self) -> None:
        d = self.devices
        self.safety.attach(self.id, d.contactor, d.pilot, d.power_stack)
        self.safety.on_made_safe(self.id, self._after_made_safe)
        attach_interlocks(self.safety, self.id, d, pilot_state=lambda: self.detector.state,
                          faults=self.faults)

    def _after_made_safe(self, _reason: str) -> None:
        """The safe path put the pilot in state F behind the session's back: after the
        300 ms hold (on the connector's clock: the timer loop) give the pilot back to
        the session (which, for a blocking fault, holds F itself and then shows +12 V),
        so no stale F stays on the line."""
        self.notify_change()
        if self._tg is not None:  # not running: nothing to restore
            self._restore_at.append(self.clock.monotonic() + self.session.timers.fault_hold_s)
            self._timer.wake()

    def _restore_duty(self) -> None:
        pilot = self.devices.pilot
        if self._tg is None or pilot is None or pilot.duty == self.session.duty:
            return  # not running (stopping): the station's close leaves the pilot safe
        try:
            pilot.set_duty(self.session.duty)
        except (RuntimeError, DriverError):
            self._log.debug("pilot not restored (closing)")

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Run until cancelled. Owns every task of this connector."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            self._report_status()
            d = self.devices
            if d.pilot is not None:
                self.spawn(d.pilot.run(self._on_pilot_sample), "pilot")
            if d.rcd is not None:
                follow_input(d.rcd.subscribe, d.rcd.tripped, self._on_rcd)
            self.spawn(self._meter_loop(), "meter")
            self.spawn(self._timer.run(self._next_deadline, self._on_time), "timers")
            self.spawn(self._supervise_loop(), "supervise")
            self.spawn(self.checks.run(), "checks")
            if self.dc is not None:
                self.dc.start()

    def _task_failed(self, what: str, exc: Exception) -> None:
        """A connector task that fails is a fault of this connector, never of the station:
        a device fault its driver knows where one fits (the pilot's ADC silent: 203),
        else the generic 001."""
        if isinstance(exc, DriverError) and what == "pilot":
            self.raise_fault(Condition.PILOT_OUT_OF_RANGE, cp_high_v=math.nan,
                             cp_low_v=math.nan)
        elif not isinstance(exc, DriverError):
            self.raise_fault(Condition.GENERIC)

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``coro`` as a guarded task of this connector's TaskGroup, named after
        ``what``. Raises ``RuntimeError`` (and closes ``coro``) when it is not running."""
        if self._tg is None:
            coro.close()
            raise RuntimeError("connector not running")
        start_supervised(self._tg, coro, what, self._task_failed,
                         name=f"connector-{self.id}-{what}", logger=self._log)

    def _on_time(self, now: float) -> None:
        """The timer woke: give the pilot back after a hold, poll the session when due."""
        if self._restore_at and now >= self._restore_at[0]:
            while self._restore_at and now >= self._restore_at[0]:
                self._restore_at.popleft()
            self._restore_duty()
        deadline = self.session.deadline
        if deadline is not None and now >= deadline:
            self.execute(self.session.poll(now))

    def _next_deadline(self) -> float | None:
        """The session's next deadline or the next pilot restore, whichever is first."""
        times = [self._restore_at[0]] if self._restore_at else []
        if (deadline := self.session.deadline) is not None:
            times.append(deadline)
        return min(times, default=None)

    async def _supervise_loop(self) -> None:
        contactor = self.devices.contactor
        while True:
            await self.clock.sleep(SUPERVISE_S)
            fault = contactor.fault()
            if fault == ContactorFault.WELDED:
                if not self.faults.is_active(Condition.CONTACTOR_WELDED):
                    self.make_safe("contactor welded")
                    self.raise_fault(Condition.CONTACTOR_WELDED)
            elif fault == ContactorFault.FAILED_TO_CLOSE:
                if not self.faults.is_active(Condition.CONTACTOR_FAILED_TO_CLOSE):
                    self.make_safe("contactor did not close")
                    self.raise_fault(Condition.CONTACTOR_FAILED_TO_CLOSE)
            else:
                self.end_fault(Condition.CONTACTOR_WELDED)
                self.end_fault(Condition.CONTACTOR_FAILED_TO_CLOSE)

    async def _meter_loop(self) -> None:
        silent = Condition.METER_SILENT
        while True:
            try:
                self.meter = await self.devices.meter.read()
            except DriverError as exc:
                self._meter_failures += 1
                if self._meter_failures == METER_SILENT_AFTER:
                    self._log.error("meter silent: %s", exc)
                    self.raise_fault(silent)
            else:
                self._meter_failures = 0
                self.end_fault(silent)
                for listener in self._meter_listeners:
                    listener(self.meter)
                if not self.cfg.is_dc:
                    self.checks.on_meter(self.meter)
                self._persist_reading()
                self.notify_change()
            # DC: the meter is also the connector-side voltmeter of the pre-check and the
            # welding check, so it is read more often.
            await self.clock.sleep(METER_POLL_S / 4 if self.cfg.is_dc else METER_POLL_S)

    def _persist_reading(self) -> None:
        """The transaction's meter reading on disk for a PowerLoss stop, at most every
        METER_PERSIST_S: each write is a synchronous commit (an fsync), and a DC meter is
        read four times a second."""
        if self.tx is None or self._persist_meter is None or self.meter is None:
            return
        now = self.clock.monotonic()
        if self._persisted_at is not None and now - self._persisted_at < METER_PERSIST_S:
            return
        self._persisted_at = now
        self._persist_meter(self.tx, self.meter.energy_import_wh)

    # ------------------------------------------------------------------ inputs
    def _on_pilot_sample(self, sample: PilotSample) -> None:
        pilot = self.devices.pilot
        assert pilot is not None
        state = self.detector.feed(sample, pwm_on=0.0 < pilot.duty < 100.0)
        self.checks.on_sample(sample, pilot.duty)
        if state is None:
            return
        self.checks.on_state(state, pilot.duty)
        self._log.debug("pilot %s", state)
        if state in (PilotState.B, PilotState.C, PilotState.D):
            self._check_cable(sample.pp_ohm)
        elif state == PilotState.A:
            self._cable_a = None
            with self._one_report():
                if self.session.ev_present:
                    self.ev_left(PilotChanged(state))
                else:  # back from our own state F (the safe path): nobody left
                    self.dispatch(PilotChanged(state))
                self.end_fault(Condition.PP_OUT_OF_RANGE)
            return
        self.dispatch(PilotChanged(state))

    def ev_left(self, event: Event) -> None:
        """The EV was unplugged (``event``: the pilot back at A, the CHAdeMO plug out): a
        plug cycle, and the faults that clear on replug go, in one status report (the
        session leaving Faulted and the faults going must not show as "Faulted, NoError"
        in between)."""
        self.count_plug_cycle()
        with self._one_report():
            self.dispatch(event)
            for fault in self.faults.unplugged(still=self._still_present):
                self._fault_cleared(fault)

    def _still_present(self, condition: Condition) -> bool:
        """A fault's condition read from a trip input that still holds it: such a fault
        outlives a replug (an insulation alarm does not end with the EV leaving)."""
        d = self.devices
        if condition is Condition.INSULATION:
            return d.imd is not None and d.imd.alarm
        return False

    def count_plug_cycle(self) -> None:
        """The cable was plugged into a car and out again: one cycle (DC manual 4.2.2)."""
        self._plug_cycles.increment()

    def _check_cable(self, pp_ohm: float | None) -> None:
        if self.cfg.kind != ConnectorKind.TYPE2_SOCKET:
            return  # a tethered cable or DC plug has no PP resistor to read here
        reading = read_pp(pp_ohm, self.cfg.phases)
        if not reading.valid:
            self.raise_fault(Condition.PP_OUT_OF_RANGE, pp_ohm=pp_ohm)
            return
        self.end_fault(Condition.PP_OUT_OF_RANGE)
        self._cable_a = reading.ampacity_a
        self.update_offer()

    def _on_rcd(self, tripped: bool) -> None:
        if tripped:
            # Power path first, report second.
            self.make_safe("RCD tripped")
            self.checks.rcd_tripped()  # 101 (DC residual current) or 106
        else:
            self.end_fault(Condition.RCD_TRIPPED)
            self.end_fault(Condition.RESIDUAL_CURRENT_DC)

    def block_energy(self) -> None:
        """No more energy for this transaction (an invalidated idTag past
        MaxEnergyOnInvalidId): the session suspends it (SuspendedEVSE) but goes on."""
        if self.tx is not None and not self.energy_blocked:
            self.energy_blocked = True
            self.update_offer()

    def set_budget(self, amps: float, watts: float | None) -> None:
        """The power budget's allowance for this connector (``firmware.power.manager``)."""
        self.budget_a, self.budget_w = amps, watts
        self.update_offer()

    def update_offer(self) -> None:
        """Offer min(budget, cable ampacity, connector rating) to the session."""
        amps = min(self.budget_a, self.cfg.max_current_a)
        if self._cable_a is not None:
            amps = min(amps, self._cable_a)
        limit = self.checks.limit_a()
        if limit is not None:
            amps = min(amps, limit)
        watts = self.budget_w
        if self.energy_blocked:
            amps, watts = 0.0, (0.0 if self.cfg.is_dc else None)
        offer = (amps, watts)
        if offer != self._offer:
            self._offer = offer
            self.dispatch(OfferChanged(amps, watts))

    # ------------------------------------------------------------------ faults
    def raise_fault(self, condition: Condition, **values: object) -> None:
        """Record a fault of this connector and act on its effect. A blocking fault that
        is new makes the power path safe before anything is logged, persisted or reported
        (the trip paths of the RCD, IMD and stacks have already done so: no-op then)."""
        if self.faults.definition(condition).blocks and not self.faults.holds(condition):
            self.make_safe(f"fault {condition}")
        fault = self.faults.raise_(condition, **values)
        if fault is None:
            return
        if fault.blocking:
            self.dispatch(FaultRaised(fault.fault.code, blocking=True))
        self._report_status()

    def end_fault(self, condition: Condition) -> None:
        """The condition is gone: its fault clears if its recovery allows (a reset or a
        replug may be needed)."""
        fault = self.faults.condition_ended(condition)
        if fault is not None:
            self._fault_cleared(fault)

    def _fault_cleared(self, fault: ActiveFault) -> None:
        if fault.blocking:
            self.dispatch(FaultCleared(fault.fault.code))
        self._report_status()

    def reset_faults(self) -> None:
        for fault in self.faults.reset():
            self._fault_cleared(fault)

    def make_safe(self, reason: str) -> None:
        """Make this connector's power path safe now (synchronously, through the one safe
        path): stacks off, contactor open, pilot in state F."""
        self.safety.make_safe(self.id, reason)

    # ------------------------------------------------------------------ the session
    def dispatch(self, event: Event) -> None:
        self.execute(self.session.handle(event, self.clock.monotonic()))

    def execute(self, actions: list[Action]) -> None:
        for action in actions:
            self._execute_one(action)
        self._timer.wake()
        if actions:  # the 20 Hz DC control loop mostly changes nothing: no station work then
            self.notify_change()

    def _execute_one(self, action: Action) -> None:
        match action:
            case OpenContactor():
                self.safety.open(self.id)
            case CloseContactor():
                try:
                    self.safety.close(self.id)
                except InterlockOpen as exc:
                    failing = ", ".join(f"{name}: {why}" for name, why in exc.failing)
                    self._log.error("interlock open (%s)", failing)
                    self.raise_fault(Condition.GENERIC)
            case SetDuty(percent=percent):
                if self.devices.pilot is not None:
                    self.devices.pilot.set_duty(percent)
            case Lock():
                self.spawn(self._lock(True), "lock")
            case Unlock():
                self.spawn(self._lock(False), "unlock")
            case BeginTransaction(id_tag=id_tag, remote=remote, reservation_used=used):
                self.tx_since = self.clock.monotonic()
                self.tx = self.link.start_transaction(
                    self.id, id_tag, self.energy_wh(), self.clock.now(), remote=remote,
                    reservation_used=used,
                )
            case EndTransaction(reason=reason):
                if self.energy_blocked:
                    self.energy_blocked = False
                    self.spawn(self._reoffer(), "offer")
                if self.tx is not None:
                    tx, self.tx, self.tx_since = self.tx, None, None
                    self.spawn(self._stop_transaction(tx, reason), "stop transaction")
            case StatusChanged():
                self._report_status()
            case SessionFault(kind=kind, active=active):
                condition = _SESSION_FAULTS[kind]
                if active:
                    values: dict[str, object] = {}
                    if kind == SessionFaultKind.PILOT and self.detector.last_out_of_range:
                        high, low = self.detector.last_out_of_range
                        values = {"cp_high_v": high, "cp_low_v": low}
                    elif kind == SessionFaultKind.EV_VOLTAGE and self.meter is not None:
                        values = {"voltage_v": max(self.meter.voltage_v, default=0.0)}
                    # The session already made the connector safe: report only.
                    if self.faults.raise_(condition, **values) is not None:
                        self._report_status()
                else:
                    cleared = self.faults.condition_ended(condition)
                    if cleared is not None:
                        self._report_status()
            case _:
                if self.dc is None or not self.dc.execute(action):
                    self._log.error("action %r not handled", action)

    async def _reoffer(self) -> None:
        self.update_offer()  # not from inside the session's own action list

    async def _stop_transaction(self, tx: TxHandle, reason: str) -> None:
        """StopTransaction with a fresh meter reading: the contactor is open, so what the
        meter says now is the session's final register (the cached one can be ~1 s old)."""
        when = self.clock.now()
        self.stopping += 1
        try:
            # A bound on one bus transfer: real time, like the drivers' own timeouts.
            self.meter = await asyncio.wait_for(self.devices.meter.read(), METER_POLL_S)
        except (DriverError, TimeoutError):
            self._log.warning("no fresh meter reading for StopTransaction")
        finally:
            self.stopping -= 1
            self.link.stop_transaction(tx, self.energy_wh(), when, reason, tx.id_tag)

    async def _lock(self, lock: bool) -> None:
        device = self.devices.lock
        if device is None:
            if lock:
                self.dispatch(LockResult(True))
            return
        try:
            async with self.checks.lock_guard:  # not during the lock self-test
                await (device.lock() if lock else device.unlock())
        except DeviceFaulted as exc:
            condition = LOCK_FAULT_CONDITIONS.get(exc.fault, Condition.LOCK_FAILED_SESSION)
            self.faults.raise_(condition)
            self._report_status()
            if lock:
                self.dispatch(LockResult(False))
            return
        # The lock moved: every lock fault a session can raise has ended (each clears
        # by its own recovery: replug, or a reset for the AC list's 211).
        for condition in (Condition.LOCK_FAILED_SESSION, *LOCK_FAULT_CONDITIONS.values()):
            self.end_fault(condition)
        if lock:
            self.dispatch(LockResult(True))

    # ------------------------------------------------------------------ requests
    def authorize(self, id_tag: str, remote: bool = False, parent: str | None = None) -> None:
        self.dispatch(Authorized(id_tag, remote=remote, parent_id_tag=parent))

    def stop(self, reason: str) -> None:
        self.dispatch(StopRequested(reason))

    # ------------------------------------------------------------------ read-outs
    def energy_wh(self) -> float:
        return self.meter.energy_import_wh if self.meter is not None else 0.0

    def status_report(self) -> StatusReport:
        status = str(self.session.status)
        station = self.station_faults
        if self.faults.worst() is None and station is not None and station.blocking():
            return station.report(status)  # unusable because of the station's fault
        return self.faults.report(status)

    def display_text(self) -> str:
        """What the display shows for this connector: its fault, else a station fault."""
        text = self.faults.display()
        if not text and self.station_faults is not None:
            text = self.station_faults.display()
        return text

    def report_status(self) -> None:
        self._report_status()

    @contextlib.contextmanager
    def _one_report(self) -> Iterator[None]:
        self._hold_reports += 1
        try:
            yield
        finally:
            self._hold_reports -= 1
            self._report_status()

    def _report_status(self) -> None:
        if self._hold_reports:
            return
        self.checks.on_status(str(self.session.status))
        report = self.status_report()
        if report != self._reported:
            self._reported = report
            self._log.info("status %s %s", report.status, report.error_code)
            self.link.notify_status(self.id, report)
        self.notify_change()

    def notify_change(self) -> None:
        """Tell the station something it shows or budgets changed."""
        for listener in self._change_listeners:
            listener(self)

    @property
    def plug_cycles(self) -> int:
        """Plug cycles counted on this connector (DC manual 4.2.2)."""
        return self._plug_cycles.value

    @property
    def ev(self) -> EvStatus | None:
        """What a DC EV asks for and reports (None: AC, or no EV talking yet)."""
        return self.dc.ev if self.dc is not None else None

    @property
    def charging(self) -> bool:
        return self.session.status is ChargePointStatus.CHARGING

    @property
    def lock(self) -> ConnectorLock | None:
        """The cable lock actuator (None: a tethered cable or a DC plug without one)."""
        return self.devices.lock

    # ------------------------------------------------------------------ readings (contexts)
    @property
    def pilot_state(self) -> PilotState | None:
        """The stable pilot state last detected (None: none yet, or no pilot)."""
        return self.detector.state

    @property
    def pilot_duty(self) -> float:
        """The CP duty on the pilot now (100 where there is no pilot)."""
        pilot = self.devices.pilot
        return pilot.duty if pilot is not None else 100.0

    @property
    def offered_a(self) -> float:
        """The current the session offers the EV now, in A."""
        return self.session.offered_a

    @property
    def has_transaction(self) -> bool:
        return self.tx is not None

    @property
    def ev_present(self) -> bool:
        return self.session.ev_present

    @property
    def settings(self) -> SessionSettings:
        """The configuration keys the session follows."""
        return self.session.settings

    def snapshot(self) -> MeterSnapshot:
        m = self.meter
        ev = self.dc.ev if self.dc is not None else None
        if m is None:
            return MeterSnapshot(energy_import_wh=0.0, dc=self.cfg.is_dc)
        return MeterSnapshot(
            energy_import_wh=m.energy_import_wh,
            power_w=m.power_w,
            current_a=m.current_a,
            voltage_v=m.voltage_v,
            power_phase_w=m.power_phase_w,
            frequency_hz=m.frequency_hz,
            current_offered_a=self.session.offered_a,
            soc_percent=ev.soc_percent if ev is not None else None,
            dc=self.cfg.is_dc,
        )


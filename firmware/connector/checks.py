"""Per-connector fault checks that need counting, timing or a self-test (the AC list's
101 reclassification, 104, 206, 211, 301, 302, 303, 304), kept out of the connector glue.

:class:`ConnectorChecks` is fed by its connector (pilot samples and states, meter
readings, RCD trips, status changes) and runs one periodic task (:meth:`run`) on the
connector's clock for the timed parts: the retries of the ``retry`` faults, cable without
a session, the RDC-DD reset. What it asks of the connector is a
:class:`~firmware.connector.context.ChecksContext`. The counting and timing themselves
(104, 301, 302, 303, 304) are the pure :class:`~firmware.connector.check_rules.CheckRules`;
this class carries out what they return and owns what needs a device or a task (the lock
self-test, the RCD's classification and reset, the retries). Thresholds are the
catalogue's (``[thresholds]`` of the station file overrides them).

* 101 / 106: an RCD trip is residual current DC (101) when the RDC-DD's DC reading is at
  or above ``dc_leakage_ma``, else a trip (106).
* 104: in state A with no PWM the CP high level *is* the +12 V rail (through the CP
  generator): below ``internal_supply_min_v`` the control electronics are under-supplied.
* 206: the connector is Unavailable (ChangeAvailability, firmware update): display only.
* 211: lock self-test at start (lock, then unlock, with no EV): the AC list's 211 (404 for
  an over-current), DC 15/16/17.
* 301: the EV enters state C/D while no PWM is offered (a sequence IEC 61851 forbids).
* 302: a phase current above offered * (1 + overcurrent_tolerance_pct / 100) +
  overcurrent_tolerance_a for overcurrent_time_s.
* 303: more than max_starts_per_minute entries into C/D within 60 s.
* 304: EV connected for cable_without_session_s with no transaction.

The ``retry`` faults (101, 301, 302, 303) clear after the entry's ``retry_delay_s``, up to
``retries`` times; after that only an unplug clears them (``after_retries = replug``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping

from drivers.errors import DeviceFaulted, DriverError
from drivers.interfaces import (
    ConnectorLock,
    DcResidualCurrentMonitor,
    LockFault,
    MeterReading,
    PilotSample,
    ResidualCurrentMonitor,
)
from firmware.connector.check_rules import (
    Change,
    CheckRules,
    CheckThresholds,
    EndFault,
    Notice,
    RaiseFault,
)
from firmware.connector.context import ChecksContext
from firmware.log_context import connector_logger
from firmware.safety.fault_book import FaultBook
from firmware.safety.fault_catalogue import Condition, Recovery
from firmware.session.pilot_detector import PilotState

_log = logging.getLogger(__name__)

CHECK_PERIOD_S = 0.2
SELF_TEST_DELAY_S = 0.5  # let the pilot settle: no self-test with an EV plugged in

# Conditions that only the EV leaving ends (with their retries).
_UNTIL_REPLUG = (
    Condition.EV_COMM_UNKNOWN, Condition.OVER_CURRENT, Condition.TOO_MANY_STARTS,
    Condition.RESIDUAL_CURRENT_DC,
)
# Conditions that limit the offer while active (derate with no derate_a: paused).
_DERATE = (Condition.EV_COMM_UNKNOWN, Condition.TOO_MANY_STARTS)
# Lock faults with a code of their own (DC 16 / 17), at the self-test and in a session;
# the rest is 211 / 15 (self-test) or 404 / 15 (session).
LOCK_FAULT_CONDITIONS: dict[object, Condition] = {
    LockFault.OPEN_LOAD: Condition.LOCK_OPEN_LOAD,
    LockFault.OVER_CURRENT: Condition.LOCK_OVER_CURRENT,
}


class ConnectorChecks:
    """The timed and counted checks of one connector; see the module docstring.

    ``faults`` is the connector's fault book (read, and written directly only for the
    display-only 206, which is part of the status being reported); ``lock`` and ``rcd``
    the devices it tests and classifies (None where the connector has none).
    """

    def __init__(
        self,
        ctx: ChecksContext,
        faults: FaultBook,
        thresholds: Mapping[str, float],
        *,
        lock: ConnectorLock | None = None,
        rcd: ResidualCurrentMonitor | None = None,
    ) -> None:
        self._ctx = ctx
        self._faults = faults
        self._lock = lock
        self._rcd = rcd
        self._log = connector_logger(_log, ctx.id)
        self.rules = CheckRules(CheckThresholds.from_mapping(thresholds))
        self.dc_leakage_ma = float(thresholds.get("dc_leakage_ma", 6.0))
        # Serialises lock moves: the self-test's lock + unlock must not interleave with a
        # session's lock (the connector's lock task takes it too).
        self.lock_guard = asyncio.Lock()
        self.lock_self_test_done = asyncio.Event()  # set once the start self-test is over
        self._retry_at: dict[Condition, float] = {}
        self._retries: dict[Condition, int] = {}

    # ------------------------------------------------------------------ inputs
    def on_sample(self, sample: PilotSample, duty: float) -> None:
        """Every pilot sample: the +12 V rail while the CP rests at +12 V (state A)."""
        changes = self.rules.sample(self._ctx.pilot_state, duty, sample.cp_high_v)
        if changes:
            self._apply(changes)

    def on_state(self, state: PilotState, duty: float) -> None:
        """A new stable pilot state (before the session sees it)."""
        if state is PilotState.A:
            self._unplugged()
            return
        self._apply(self.rules.state_entered(state, duty, self._ctx.clock.monotonic()))

    def on_meter(self, reading: MeterReading) -> None:
        """An AC meter reading: over-current beyond the IEC 61851-1 tolerance (302)."""
        now = self._ctx.clock.monotonic()
        self._apply(self.rules.meter(self._ctx.offered_a, reading.current_a, now))

    def rcd_tripped(self) -> None:
        """The RCD tripped (the power path is already safe): 101 or 106?"""
        rcd = self._rcd
        dc = rcd.dc_monitor() if rcd is not None else None
        if dc is not None:
            self._ctx.spawn(self._classify_trip(dc), "rcd classify")
        else:
            self._ctx.raise_fault(Condition.RCD_TRIPPED)

    def on_status(self, status: str) -> None:
        """The status about to be reported: Unavailable shows 206 (display only)."""
        faults = self._faults
        if status == "Unavailable":
            if not faults.is_active(Condition.UNAVAILABLE):
                faults.raise_(Condition.UNAVAILABLE)
        elif faults.is_active(Condition.UNAVAILABLE):
            faults.condition_ended(Condition.UNAVAILABLE)
        self.rules.status(self._ctx.has_transaction)

    def limit_a(self) -> float | None:
        """The current limit of the active derating connector faults (0: paused)."""
        if any(self._faults.is_active(cond) for cond in _DERATE):
            return 0.0
        return None

    # ------------------------------------------------------------------ the task
    async def run(self) -> None:
        """The lock self-test, then the periodic checks, until cancelled."""
        await self.lock_self_test()
        while True:
            await self._ctx.clock.sleep(CHECK_PERIOD_S)
            await self.tick()

    async def tick(self) -> None:
        """One round of the timed checks (public so a test can run one now)."""
        ctx = self._ctx
        now = ctx.clock.monotonic()
        self._apply(self.rules.tick(now, ctx.pilot_state, ctx.pilot_duty, ctx.has_transaction))
        for condition, at in list(self._retry_at.items()):
            if now >= at:
                del self._retry_at[condition]
                await self._retry(condition)

    async def lock_self_test(self) -> None:
        """At start, with no EV: lock and unlock once; a failure is 211 (DC: 15), an open
        load 211 (DC: 16), an over-current 404 (DC: 17)."""
        try:
            await self._lock_self_test()
        finally:
            self.lock_self_test_done.set()

    async def _lock_self_test(self) -> None:
        lock = self._lock
        if lock is None:
            return
        await self._ctx.clock.sleep(SELF_TEST_DELAY_S)
        async with self.lock_guard:
            if self._ctx.ev_present or lock.locked:
                return  # a cable in the socket: the session's lock tests the motor
            try:
                await lock.lock()
                await lock.unlock()
            except DeviceFaulted as exc:
                condition = LOCK_FAULT_CONDITIONS.get(exc.fault,
                                                       Condition.LOCK_FAILED_SELFTEST)
                self._log.error("lock self-test failed: %s", exc)
                self._ctx.raise_fault(condition)
                with contextlib.suppress(DriverError):
                    await lock.unlock()  # leave the pin out of the way if it moved
            else:
                self._log.info("lock self-test passed")

    # ------------------------------------------------------------------ helpers
    def _apply(self, changes: Iterable[Change]) -> None:
        """Carry out what the rules returned, in order."""
        for change in changes:
            match change:
                case Notice(message=message, error=error):
                    self._log.log(logging.ERROR if error else logging.WARNING, "%s", message)
                case EndFault(condition=condition):
                    self._ctx.end_fault(condition)
                case RaiseFault(condition=condition, values=values, safe_first=reason,
                                retry=retry):
                    if reason is not None:
                        self._ctx.make_safe(reason)  # power path first, report second
                    if retry:
                        self._raise_retry(condition, **values)
                    else:
                        self._ctx.raise_fault(condition, **values)

    def _raise_retry(self, condition: Condition, **values: object) -> None:
        if self._faults.is_active(condition):
            return
        fault = self._faults.definition(condition)
        self._ctx.raise_fault(condition, **values)
        if fault.recovery is Recovery.RETRY and self._retries.get(condition, 0) < fault.retries:
            self._retry_at[condition] = self._ctx.clock.monotonic() + fault.retry_delay_s
        if condition in _DERATE:
            self._ctx.update_offer()

    async def _retry(self, condition: Condition) -> None:
        """A retry: let the connector try again (the fault comes back if the cause is)."""
        self._retries[condition] = self._retries.get(condition, 0) + 1
        self._log.info("retry %d after %s", self._retries[condition], condition)
        if condition is Condition.RESIDUAL_CURRENT_DC:
            await self._reset_rcd()  # the trip clearing ends the fault (connector._on_rcd)
            return
        self._ctx.end_fault(condition)
        self._ctx.update_offer()

    def _unplugged(self) -> None:
        self.rules.unplugged()
        self._retry_at.clear()
        self._retries.clear()
        for condition in _UNTIL_REPLUG:
            if condition is Condition.RESIDUAL_CURRENT_DC:
                if self._faults.is_active(condition):
                    self._ctx.spawn(self._reset_rcd(), "rcd reset")
                continue
            self._ctx.end_fault(condition)
        self._ctx.update_offer()

    async def _classify_trip(self, rcd: DcResidualCurrentMonitor) -> None:
        reading: float | None = None
        try:
            reading = await rcd.read_dc_leakage_ma()
        except DriverError as exc:
            self._log.warning("no DC residual current reading: %s", exc)
        if not rcd.tripped:
            return  # gone while we read
        if reading is not None and reading >= self.dc_leakage_ma:
            self._raise_retry(Condition.RESIDUAL_CURRENT_DC, dc_ma=reading)
        else:
            self._ctx.raise_fault(Condition.RCD_TRIPPED)

    async def _reset_rcd(self) -> None:
        rcd = self._rcd
        dc = rcd.dc_monitor() if rcd is not None else None
        if dc is None:
            return
        try:
            await dc.reset()
        except DriverError as exc:
            self._log.warning("RCD reset failed: %s", exc)

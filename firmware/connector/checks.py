"""Per-connector fault checks that need counting, timing or a self-test (the AC list's
101 reclassification, 104, 206, 211, 301, 302, 303, 304), kept out of the connector glue.

:class:`ConnectorChecks` is fed by :class:`firmware.connector.controller.ConnectorController` (pilot
samples and states, meter readings, RCD trips, status changes) and runs one periodic task
(:meth:`run`) for the timed parts: the retries of the ``retry`` faults, cable without a
session, the RDC-DD reset. Thresholds are the catalogue's (``[thresholds]`` of the station
file overrides them); time comes from the connector's clock.

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
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

from drivers.errors import DeviceFaulted, DriverError
from drivers.interfaces import LockFault, MeterReading, PilotSample
from firmware.safety.fault_catalogue import Condition, Recovery
from firmware.session.pilot_detector import PilotState

if TYPE_CHECKING:
    from firmware.connector.controller import ConnectorController

log = logging.getLogger(__name__)

CHECK_PERIOD_S = 0.2
RAIL_SAMPLES = 5  # consecutive low samples before 104 (one sample may be a glitch)
RAIL_HYSTERESIS_V = 0.1
STARTS_WINDOW_S = 60.0
SELF_TEST_DELAY_S = 0.5  # let the pilot settle: no self-test with an EV plugged in

_CHARGING = (PilotState.C, PilotState.D)
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
    """The timed and counted checks of one connector; see the module docstring."""

    def __init__(self, connector: ConnectorController, thresholds: Mapping[str, float]) -> None:
        self.c = connector
        self.supply_min_v = float(thresholds.get("internal_supply_min_v", 11.4))
        self.dc_leakage_ma = float(thresholds.get("dc_leakage_ma", 6.0))
        self.oc_pct = float(thresholds.get("overcurrent_tolerance_pct", 10.0))
        self.oc_a = float(thresholds.get("overcurrent_tolerance_a", 0.5))
        self.oc_time_s = float(thresholds.get("overcurrent_time_s", 7.0))
        self.max_starts = int(thresholds.get("max_starts_per_minute", 5))
        self.cable_s = float(thresholds.get("cable_without_session_s", 120.0))
        # An EV may stay in C for up to 6 s after the PWM goes (IEC 61851-1 Table A.6), e.g.
        # when the station starts up under an EV that was charging: only then is it 301.
        self.no_pwm_grace_s = float(thresholds.get("no_pwm_grace_s", 6.0))
        # Serialises lock moves: the self-test's lock + unlock must not interleave with a
        # session's lock (connector._lock takes it too).
        self.lock_guard = asyncio.Lock()
        self.lock_self_test_done = asyncio.Event()  # set once the start self-test is over
        self._rail_low = 0
        self._starts: deque[float] = deque()
        self._over_since: float | None = None
        self._plugged_since: float | None = None
        self._no_pwm_since: float | None = None  # in C/D with no PWM offer since
        self._had_tx = False
        self._retry_at: dict[Condition, float] = {}
        self._retries: dict[Condition, int] = {}

    # ------------------------------------------------------------------ inputs
    def on_sample(self, sample: PilotSample, duty: float) -> None:
        """Every pilot sample: the +12 V rail while the CP rests at +12 V (state A)."""
        if self.c.detector.state is not PilotState.A or duty < 100.0:
            self._rail_low = 0
            return
        if sample.cp_high_v < self.supply_min_v:
            self._rail_low += 1
            if self._rail_low == RAIL_SAMPLES:
                log.error("connector %d: +12 V rail at %.2f V", self.c.id, sample.cp_high_v)
                self.c.raise_fault(Condition.INTERNAL_SUPPLY_LOW)
        elif sample.cp_high_v >= self.supply_min_v + RAIL_HYSTERESIS_V:
            self._rail_low = 0
            self.c.end_fault(Condition.INTERNAL_SUPPLY_LOW)

    def on_state(self, state: PilotState, duty: float) -> None:
        """A new stable pilot state (before the session sees it)."""
        now = self.c.clock.monotonic()
        if state is PilotState.A:
            self._unplugged()
            return
        if self._plugged_since is None:
            self._plugged_since = now
        if state not in _CHARGING:
            return
        if duty >= 100.0 or duty <= 0.0:  # 301 if it stays there (see _check_no_pwm)
            log.warning("connector %d: EV entered %s with no PWM offer", self.c.id, state)
        self._starts.append(now)
        while self._starts and now - self._starts[0] > STARTS_WINDOW_S:
            self._starts.popleft()
        if len(self._starts) > self.max_starts:
            self._raise_retry(Condition.TOO_MANY_STARTS)

    def on_meter(self, reading: MeterReading) -> None:
        """An AC meter reading: over-current beyond the IEC 61851-1 tolerance (302)."""
        offered = self.c.session.offered_a
        actual = max(reading.current_a, default=0.0)
        allowed = offered * (1.0 + self.oc_pct / 100.0) + self.oc_a
        now = self.c.clock.monotonic()
        if offered <= 0.0 or actual <= allowed:
            self._over_since = None
            return
        if self._over_since is None:
            self._over_since = now
            log.warning("connector %d: EV draws %.1f A, %.1f A allowed", self.c.id, actual,
                        allowed)
        elif now - self._over_since >= self.oc_time_s:
            self._over_since = None
            self.c.safety.make_safe(self.c.id, "EV over current")
            self._raise_retry(Condition.OVER_CURRENT, allowed_a=allowed, actual_a=actual)

    def rcd_tripped(self) -> None:
        """The RCD tripped (the power path is already safe): 101 or 106?"""
        rcd = self.c.devices.rcd
        if rcd is not None and hasattr(rcd, "read_dc_leakage_ma"):
            self.c.spawn(self._classify_trip(), "rcd classify")
        else:
            self.c.raise_fault(Condition.RCD_TRIPPED)

    def on_status(self, status: str) -> None:
        """The status about to be reported: Unavailable shows 206 (display only)."""
        if status == "Unavailable":
            if not self.c.faults.is_active(Condition.UNAVAILABLE):
                self.c.faults.raise_(Condition.UNAVAILABLE)
        elif self.c.faults.is_active(Condition.UNAVAILABLE):
            self.c.faults.condition_ended(Condition.UNAVAILABLE)
        if self.c.tx is not None:
            self._had_tx = True

    def limit_a(self) -> float | None:
        """The current limit of the active derating connector faults (0: paused)."""
        if any(self.c.faults.is_active(cond) for cond in _DERATE):
            return 0.0
        return None

    # ------------------------------------------------------------------ the task
    async def run(self) -> None:
        """The lock self-test, then the periodic checks, until cancelled."""
        await self.lock_self_test()
        while True:
            await asyncio.sleep(CHECK_PERIOD_S)
            await self.tick()

    async def tick(self) -> None:
        """One round of the timed checks (public so a test can run one now)."""
        now = self.c.clock.monotonic()
        since = self._plugged_since
        if (since is not None and not self._had_tx and self.c.tx is None
                and now - since >= self.cable_s):
            self.c.raise_fault(Condition.CABLE_WITHOUT_SESSION)
        self._check_no_pwm(now)
        for condition, at in list(self._retry_at.items()):
            if now >= at:
                del self._retry_at[condition]
                await self._retry(condition)

    def _check_no_pwm(self, now: float) -> None:
        """301 when the EV stays in C/D without a PWM offer past the grace time (also
        after a retry gave the PWM back and took it away again)."""
        pilot = self.c.devices.pilot
        duty = pilot.duty if pilot is not None else 100.0
        if self.c.detector.state not in _CHARGING or 0.0 < duty < 100.0:
            self._no_pwm_since = None  # not in C, or a PWM is offered
            return
        if self._no_pwm_since is None:
            self._no_pwm_since = now
        elif now - self._no_pwm_since >= self.no_pwm_grace_s:
            self._no_pwm_since = None
            log.warning("connector %d: EV stays in %s without a PWM offer", self.c.id,
                        self.c.detector.state)
            self._raise_retry(Condition.EV_COMM_UNKNOWN)

    async def lock_self_test(self) -> None:
        """At start, with no EV: lock and unlock once; a failure is 211 (DC: 15), an open
        load 211 (DC: 16), an over-current 404 (DC: 17)."""
        try:
            await self._lock_self_test()
        finally:
            self.lock_self_test_done.set()

    async def _lock_self_test(self) -> None:
        lock = self.c.devices.lock
        if lock is None:
            return
        await asyncio.sleep(SELF_TEST_DELAY_S)
        async with self.lock_guard:
            if self.c.session.ev_present or lock.locked:
                return  # a cable in the socket: the session's lock tests the motor
            try:
                await lock.lock()
                await lock.unlock()
            except DeviceFaulted as exc:
                condition = LOCK_FAULT_CONDITIONS.get(exc.fault,
                                                       Condition.LOCK_FAILED_SELFTEST)
                log.error("connector %d: lock self-test failed: %s", self.c.id, exc)
                self.c.raise_fault(condition)
                with contextlib.suppress(DriverError):
                    await lock.unlock()  # leave the pin out of the way if it moved
            else:
                log.info("connector %d: lock self-test passed", self.c.id)

    # ------------------------------------------------------------------ helpers
    def _raise_retry(self, condition: Condition, **values: object) -> None:
        if self.c.faults.is_active(condition):
            return
        fault = self.c.faults.definition(condition)
        self.c.raise_fault(condition, **values)
        if fault.recovery is Recovery.RETRY and self._retries.get(condition, 0) < fault.retries:
            self._retry_at[condition] = self.c.clock.monotonic() + fault.retry_delay_s
        if condition in _DERATE:
            self.c.update_offer()

    async def _retry(self, condition: Condition) -> None:
        """A retry: let the connector try again (the fault comes back if the cause is)."""
        self._retries[condition] = self._retries.get(condition, 0) + 1
        log.info("connector %d: retry %d after %s", self.c.id, self._retries[condition],
                 condition)
        if condition is Condition.RESIDUAL_CURRENT_DC:
            await self._reset_rcd()  # the trip clearing ends the fault (connector._on_rcd)
            return
        self.c.end_fault(condition)
        self.c.update_offer()

    def _unplugged(self) -> None:
        self._plugged_since = None
        self._had_tx = False
        self._over_since = None
        self._starts.clear()
        self._retry_at.clear()
        self._retries.clear()
        for condition in _UNTIL_REPLUG:
            if condition is Condition.RESIDUAL_CURRENT_DC:
                if self.c.faults.is_active(condition):
                    self.c.spawn(self._reset_rcd(), "rcd reset")
                continue
            self.c.end_fault(condition)
        self.c.update_offer()

    async def _classify_trip(self) -> None:
        rcd = self.c.devices.rcd
        reading: float | None = None
        try:
            reading = await rcd.read_dc_leakage_ma()  # type: ignore[union-attr]
        except DriverError as exc:
            log.warning("connector %d: no DC residual current reading: %s", self.c.id, exc)
        if rcd is None or not rcd.tripped:
            return  # gone while we read
        if reading is not None and reading >= self.dc_leakage_ma:
            self._raise_retry(Condition.RESIDUAL_CURRENT_DC, dc_ma=reading)
        else:
            self.c.raise_fault(Condition.RCD_TRIPPED)

    async def _reset_rcd(self) -> None:
        rcd = self.c.devices.rcd
        reset = getattr(rcd, "reset", None)
        if reset is None:
            return
        try:
            await reset()
        except DriverError as exc:
            log.warning("connector %d: RCD reset failed: %s", self.c.id, exc)

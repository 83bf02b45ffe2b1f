"""The counted and timed connector checks as a pure machine: readings and the time in,
fault changes out (104, 301, 302, 303, 304 of the AC list; see
:mod:`firmware.connector.checks` for the whole list and the thresholds).

No I/O, no asyncio, no clock: like the session state machines, every call takes the
monotonic time ``now`` it applies to, and returns what changed as a list of
:class:`RaiseFault`, :class:`EndFault` and :class:`Notice`, in order.
:class:`~firmware.connector.checks.ConnectorChecks` feeds it and carries the changes
out (power path safe first, then the fault; the retries of the ``retry`` faults).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from firmware.safety.fault_catalogue import Condition
from firmware.session.pilot_detector import PilotState

RAIL_SAMPLES = 5  # consecutive low samples before 104 (one sample may be a glitch)
RAIL_HYSTERESIS_V = 0.1
STARTS_WINDOW_S = 60.0

CHARGING = (PilotState.C, PilotState.D)


@dataclass(frozen=True, slots=True)
class RaiseFault:
    """Raise ``condition`` with ``values`` (the catalogue's info text fields).
    ``safe_first``: make the power path safe for this reason before raising (also when
    the fault is already active). ``retry``: a fault with retries (the catalogue's
    ``retry`` recovery) whose retry the caller schedules."""

    condition: Condition
    values: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    safe_first: str | None = None
    retry: bool = False


@dataclass(frozen=True, slots=True)
class EndFault:
    """The condition is gone."""

    condition: Condition


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth a warning in the log (``error``: an error), not a fault itself or
    the reason for one."""

    message: str
    error: bool = False


Change = RaiseFault | EndFault | Notice

_NOTHING: tuple[Change, ...] = ()
_RAIL_OK: tuple[Change, ...] = (EndFault(Condition.INTERNAL_SUPPLY_LOW),)


@dataclass
class CheckThresholds:
    """The checks' thresholds: the catalogue's ``[thresholds]`` (a station file may
    override them), read with their defaults by :meth:`from_mapping`."""

    supply_min_v: float = 11.4  # 104: the +12 V rail (CP high in state A) below this
    overcurrent_pct: float = 10.0  # 302: offered * (1 + pct / 100) + a
    overcurrent_a: float = 0.5
    overcurrent_time_s: float = 7.0  # ... for this long
    max_starts: int = 5  # 303: more entries into C/D than this within a minute
    cable_without_session_s: float = 120.0  # 304
    # 301: an EV may stay in C for up to 6 s after the PWM goes (IEC 61851-1 Table A.6),
    # e.g. when the station starts up under an EV that was charging: only then is it 301.
    no_pwm_grace_s: float = 6.0

    @classmethod
    def from_mapping(cls, thresholds: Mapping[str, float]) -> CheckThresholds:
        d = cls()
        return cls(
            supply_min_v=float(thresholds.get("internal_supply_min_v", d.supply_min_v)),
            overcurrent_pct=float(thresholds.get("overcurrent_tolerance_pct",
                                                 d.overcurrent_pct)),
            overcurrent_a=float(thresholds.get("overcurrent_tolerance_a", d.overcurrent_a)),
            overcurrent_time_s=float(thresholds.get("overcurrent_time_s",
                                                    d.overcurrent_time_s)),
            max_starts=int(thresholds.get("max_starts_per_minute", d.max_starts)),
            cable_without_session_s=float(thresholds.get("cable_without_session_s",
                                                         d.cable_without_session_s)),
            no_pwm_grace_s=float(thresholds.get("no_pwm_grace_s", d.no_pwm_grace_s)),
        )


class CheckRules:
    """The state of the counted and timed checks of one connector.

    Feed it every pilot sample (:meth:`sample`), every new stable pilot state other than
    A (:meth:`state_entered`), every AC meter reading (:meth:`meter`), whether a
    transaction runs when the status is reported (:meth:`status`), the unplug
    (:meth:`unplugged`), and call :meth:`tick` periodically. ``thresholds`` may be
    changed between calls (a bench raises ``max_starts``).
    """

    def __init__(self, thresholds: CheckThresholds | None = None) -> None:
        self.thresholds = thresholds or CheckThresholds()
        self._rail_low = 0
        self._starts: deque[float] = deque()
        self._over_since: float | None = None
        self._plugged_since: float | None = None
        self._no_pwm_since: float | None = None  # in C/D with no PWM offer since
        self._had_tx = False

    def sample(self, state: PilotState | None, duty: float, cp_high_v: float
               ) -> Sequence[Change]:
        """A pilot sample: 104 when the +12 V rail (the CP high level in state A with no
        PWM) stays below ``supply_min_v`` for :data:`RAIL_SAMPLES` samples."""
        if state is not PilotState.A or duty < 100.0:
            self._rail_low = 0
            return _NOTHING
        limit = self.thresholds.supply_min_v
        if cp_high_v < limit:
            self._rail_low += 1
            if self._rail_low == RAIL_SAMPLES:
                return (Notice(f"+12 V rail at {cp_high_v:.2f} V", error=True),
                        RaiseFault(Condition.INTERNAL_SUPPLY_LOW))
        elif cp_high_v >= limit + RAIL_HYSTERESIS_V:
            self._rail_low = 0
            return _RAIL_OK
        return _NOTHING

    def state_entered(self, state: PilotState, duty: float, now: float) -> list[Change]:
        """A new stable pilot state other than A (that is :meth:`unplugged`): the plug
        time (304), and every entry into C/D counted (303)."""
        if self._plugged_since is None:
            self._plugged_since = now
        if state not in CHARGING:
            return []
        out: list[Change] = []
        if duty >= 100.0 or duty <= 0.0:  # 301 if it stays there (see tick)
            out.append(Notice(f"EV entered {state} with no PWM offer"))
        self._starts.append(now)
        while self._starts and now - self._starts[0] > STARTS_WINDOW_S:
            self._starts.popleft()
        if len(self._starts) > self.thresholds.max_starts:
            out.append(RaiseFault(Condition.TOO_MANY_STARTS, retry=True))
        return out

    def meter(self, offered_a: float, currents_a: Sequence[float], now: float
              ) -> Sequence[Change]:
        """An AC meter reading: 302 when a phase current stays above what the offer
        allows (IEC 61851-1 tolerance) for ``overcurrent_time_s``; the power path goes
        safe first."""
        t = self.thresholds
        actual = max(currents_a, default=0.0)
        allowed = offered_a * (1.0 + t.overcurrent_pct / 100.0) + t.overcurrent_a
        if offered_a <= 0.0 or actual <= allowed:
            self._over_since = None
            return _NOTHING
        if self._over_since is None:
            self._over_since = now
            return (Notice(f"EV draws {actual:.1f} A, {allowed:.1f} A allowed"),)
        if now - self._over_since >= t.overcurrent_time_s:
            self._over_since = None
            return (RaiseFault(Condition.OVER_CURRENT,
                               MappingProxyType({"allowed_a": allowed, "actual_a": actual}),
                               safe_first="EV over current", retry=True),)
        return _NOTHING

    def status(self, has_transaction: bool) -> None:
        """The status is about to be reported: a transaction seen since the plug means
        the cable is not one without a session (304)."""
        if has_transaction:
            self._had_tx = True

    def unplugged(self) -> None:
        """The EV left (pilot A): the plug's counts start again."""
        self._plugged_since = None
        self._had_tx = False
        self._over_since = None
        self._starts.clear()

    def tick(self, now: float, state: PilotState | None, duty: float, has_transaction: bool
             ) -> list[Change]:
        """The timed checks at ``now``: 304 (plugged ``cable_without_session_s`` with no
        transaction), then 301 (the EV stays in C/D without a PWM offer past the grace
        time; also after a retry gave the PWM back and took it away again)."""
        out: list[Change] = []
        t = self.thresholds
        since = self._plugged_since
        if (since is not None and not self._had_tx and not has_transaction
                and now - since >= t.cable_without_session_s):
            out.append(RaiseFault(Condition.CABLE_WITHOUT_SESSION))
        if state not in CHARGING or 0.0 < duty < 100.0:
            self._no_pwm_since = None  # not in C, or a PWM is offered
        elif self._no_pwm_since is None:
            self._no_pwm_since = now
        elif now - self._no_pwm_since >= t.no_pwm_grace_s:
            self._no_pwm_since = None
            out.append(Notice(f"EV stays in {state} without a PWM offer"))
            out.append(RaiseFault(Condition.EV_COMM_UNKNOWN, retry=True))
        return out

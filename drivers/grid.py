"""Grid supervision from the energy meter's readings: voltage per phase, missing phase,
frequency. Pure functions on :class:`drivers.interfaces.MeterReading`, and a small
:class:`GridMonitor` that adds hysteresis and a confirmation count so one odd reading
neither raises nor clears anything.

Limits (the AC list; the values come from the fault catalogue's thresholds):
undervoltage below 210 V (202), overvoltage above 275 V (208), a missing phase when one
phase is below ``phase_missing_v`` while another is present (212, three-phase only), and
the frequency outside ``frequency_hz`` (a warning: no list has a code for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from drivers.interfaces import MeterReading

HYSTERESIS_V: Final = 5.0
HYSTERESIS_HZ: Final = 0.1


class GridIssue(StrEnum):
    UNDERVOLTAGE = "undervoltage"
    OVERVOLTAGE = "overvoltage"
    PHASE_MISSING = "phase_missing"
    FREQUENCY = "frequency"


@dataclass(frozen=True)
class GridLimits:
    undervoltage_v: float = 210.0
    overvoltage_v: float = 275.0
    phase_missing_v: float = 100.0
    frequency_hz: tuple[float, float] = (49.0, 51.0)

    @classmethod
    def from_thresholds(cls, thresholds: Mapping[str, float], **overrides: object
                        ) -> GridLimits:
        """Limits from the catalogue's ``[thresholds]`` (keys it lacks keep defaults)."""
        keys = ("undervoltage_v", "overvoltage_v", "phase_missing_v")
        values: dict[str, object] = {k: float(thresholds[k]) for k in keys if k in thresholds}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GridFinding:
    """An issue seen in one reading; ``phase`` 1-based where it concerns one phase, and
    the ``value`` that broke the limit (V or Hz)."""

    issue: GridIssue
    value: float
    phase: int | None = None


def check_reading(reading: MeterReading, phases: int, limits: GridLimits,
                  active: frozenset[GridIssue] = frozenset()) -> dict[GridIssue, GridFinding]:
    """Every issue in ``reading`` for a connector of ``phases`` (1 or 3).

    ``active`` are the issues already raised: for those the limit is moved by the
    hysteresis, so the issue ends only once the value is clearly back."""
    found: dict[GridIssue, GridFinding] = {}
    volts = list(reading.voltage_v[: max(1, phases)])
    if volts:
        missing = _missing_phase(volts, limits, GridIssue.PHASE_MISSING in active)
        present = [(n, v) for n, v in enumerate(volts, 1) if n != (missing or 0)]
        if missing is not None:
            found[GridIssue.PHASE_MISSING] = GridFinding(
                GridIssue.PHASE_MISSING, volts[missing - 1], missing
            )
        low = limits.undervoltage_v + (HYSTERESIS_V if GridIssue.UNDERVOLTAGE in active else 0)
        high = limits.overvoltage_v - (HYSTERESIS_V if GridIssue.OVERVOLTAGE in active else 0)
        # A missing phase is reported as such, not as undervoltage of that phase.
        under = [(n, v) for n, v in present if v < low and v >= limits.phase_missing_v]
        if under:
            n, v = min(under, key=lambda p: p[1])
            found[GridIssue.UNDERVOLTAGE] = GridFinding(GridIssue.UNDERVOLTAGE, v, n)
        over = [(n, v) for n, v in present if v > high]
        if over:
            n, v = max(over, key=lambda p: p[1])
            found[GridIssue.OVERVOLTAGE] = GridFinding(GridIssue.OVERVOLTAGE, v, n)
    hz = reading.frequency_hz
    if hz is not None:
        margin = HYSTERESIS_HZ if GridIssue.FREQUENCY in active else 0.0
        low_hz, high_hz = limits.frequency_hz
        if not low_hz + margin <= hz <= high_hz - margin:
            found[GridIssue.FREQUENCY] = GridFinding(GridIssue.FREQUENCY, hz)
    return found


def _missing_phase(volts: list[float], limits: GridLimits, active: bool) -> int | None:
    """The first phase that is (nearly) dead while another one is present, or None.

    All phases dead is a power cut, not a missing phase (nothing measures then anyway)."""
    if len(volts) < 2:
        return None
    dead_below = limits.phase_missing_v + (HYSTERESIS_V if active else 0.0)
    dead = [n for n, v in enumerate(volts, 1) if v < dead_below]
    alive = [v for v in volts if v >= limits.undervoltage_v]
    return dead[0] if dead and alive else None


@dataclass
class GridMonitor:
    """Issues of one meter, each confirmed by ``confirm`` readings in a row before it is
    raised and cleared by as many readings without it.

    :meth:`feed` returns (raised, cleared): findings that became active, and issues that
    ended with this reading."""

    phases: int
    limits: GridLimits = field(default_factory=GridLimits)
    confirm: int = 2
    active: dict[GridIssue, GridFinding] = field(default_factory=dict)
    _seen: dict[GridIssue, int] = field(default_factory=dict)
    _gone: dict[GridIssue, int] = field(default_factory=dict)

    def feed(self, reading: MeterReading) -> tuple[list[GridFinding], list[GridIssue]]:
        findings = check_reading(reading, self.phases, self.limits, frozenset(self.active))
        raised: list[GridFinding] = []
        cleared: list[GridIssue] = []
        for issue in GridIssue:
            finding = findings.get(issue)
            if finding is not None:
                self._gone.pop(issue, None)
                if issue in self.active:
                    self.active[issue] = finding  # keep the latest value
                    continue
                self._seen[issue] = self._seen.get(issue, 0) + 1
                if self._seen[issue] >= self.confirm:
                    self._seen.pop(issue)
                    self.active[issue] = finding
                    raised.append(finding)
            else:
                self._seen.pop(issue, None)
                if issue not in self.active:
                    continue
                self._gone[issue] = self._gone.get(issue, 0) + 1
                if self._gone[issue] >= self.confirm:
                    self._gone.pop(issue)
                    del self.active[issue]
                    cleared.append(issue)
        return raised, cleared

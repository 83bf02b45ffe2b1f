"""A simulated AC EV: what it shows on the control pilot and what it draws.

Pure physics: no I/O, no asyncio. :class:`hal_sim.world.World` feeds it the pilot duty
cycle, whether the contactor is physically closed and the time, and writes the results
(pilot voltages, meter registers) to the simulated wires.

Pilot circuit (IEC 61851-1 Annex A): the EVSE drives ±12 V through 1 kΩ; the EV loads
the positive half through a diode (forward drop ~0.7 V) with 2.74 kΩ in state B,
2.74 kΩ ∥ 1.3 kΩ in C and ∥ 270 Ω more in D. The diode blocks the negative half, so the low
level stays at −12 V whenever PWM runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

SOURCE_V = 12.0
SOURCE_OHM = 1000.0
DIODE_V = 0.7
R_B = 2740.0
R_C = 1300.0
R_D = 270.0

REACTION_S = 0.3  # EV reaction to a PWM offer (B → C) or its withdrawal (C → B)
RAMP_A_PER_S = 40.0  # how fast the EV changes its current draw (full 32 A within 1 s)


def parallel(*ohms: float) -> float:
    return 1.0 / sum(1.0 / r for r in ohms)


EV_OHM = {"B": R_B, "C": parallel(R_B, R_C), "D": parallel(R_B, R_C, R_D)}


def pilot_levels(duty: float, ev_ohm: float | None) -> tuple[float, float]:
    """The (high, low) CP levels for a commanded duty and the EV's load (None: no EV).

    duty 0 is constant −12 V (state F); duty 100 is constant +12 V with no PWM, so the low
    level equals the high level; anything between runs PWM and the diode keeps the low
    level at −12 V.
    """
    if duty <= 0.0:
        return -SOURCE_V, -SOURCE_V
    high = SOURCE_V
    if ev_ohm is not None:
        high = SOURCE_V - SOURCE_OHM * (SOURCE_V - DIODE_V) / (SOURCE_OHM + ev_ohm)
    if duty >= 100.0:
        return high, high
    return high, -SOURCE_V


def offered_current(duty: float) -> float | None:
    """The current a PWM duty cycle offers (IEC 61851-1 Table A.7), None outside 8–97 %."""
    if 8.0 <= duty < 10.0:
        return 6.0
    if 10.0 <= duty <= 85.0:
        return duty * 0.6
    if 85.0 < duty <= 96.0:
        return (duty - 64.0) * 2.5
    if 96.0 < duty <= 97.0:
        return 80.0
    return None


def cable_pp_ohm(ampacity_a: float) -> float:
    """The nominal PP resistor of a Type 2 cable rated for ``ampacity_a``."""
    if ampacity_a <= 13:
        return 1500.0
    if ampacity_a <= 20:
        return 680.0
    if ampacity_a <= 32:
        return 220.0
    return 100.0


@dataclass(frozen=True)
class AcEvParams:
    """The plug request's AC EV fields (sim-api.md), plus two extensions."""

    max_current_a: float = 32.0
    phases: int = 3
    battery_kwh: float = 60.0
    soc: float = 20.0
    target_soc: float = 100.0
    cable_a: float = 32.0  # the cable's rating, which sets its PP resistor
    ventilation: bool = False  # the EV asks for state D instead of C

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "max_current_a": (0.0, 80.0),
        "phases": (1, 3),
        "battery_kwh": (1.0, 300.0),
        "soc": (0.0, 100.0),
        "target_soc": (0.0, 100.0),
        "cable_a": (6.0, 80.0),
    }


class AcEv:
    """One plugged-in AC EV. ``state`` is what it presents on the pilot: B, C or D."""

    def __init__(self, params: AcEvParams, now: float) -> None:
        self.params = params
        self.soc = params.soc
        self.state = "B"
        self.paused = False
        self.current_a = 0.0  # drawn per used phase
        self.energy_wh = 0.0  # taken in this plug-in
        self._duty = 100.0
        self._due: float | None = None  # when the pending B ↔ C change happens
        self._plugged_at = now
        self.overdraw_a = 0.0  # a faulty EV draws this much more than offered (fault 302)
        self.ignore_pwm = False  # a faulty EV enters C with no PWM offer (fault 301)

    @property
    def duty(self) -> float:
        """The PWM duty the EV last saw."""
        return self._duty

    @property
    def pp_ohm(self) -> float:
        return cable_pp_ohm(self.params.cable_a)

    @property
    def ev_ohm(self) -> float:
        return EV_OHM[self.state]

    @property
    def full(self) -> bool:
        return self.soc >= self.params.target_soc

    @property
    def wants_energy(self) -> bool:
        return not self.paused and not self.full

    def _charging_state(self) -> str:
        return "D" if self.params.ventilation else "C"

    def _desired_state(self) -> str:
        offer = offered_current(self._duty)
        if self.ignore_pwm and self.wants_energy:
            return self._charging_state()
        return self._charging_state() if offer is not None and self.wants_energy else "B"

    def set_duty(self, duty: float, now: float) -> bool:
        """The EVSE changed the PWM. Returns True when the pilot load changed at once."""
        self._duty = duty
        return self._reschedule(now)

    def pause(self, now: float) -> bool:
        """The EV suspends charging: back to B at once (it stops drawing first)."""
        self.paused = True
        return self._reschedule(now, immediate=True)

    def resume(self, now: float) -> bool:
        self.paused = False
        return self._reschedule(now)

    def _reschedule(self, now: float, immediate: bool = False) -> bool:
        desired = self._desired_state()
        if desired == self.state:
            self._due = None
            return False
        if immediate or (desired == "B" and not self.wants_energy):
            self._enter(desired)
            return True
        if self._due is None:
            self._due = now + REACTION_S
        return False

    def _enter(self, state: str) -> None:
        self.state = state
        self._due = None
        if state == "B":
            self.current_a = 0.0  # an EV stops drawing before it leaves C

    def step(self, now: float, dt: float, powered: bool, volts: float, phases: int) -> bool:
        """Advance ``dt`` seconds. ``powered``: contactor closed and supply present;
        ``phases`` how many phases reach the EV. Returns True when the pilot load changed."""
        changed = False
        if self._due is not None and now >= self._due:
            desired = self._desired_state()
            changed = desired != self.state
            self._enter(desired)
        offer = offered_current(self._duty) or 0.0
        if self.state in ("C", "D") and powered:
            target = min(offer, self.params.max_current_a) + self.overdraw_a
            step = RAMP_A_PER_S * dt
            self.current_a += max(-step, min(step, target - self.current_a))
        else:
            self.current_a = 0.0
        if self.current_a > 0.0:
            wh = self.current_a * volts * phases * dt / 3600.0
            self.energy_wh += wh
            self.soc = min(100.0, self.soc + wh / (self.params.battery_kwh * 10.0))
            if self.full:
                # Target reached: the EV stops drawing and goes to B (SuspendedEV).
                self._enter("B")
                changed = True
        return changed

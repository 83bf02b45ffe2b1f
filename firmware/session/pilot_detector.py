"""IEC 61851-1 control pilot (CP) and proximity pilot (PP): pure detection and conversion.

No I/O and no clock: the connector glue feeds :class:`drivers.interfaces.PilotSample`
readings to a :class:`PilotDetector` and hands the stable states it reports to the session
(``firmware.session.ac_session``) as ``PilotChanged`` events.

Public API
    ``PilotState``                     A..F and ERROR (values "A".."F", "ERROR")
    ``classify(high, low, pwm_on)``    one sample -> state, or None in a grey zone
    ``PilotDetector(confirm_samples)`` debouncing: ``feed(sample, pwm_on)`` -> new state
    ``read_pp(ohm, phases)``           PP resistor -> :class:`PpReading`
    ``pp_ampacity(ohm, phases)``       the same as a number (None = invalid cable)
    ``duty_for_current(amps)``         current offered -> PWM duty (percent)
    ``current_for_duty(duty)``         PWM duty -> current the EV may draw (EV side)

Interval ends (volts, high level of the CP signal). Every range of the table in
``/work/shared/reference/hardware.md`` is taken as closed; where a window and a grey zone
share an end the window wins, and where two windows touch (2 V, D and E) the lower,
more severe state wins:

    A      [11, 13]          grey (10, 11)
    B      [8, 10]           grey (7, 8)
    C      [5, 7]            grey (4, 5)
    D      (2, 4]
    E      [-1, 2]
    F      [-13, -11]        grey (-11, -10]
    ERROR  everything else: > 13, (-10, -1), < -13, and the diode fault below.

Diode fault (only while PWM runs): the high level is above 2 V (an EV load is seen) and
the low level is not about -12 V, i.e. ``|high + low| <= 1.2`` while ``low > -11``. The
second condition keeps state A (+12/-12 V with PWM, no EV) from counting as a missing
diode: the low level is about -12 V exactly when it lies in the F window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from drivers.interfaces import PilotSample

DIGITAL_COMMUNICATION_DUTY: Final = 5.0
"""5 % duty: digital communication required (ISO 15118 / DIN 70121, always for DC)."""

MIN_CURRENT_A: Final = 6.0
"""The lowest current a PWM may offer; below it the EVSE pauses (no PWM)."""

MAX_CURRENT_A: Final = 80.0
"""The highest current a PWM can express (96 % duty)."""

_DIODE_SUM_V: Final = 1.2
_LOW_ABOUT_MINUS_12_V: Final = -11.0


class PilotState(StrEnum):
    """IEC 61851-1 states as seen on the CP high level, plus ERROR for a pilot fault."""

    A = "A"  # no EV
    B = "B"  # EV connected, not ready
    C = "C"  # EV ready, charging
    D = "D"  # EV ready, ventilation required
    E = "E"  # CP shorted to PE / EVSE without power
    F = "F"  # EVSE error: CP held at -12 V
    ERROR = "ERROR"  # out of every window, above 13 V, or diode fault


def classify(cp_high_v: float, cp_low_v: float, pwm_on: bool) -> PilotState | None:
    """Classify one sample; ``None`` means a grey zone (keep the previous state).

    ``pwm_on`` enables the diode check; without PWM the low level carries no information.
    """
    state = _window(cp_high_v)
    if state is None or state is PilotState.ERROR:
        return state
    if (
        pwm_on
        and cp_high_v > 2.0
        and abs(cp_high_v + cp_low_v) <= _DIODE_SUM_V
        and cp_low_v > _LOW_ABOUT_MINUS_12_V
    ):
        return PilotState.ERROR
    return state


def _window(v: float) -> PilotState | None:
    """The state window or grey zone of a high level (see the module docstring)."""
    if v > 13.0:
        return PilotState.ERROR
    if v >= 11.0:
        return PilotState.A
    if v > 10.0:
        return None
    if v >= 8.0:
        return PilotState.B
    if v > 7.0:
        return None
    if v >= 5.0:
        return PilotState.C
    if v > 4.0:
        return None
    if v > 2.0:
        return PilotState.D
    if v >= -1.0:
        return PilotState.E
    if v > -10.0:
        return PilotState.ERROR
    if v > -11.0:
        return None
    if v >= -13.0:
        return PilotState.F
    return PilotState.ERROR


class PilotDetector:
    """Debounces classified samples into stable pilot states.

    A new state becomes stable after ``confirm_samples`` consecutive samples agree on it.
    Grey-zone samples neither confirm nor break a run, and a sample of the current stable
    state breaks it. With 2 samples at 5 ms sampling a state is seen after ~10 ms, so the
    200 ms ISO 15118-3 wake-up (B-C-B) is kept while a single glitch is dropped.
    """

    def __init__(self, confirm_samples: int = 2) -> None:
        if confirm_samples < 1:
            raise ValueError("confirm_samples must be at least 1")
        self.confirm_samples = confirm_samples
        self._state: PilotState | None = None
        self._candidate: PilotState | None = None
        self._count = 0
        self.last_out_of_range: tuple[float, float] | None = None
        """(high, low) levels of the sample that confirmed the last ERROR/E/F state, for
        the info text of fault 406 ("CP value out of range actual: -9.8V / -12V")."""

    @property
    def state(self) -> PilotState | None:
        """The stable state; ``None`` until the first state is confirmed."""
        return self._state

    def feed(self, sample: PilotSample, pwm_on: bool) -> PilotState | None:
        """Take one sample; return the new stable state when it changes, else ``None``."""
        raw = classify(sample.cp_high_v, sample.cp_low_v, pwm_on)
        if raw is None:
            return None
        if raw == self._state:
            self._candidate = None
            self._count = 0
            return None
        if raw == self._candidate:
            self._count += 1
        else:
            self._candidate = raw
            self._count = 1
        if self._count < self.confirm_samples:
            return None
        self._state = raw
        self._candidate = None
        self._count = 0
        if raw in (PilotState.ERROR, PilotState.E, PilotState.F):
            self.last_out_of_range = (sample.cp_high_v, sample.cp_low_v)
        return raw

    def reset(self) -> None:
        """Forget everything (e.g. after the pilot driver restarted)."""
        self._state = None
        self._candidate = None
        self._count = 0


# --------------------------------------------------------------------------- proximity pilot


@dataclass(frozen=True, slots=True)
class PpReading:
    """What the PP resistor says about the cable in a socket outlet.

    ``cable`` False: nothing plugged (``ampacity_a`` 0.0, ``valid`` True).
    ``valid`` False: a resistor outside every band (Alfen fault 405), ``ampacity_a`` None.
    """

    cable: bool
    ampacity_a: float | None
    valid: bool


PP_MIN_OHM: Final = 60.0
PP_MAX_OHM: Final = 4500.0

# (lowest ohm of the band, ampacity); the band's upper end does not matter because a
# value between two bands maps to the lower ampacity, i.e. to the band below it.
_PP_BANDS: Final[tuple[tuple[float, float], ...]] = (
    (1100.0, 13.0),
    (400.0, 20.0),
    (164.0, 32.0),
)


def read_pp(ohm: float | None, phases: int = 3) -> PpReading:
    """Cable ampacity from the PP-PE resistance.

    Bands: 1100-2460 ohm 13 A, 400-936 ohm 20 A, 164-308 ohm 32 A, 80-140 ohm 63 A
    (70 A with ``phases`` 1). Between bands: the lower ampacity; above the 13 A band up to
    4500 ohm: 13 A. 60-80 ohm (below the 63 A band, no band lower) maps to that band.
    Below 60 or above 4500 ohm: invalid. ``None`` or ``math.inf`` (open PP): no cable;
    drivers report an open PP as ``math.inf``. Bounds 60 and 4500 are valid.
    """
    if ohm is None or math.isinf(ohm):
        return PpReading(cable=False, ampacity_a=0.0, valid=True)
    if math.isnan(ohm) or ohm < PP_MIN_OHM or ohm > PP_MAX_OHM:
        return PpReading(cable=True, ampacity_a=None, valid=False)
    for low, amps in _PP_BANDS:
        if ohm >= low:
            return PpReading(cable=True, ampacity_a=amps, valid=True)
    if ohm > 140.0:  # between the 32 A and the 63 A band
        return PpReading(cable=True, ampacity_a=32.0, valid=True)
    return PpReading(cable=True, ampacity_a=70.0 if phases == 1 else 63.0, valid=True)


def pp_ampacity(ohm: float | None, phases: int = 3) -> float | None:
    """:func:`read_pp` as a number: amps, 0.0 for no cable, ``None`` for an invalid one."""
    return read_pp(ohm, phases).ampacity_a


# --------------------------------------------------------------------------- duty cycle


def duty_for_current(amps: float) -> float:
    """PWM duty (percent) that offers ``amps``: 6-51 A -> A / 0.6, 51-80 A -> A / 2.5 + 64.

    The two formulas do not meet: 51-52.5 A would give 84.4-85 %, which an EV reads
    with the first one (at most 51 A), so that gap offers 85 % (51 A), never more than
    allowed. Above 80 A the offer is clamped to 80 A (96 %). Below 6 A no PWM may be
    offered: ``ValueError`` (the session pauses with +12 V instead).
    """
    if math.isnan(amps) or amps < MIN_CURRENT_A:
        raise ValueError(f"cannot offer {amps} A by PWM (minimum {MIN_CURRENT_A} A)")
    amps = min(amps, MAX_CURRENT_A)
    if amps <= 51.0:
        return amps / 0.6
    if amps <= 52.5:
        return 85.0
    return amps / 2.5 + 64.0


def current_for_duty(duty: float) -> float:
    """The current an EV may draw at ``duty`` percent (IEC 61851-1 Table A.8).

    0.0 where the duty allows no charging: below 8 % (3-7 % is digital communication)
    and above 97 %. 8-10 % -> 6 A, 10-85 % -> duty x 0.6, 85-96 % -> (duty - 64) x 2.5,
    96-97 % -> 80 A.
    """
    if duty < 8.0 or duty > 97.0:
        return 0.0
    if duty < 10.0:
        return MIN_CURRENT_A
    if duty <= 85.0:
        return duty * 0.6
    if duty <= 96.0:
        return (duty - 64.0) * 2.5
    return MAX_CURRENT_A

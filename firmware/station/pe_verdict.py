"""The protective-earth verdict of the station monitor (AC list 201), kept apart from the
monitor's I/O so the rule is in one place.

201 is "PE not connected *or unstable*": a reading above the limit (the catalogue's
``pe_resistance_max_ohm``, default 100 Ohm: the AC list's recommended earthing resistance)
or an open PE raises it at once; it clears only after ``clear_after`` good readings in a
row, so a PE that crosses the limit back and forth stays raised. A reading that could not
be taken (silent or broken monitor) is neither good nor bad: it raises nothing, clears
nothing, and breaks a run of good readings.
"""

from __future__ import annotations

import math
from enum import Enum

PE_CLEAR_READINGS = 3  # good readings in a row before 201 clears


class PeVerdict(Enum):
    """What one reading means for 201."""

    BAD = "bad"  # above the limit or open: raise (or keep raised)
    GOOD = "good"  # within the limit, but not yet long enough to clear
    CLEAR = "clear"  # good for clear_after readings in a row: the condition ended


class PeSupervision:
    """Turns PE monitor readings into :class:`PeVerdict` values (pure, no I/O)."""

    def __init__(self, max_ohm: float, clear_after: int = PE_CLEAR_READINGS) -> None:
        if clear_after < 1:
            raise ValueError("clear_after must be at least 1")
        self.max_ohm = max_ohm
        self.clear_after = clear_after
        self.ohm: float | None = None  # the last reading (None: none, or unreadable)
        self._good_run = 0

    def feed(self, ohm: float) -> PeVerdict:
        """One reading in Ohm (``math.inf``: PE open)."""
        self.ohm = ohm
        if math.isnan(ohm) or ohm > self.max_ohm:
            self._good_run = 0
            return PeVerdict.BAD
        self._good_run += 1
        return PeVerdict.CLEAR if self._good_run >= self.clear_after else PeVerdict.GOOD

    def unreadable(self) -> None:
        """The monitor could not be read: the reading is unknown, the good run ends."""
        self.ohm = None
        self._good_run = 0

    def shown(self) -> float | str | None:
        """The last reading, JSON-ready: Ohm rounded to 0.1, ``"open"``, or None."""
        if self.ohm is None:
            return None
        return "open" if math.isinf(self.ohm) else round(self.ohm, 1)

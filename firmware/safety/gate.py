"""The safety supervisor: one gate for closing contactors, one path to the safe state.

Hard trips (RCD, IMD relay, over-voltage) are wired in hardware; this module is the
software layer above them and must still act well inside the IEC 61851 budgets:

* :meth:`Safety.close` is the only way a contactor closes. It evaluates every interlock
  of the connector and of the station at that instant and refuses (returning the failing
  ones) if any does not hold. The session state machine's wish is necessary, not
  sufficient.
* :meth:`Safety.make_safe` is the one path every fault takes. It is synchronous and
  idempotent: power stacks off command, contactor open, pilot to state F — all before it
  returns — and only then are the reporting callbacks run. Nothing in it awaits, so no
  other task can run between a fault and the power path being safe.

Interlocks are plain callables returning ``None`` when they hold or a short reason when
they do not; they read cached driver state and never do I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.interfaces import Contactor, ControlPilot, PowerStack
from firmware.errors import FirmwareError

log = logging.getLogger(__name__)

Interlock = Callable[[], str | None]
"""Returns None when the interlock holds, else why it does not (e.g. "RCD tripped")."""


def follow_input(subscribe: Callable[[Callable[[bool], None]], None], active: bool,
                 on_change: Callable[[bool], None]) -> None:
    """Hear a trip input's changes (RCD, IMD alarm, doors, stop button) and act on its
    level now: an input already active when the station starts (a Reset, a power cycle
    with the RCD still tripped) gives no edge, so it would hold its interlock unreported."""
    subscribe(on_change)
    if active:
        on_change(True)


@dataclass
class _Guarded:
    contactor: Contactor
    pilot: ControlPilot | None
    stack: PowerStack | None
    interlocks: dict[str, Interlock] = field(default_factory=dict)
    safe_listeners: list[Callable[[str], None]] = field(default_factory=list)


class InterlockOpen(FirmwareError):
    """A contactor close was refused: ``failing`` lists (interlock, reason)."""

    def __init__(self, connector_id: int, failing: list[tuple[str, str]]) -> None:
        self.connector_id = connector_id
        self.failing = failing
        text = ", ".join(f"{name}: {why}" for name, why in failing)
        super().__init__(f"connector {connector_id}: interlock open ({text})")


class Safety:
    """Owns every contactor of the station for closing and for the safe state."""

    def __init__(self) -> None:
        self._connectors: dict[int, _Guarded] = {}
        self._station_interlocks: dict[str, Interlock] = {}

    # ------------------------------------------------------------------ registration
    def attach(
        self,
        connector_id: int,
        contactor: Contactor,
        pilot: ControlPilot | None = None,
        stack: PowerStack | None = None,
    ) -> None:
        """Put a connector's power path under the supervisor."""
        self._connectors[connector_id] = _Guarded(contactor, pilot, stack)

    def add_interlock(self, connector_id: int, name: str, check: Interlock) -> None:
        """An interlock of one connector (pilot state, lock, RCD, IMD, feedback)."""
        self._connectors[connector_id].interlocks[name] = check

    def add_station_interlock(self, name: str, check: Interlock) -> None:
        """An interlock of the whole station (doors, stop button, station faults)."""
        self._station_interlocks[name] = check

    def on_made_safe(self, connector_id: int, listener: Callable[[str], None]) -> None:
        """Called (after the power path is safe) with the reason, for reporting."""
        self._connectors[connector_id].safe_listeners.append(listener)

    # ------------------------------------------------------------------ the gate
    def failing(self, connector_id: int) -> list[tuple[str, str]]:
        """Every interlock that does not hold right now, as (name, reason)."""
        guarded = self._connectors[connector_id]
        result: list[tuple[str, str]] = []
        for checks in (self._station_interlocks, guarded.interlocks):
            for name, check in checks.items():
                why = check()
                if why is not None:
                    result.append((name, why))
        return result

    def close(self, connector_id: int) -> None:
        """Close the contactor if, and only if, every interlock holds.

        Raises :class:`InterlockOpen` (and leaves the contactor open) otherwise."""
        failing = self.failing(connector_id)
        if failing:
            raise InterlockOpen(connector_id, failing)
        self._connectors[connector_id].contactor.close()

    def open(self, connector_id: int) -> None:
        """Open a contactor in normal operation (the session ended or paused)."""
        self._connectors[connector_id].contactor.open()

    # ------------------------------------------------------------------ the safe state
    def make_safe(self, connector_id: int, reason: str, pilot_f: bool = True) -> None:
        """Make one connector's power path safe now, then tell the listeners.

        Order matters: the stacks get their off command first (no current to break),
        the contactor opens, the pilot goes to state F. All synchronous."""
        guarded = self._connectors[connector_id]
        if guarded.stack is not None:
            try:
                guarded.stack.emergency_off()
            except Exception:  # the contactor must open whatever the stack does
                log.exception("connector %d: stack off failed in safe path", connector_id)
        guarded.contactor.open()
        if pilot_f and guarded.pilot is not None:
            try:
                guarded.pilot.set_duty(0.0)
            except Exception:
                log.exception("connector %d: pilot to F failed in safe path", connector_id)
        log.warning("connector %d: made safe: %s", connector_id, reason)
        for listener in guarded.safe_listeners:
            try:
                listener(reason)
            except Exception:
                log.exception("connector %d: safe-state listener failed", connector_id)

    def make_all_safe(self, reason: str) -> None:
        """A station-wide fault (door, stop button, tilt): every connector, now."""
        for connector_id in self._connectors:
            self.make_safe(connector_id, reason)

"""The active faults of one connector (or of the station, connector 0).

Detection code names a :class:`~firmware.safety.fault_catalogue.Condition`; the book
looks up the code the
connector reports (the AC list's on AC connectors, the DC list's on DC connectors), fills
in the informational text, and keeps the fault until its documented recovery allows it to
go: ``auto`` and ``retry`` clear when the condition ends, ``replug`` when the EV is
unplugged, ``local_reset`` / ``csms_reset`` only with a reset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from firmware.ports import StatusReport
from firmware.safety.fault_catalogue import Catalogue, Condition, Effect, FaultDef, Recovery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaultState:
    """A fault as the status API shows it (JSON-ready)."""

    code: str  # vendor error code as the source documents spell it ("406", "18")
    error_code: str  # OCPP 1.6 ChargePointErrorCode
    info: str = ""
    since: str = ""  # ISO 8601


@dataclass
class ActiveFault:
    condition: Condition
    fault: FaultDef
    info: str
    since: datetime
    condition_gone: bool = False  # the condition ended but the recovery needs more

    @property
    def blocking(self) -> bool:
        return self.fault.blocks

    def state(self) -> FaultState:
        return FaultState(self.fault.code, self.fault.ocpp16, self.info, self.since.isoformat())


class FaultBook:
    """Active faults of one connector, keyed by condition."""

    def __init__(
        self,
        catalogue: Catalogue,
        connector_id: int,
        dc: bool,
        now: Callable[[], datetime],
        language: str = "en",
    ) -> None:
        self._catalogue = catalogue
        self._connector_id = connector_id
        self._dc = dc
        self._now = now
        self.language = language
        self._active: dict[Condition, ActiveFault] = {}
        # Called with (connector_id, fault, "raised" | "cleared"): the event log.
        self.listeners: list[Callable[[int, ActiveFault, str], None]] = []
        # StatusNotification.vendorId sent with a vendorErrorCode (the station's vendor).
        self.vendor_id: str | None = None

    def definition(self, condition: Condition) -> FaultDef:
        return self._catalogue.for_condition(condition, dc=self._dc)

    def raise_(self, condition: Condition, **values: object) -> ActiveFault | None:
        """Record a fault; returns it when it is new (or back after its condition ended)."""
        current = self._active.get(condition)
        if current is not None and not current.condition_gone:
            return None
        fault = self.definition(condition)
        active = ActiveFault(condition, fault, fault.format_info(**values), self._now())
        self._active[condition] = active
        log.warning(
            "connector %d: fault %s (%s) raised: %s",
            self._connector_id, fault.code, fault.ocpp16, active.info,
        )
        self._tell(active, "raised")
        return active

    def condition_ended(self, condition: Condition) -> ActiveFault | None:
        """The condition is gone; returns the fault if that clears it."""
        current = self._active.get(condition)
        if current is None:
            return None
        if current.fault.recovery in (Recovery.AUTO, Recovery.RETRY):
            return self._drop(condition)
        current.condition_gone = True
        return None

    def unplugged(
        self, still: Callable[[Condition], bool] = lambda _condition: False
    ) -> list[ActiveFault]:
        """The EV left: faults that clear on replug go, except those whose condition
        ``still`` holds (read from an input that is still active)."""
        gone = [
            c
            for c, f in self._active.items()
            if f.fault.recovery == Recovery.REPLUG and not still(c)
        ]
        return [self._drop(c) for c in gone]

    def reset(self) -> list[ActiveFault]:
        """A local or CSMS reset: every fault whose condition has ended goes."""
        gone = [c for c, f in self._active.items() if f.condition_gone]
        return [self._drop(c) for c in gone]

    def _drop(self, condition: Condition) -> ActiveFault:
        fault = self._active.pop(condition)
        log.info("connector %d: fault %s cleared", self._connector_id, fault.fault.code)
        self._tell(fault, "cleared")
        return fault

    def _tell(self, fault: ActiveFault, event: str) -> None:
        for listener in self.listeners:
            try:
                listener(self._connector_id, fault, event)
            except Exception:  # the log must never stop a fault from being handled
                log.exception("connector %d: fault listener failed", self._connector_id)

    def is_active(self, condition: Condition) -> bool:
        return condition in self._active

    def holds(self, condition: Condition) -> bool:
        """Active with its condition still present (raising it again changes nothing)."""
        current = self._active.get(condition)
        return current is not None and not current.condition_gone

    @property
    def active(self) -> list[ActiveFault]:
        return list(self._active.values())

    def blocking(self) -> list[ActiveFault]:
        return [f for f in self._active.values() if f.blocking]

    def worst(self) -> ActiveFault | None:
        """The fault to report: blocking before the rest, the newest of each kind."""
        reported = [
            f for f in self._active.values() if f.fault.effect != Effect.DISPLAY_ONLY
        ]
        if not reported:
            return None
        return max(reported, key=lambda f: (f.blocking, f.since))

    def report(self, status: str) -> StatusReport:
        """The StatusNotification content for ``status`` with the worst active fault."""
        worst = self.worst()
        if worst is None:
            if self._dc:
                return replace(self._catalogue.no_error.report(status), vendor_id=self.vendor_id)
            return StatusReport(status)
        return StatusReport(
            status=status,
            error_code=worst.fault.ocpp16,
            info=worst.info or None,
            vendor_error_code=worst.fault.vendor_error_code,
            vendor_id=self.vendor_id if worst.fault.vendor_error_code else None,
        )

    def display(self) -> str:
        """The display text of the worst fault shown on the display, in the language."""
        shown = [f for f in self._active.values() if f.fault.display_shown]
        if not shown:
            return ""
        worst = max(shown, key=lambda f: (f.blocking, f.since))
        return worst.fault.display_text(self.language)

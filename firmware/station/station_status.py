"""Connector 0: the status of the station as a whole, and when to report it.

The station is Unavailable when every connector is, Faulted while a blocking station
fault lasts (its fault book is connector 0's), Available otherwise; a change goes to the
central system at once (the link applies MinimumStatusDuration).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from firmware.ports import StatusReport, TransactionLink
from firmware.safety.fault_book import FaultBook
from firmware.session.base import Session
from firmware.session.events import ChargePointStatus

log = logging.getLogger(__name__)


class StatusConnector(Protocol):
    """What connector 0's status needs of a connector."""

    @property
    def session(self) -> Session: ...


class StationStatus:
    """Connector 0's status from the connectors and the station's fault book."""

    def __init__(
        self,
        connectors: Mapping[int, StatusConnector],
        faults: FaultBook,
        link: TransactionLink,
    ) -> None:
        self._connectors = connectors
        self._faults = faults
        self._link = link
        self._reported: StatusReport | None = None

    def current(self) -> StatusReport:
        """Connector 0's status now."""
        if all(c.session.status == ChargePointStatus.UNAVAILABLE
               for c in self._connectors.values()):
            status = "Unavailable"
        else:
            status = "Available"
        if self._faults.blocking():
            status = "Faulted"
        return self._faults.report(status)

    def report(self) -> None:
        """Tell the central system when connector 0 changed since the last report."""
        report = self.current()
        if report != self._reported:
            self._reported = report
            log.info("station status %s", report.status)
            self._link.notify_status(0, report)

"""The persistent fault event log: every raise and clear of every connector's faults (and
connector 0's), in the station's store, for the web interface (``GET /api/events``).

``EventLog(store, clock.now).attach(book)`` makes a
:class:`~firmware.safety.fault_book.FaultBook` record
into it. A write that fails is logged and dropped: the log must never stop the firmware
from handling a fault.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from firmware.safety.fault_book import ActiveFault, FaultBook
from firmware.storage.store import Store

log = logging.getLogger(__name__)


class EventLog:
    """Fault raises and clears, persisted in a :class:`Store`."""

    def __init__(self, store: Store, now: Callable[[], datetime], keep: int = 10_000) -> None:
        self.store = store
        self.now = now
        self.keep = keep

    def attach(self, book: FaultBook) -> None:
        """Record every raise and clear of ``book``."""
        book.listeners.append(self.record)

    def record(self, connector_id: int, fault: ActiveFault, event: str) -> None:
        """One event: ``event`` is "raised" or "cleared"."""
        try:
            self.store.event_add(
                fault.since if event == "raised" else self.now(),
                connector_id, fault.fault.code, fault.fault.ocpp16, fault.info, event,
                keep=self.keep,
            )
        except sqlite3.Error as exc:
            log.error("connector %d: fault %s %s not logged: %s", connector_id,
                      fault.fault.code, event, exc)

    def events(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest ``limit`` events, newest first, JSON-ready."""
        return self.store.events(limit)

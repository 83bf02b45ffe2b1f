"""What a connector needs from outside it: the central-system link it starts and stops
transactions through, and a counter that survives restarts. The station hands both in
(``firmware.station.operations.ConnectorLink``, ``firmware.storage.counter.StoredCounter``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from firmware.ports import StatusReport, TxHandle


class TransactionPort(Protocol):
    """The central-system link as a connector uses it (the station's ``ConnectorLink``:
    it adds the reservation a transaction uses and the idTag that stopped it)."""

    def notify_status(self, connector_id: int, report: StatusReport) -> None:
        """A status changed (the link applies MinimumStatusDuration)."""

    def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start_wh: float,
        timestamp: datetime,
        *,
        remote: bool,
        reservation_used: bool,
    ) -> TxHandle:
        """Record a started transaction and deliver StartTransaction (persistent)."""

    def stop_transaction(
        self,
        handle: TxHandle,
        meter_stop_wh: float,
        timestamp: datetime,
        reason: str,
        id_tag: str | None = None,
    ) -> None:
        """Record a stopped transaction and deliver StopTransaction (persistent)."""


class Counter(Protocol):
    """A count that survives restarts (the plug cycles of DC manual 4.2.2)."""

    @property
    def value(self) -> int: ...

    def increment(self) -> int:
        """Add one; returns the new value."""


class MemoryCounter:
    """Plug cycles counted in memory only (a connector built without a store)."""

    def __init__(self) -> None:
        self._value = 0

    @property
    def value(self) -> int:
        return self._value

    def increment(self) -> int:
        self._value += 1
        return self._value

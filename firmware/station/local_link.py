"""The central-system link of a station that has none (``--no-csms``)."""

from __future__ import annotations

import logging
from datetime import datetime

from firmware.clock import Clock
from firmware.log_context import redact_id_tag
from firmware.ports import IdTagInfo, StationPort, StatusReport, TxHandle

log = logging.getLogger(__name__)


class LocalLink:
    """The link of a station without a central system (``--no-csms``): transactions get
    local ids and are logged; nothing is sent. The complete
    :class:`~firmware.ports.CentralSystemLink`, always offline."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._next = 1

    @property
    def online(self) -> bool:
        return False

    @property
    def url(self) -> str | None:
        return None

    def notify_status(self, connector_id: int, report: StatusReport) -> None:
        pass

    async def authorize(self, id_tag: str) -> IdTagInfo | None:
        return None

    def start_transaction(self, connector_id: int, id_tag: str, meter_start_wh: float,
                          timestamp: datetime, reservation_id: int | None = None,
                          remote: bool = False) -> TxHandle:
        handle = TxHandle(self._next, connector_id, id_tag, meter_start_wh, timestamp,
                          transaction_id=self._next, remote=remote)
        self._next += 1
        log.info("connector %d: local transaction %d for %s", connector_id,
                 handle.local_id, redact_id_tag(id_tag))
        return handle

    def stop_transaction(self, handle: TxHandle, meter_stop_wh: float, timestamp: datetime,
                         reason: str, id_tag: str | None = None) -> None:
        log.info("connector %d: local transaction %d stopped (%s), %.0f Wh",
                 handle.connector_id, handle.local_id, reason,
                 meter_stop_wh - handle.meter_start_wh)

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> tuple[str, str | None] | None:
        return None  # nobody to send it to: as offline

    async def run(self, station: StationPort) -> None:
        """Nothing to connect to: returns at once."""

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Nothing to close."""

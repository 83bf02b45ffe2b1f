"""StatusNotification: the current status after connecting, and every change while online.

Status is never queued (OCPP 1.6 §4.9): while offline only the latest report per
connector is kept, and the session sends the current status of every connector after the
boot. A change waits ``MinimumStatusDuration`` seconds (0: none) and goes out only if it is
still the connector's latest by then and differs from what was sent last, so a short-lived
status (Preparing for a moment) never reaches the central system.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime

from firmware.clock import Clock
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.rpc import CallFailed, InvalidMessage, JsonObject, Rpc, format_time
from firmware.ports import StatusReport

logger = logging.getLogger(__name__)

_MESSAGE_ERRORS = (CallFailed, InvalidMessage, TimeoutError)


def status_payload(connector_id: int, report: StatusReport, t: datetime) -> JsonObject:
    """StatusNotification.req of a report (empty optional fields left out)."""
    payload: JsonObject = {
        "connectorId": connector_id,
        "status": report.status,
        "errorCode": report.error_code,
        "timestamp": format_time(t),
    }
    for key, value in (
        ("info", report.info),
        ("vendorErrorCode", report.vendor_error_code),
        ("vendorId", report.vendor_id),
    ):
        if value:
            payload[key] = value
    return payload


class StatusNotifications:
    """The status reports of one link (connector 0 is the station as a whole)."""

    def __init__(self, keys: ConfigKeys, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        self.latest: dict[int, StatusReport] = {}
        # (connector, report, time of the change, monotonic time it may be sent)
        self._pending: deque[tuple[int, StatusReport, datetime, float]] = deque()
        self._sent: dict[int, StatusReport] = {}
        self._wake = asyncio.Event()

    def changed(self, connector_id: int, report: StatusReport, online: bool) -> None:
        """A connector's status changed; sent (later, see the module docstring) if online."""
        self.latest[connector_id] = report
        if online:
            hold = max(0, self._keys.get_int("MinimumStatusDuration"))
            due = self._clock.monotonic() + hold
            self._pending.append((connector_id, report, self._clock.now(), due))
            self._wake.set()

    def forget_pending(self) -> None:
        """The connection ended, or the full status is about to be sent."""
        self._pending.clear()
        self._sent.clear()

    async def send(self, rpc: Rpc | None, connector_id: int, report: StatusReport,
                   t: datetime | None = None) -> None:
        """Send one report now (failures are logged: the next reconnect sends it again)."""
        if rpc is None:
            return
        self.latest[connector_id] = report
        self._sent[connector_id] = report
        payload = status_payload(connector_id, report, t or self._clock.now())
        try:
            await rpc.call("StatusNotification", payload)
        except _MESSAGE_ERRORS as e:
            logger.warning("connector %d: StatusNotification failed: %s", connector_id, e)

    async def deliver(self, rpc: Rpc) -> None:
        """Send the changes, in order, until cancelled or the connection fails."""
        while True:
            self._wake.clear()
            while self._pending:
                connector_id, report, t, due = self._pending[0]
                wait = due - self._clock.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # changes are held in order: the head first
                self._pending.popleft()
                if self._held(connector_id, report):
                    continue
                await self.send(rpc, connector_id, report, t)
            await self._wake.wait()

    def _held(self, connector_id: int, report: StatusReport) -> bool:
        """With MinimumStatusDuration: a report superseded meanwhile, or equal to the one
        last sent, is not sent."""
        if self._keys.get_int("MinimumStatusDuration") <= 0:
            return False
        return self.latest.get(connector_id) != report or self._sent.get(connector_id) == report

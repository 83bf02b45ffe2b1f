"""RemoteTrigger profile: TriggerMessage.

The requested message is sent after TriggerMessage.conf (OCPP 1.6 §5.17: "the Charge Point
SHALL first send the TriggerMessage response, before sending the requested message"), also
while the boot is Pending: that is how a central system completes a pending boot.

DiagnosticsStatusNotification and FirmwareStatusNotification report the station's
``diagnostics_status()`` / ``firmware_status()`` (looked up with ``getattr``: the
FirmwareManagement profile provides them; "Idle" is what OCPP 1.6 reports when nothing is in
progress); a station without them answers NotImplemented. A connectorId the station does
not have answers Rejected.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from firmware.ocpp.rpc import JsonObject, Reply, Router

if TYPE_CHECKING:
    from firmware.ocpp.link import OcppLink

logger = logging.getLogger(__name__)

# Triggered status notifications and the station method that gives their status.
_STATUS_GETTERS = {
    "DiagnosticsStatusNotification": "diagnostics_status",
    "FirmwareStatusNotification": "firmware_status",
}


class RemoteTriggerProfile:
    name = "RemoteTrigger"

    def __init__(self, link: OcppLink) -> None:
        self._link = link

    def install(self, router: Router) -> None:
        router.add("TriggerMessage", self.trigger_message)

    async def trigger_message(self, req: JsonObject) -> Reply:
        requested = str(req["requestedMessage"])
        connector_id: int | None = req.get("connectorId")
        known = self._link.station.connector_ids()
        if connector_id is not None and connector_id not in (0, *known):
            return Reply({"status": "Rejected"})
        # connector 0 or none: the station and every connector
        targets = [0, *known] if not connector_id else [connector_id]
        after: Callable[[], Awaitable[None]]
        if requested == "BootNotification":
            after = self._link.trigger_boot
        elif requested == "Heartbeat":
            after = self._link.send_heartbeat
        elif requested == "StatusNotification":

            async def after() -> None:
                for c in targets:
                    await self._link.send_status(c)

        elif requested == "MeterValues":

            async def after() -> None:
                for c in targets:
                    if c != 0:
                        await self._link.send_meter_values(c)

        elif requested in _STATUS_GETTERS and hasattr(self._link.station,
                                                      _STATUS_GETTERS[requested]):
            after = self._status_notification(requested)
        else:
            logger.info("TriggerMessage %s not implemented", requested)
            return Reply({"status": "NotImplemented"})
        logger.info("TriggerMessage %s (connector %s) accepted", requested, connector_id)
        return Reply({"status": "Accepted"}, after)

    def _status_notification(self, action: str) -> Callable[[], Awaitable[None]]:
        method = getattr(self._link.station, _STATUS_GETTERS[action])

        async def after() -> None:
            await self._link.send_now(action, {"status": str(method())})

        return after

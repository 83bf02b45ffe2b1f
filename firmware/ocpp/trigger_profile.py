"""RemoteTrigger profile: TriggerMessage.

The requested message is sent after TriggerMessage.conf (OCPP 1.6 §5.17: "the Charge Point
SHALL first send the TriggerMessage response, before sending the requested message"), also
while the boot is Pending: that is how a central system completes a pending boot.

DiagnosticsStatusNotification and FirmwareStatusNotification report the status of the
station's :class:`~firmware.ports.DiagnosticsStatusSource` /
:class:`~firmware.ports.FirmwareStatusSource` (the FirmwareManagement profile's parts
provide them; "Idle" is what OCPP 1.6 reports when nothing is in progress); without that
port the trigger answers NotImplemented. A connectorId the station does not have answers
Rejected.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from firmware.ocpp.profile import LinkServices
from firmware.ocpp.rpc import JsonObject, Reply, Router
from firmware.ports import ConnectorIds, DiagnosticsStatusSource, FirmwareStatusSource

logger = logging.getLogger(__name__)


class RemoteTriggerProfile:
    """Handlers of the RemoteTrigger feature profile (the status ports are required
    keywords: ``None`` is said explicitly)."""

    name = "RemoteTrigger"

    def __init__(
        self,
        link: LinkServices,
        connectors: ConnectorIds,
        *,
        firmware: FirmwareStatusSource | None,
        diagnostics: DiagnosticsStatusSource | None,
    ) -> None:
        self._link = link
        self._connectors = connectors
        self._firmware = firmware
        self._diagnostics = diagnostics

    def install(self, router: Router) -> None:
        router.add("TriggerMessage", self.trigger_message)

    async def trigger_message(self, req: JsonObject) -> Reply:
        requested = str(req["requestedMessage"])
        connector_id: int | None = req.get("connectorId")
        known = self._connectors.connector_ids()
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

        elif requested == "FirmwareStatusNotification" and self._firmware is not None:
            after = self._status_notification(requested, self._firmware.firmware_status)
        elif requested == "DiagnosticsStatusNotification" and self._diagnostics is not None:
            after = self._status_notification(requested, self._diagnostics.diagnostics_status)
        else:
            logger.info("TriggerMessage %s not implemented", requested)
            return Reply({"status": "NotImplemented"})
        logger.info("TriggerMessage %s (connector %s) accepted", requested, connector_id)
        return Reply({"status": "Accepted"}, after)

    def _status_notification(
        self, action: str, status: Callable[[], str]
    ) -> Callable[[], Awaitable[None]]:
        async def after() -> None:
            # The status when the message goes out, not when it was requested.
            await self._link.send_now(action, {"status": status()})

        return after

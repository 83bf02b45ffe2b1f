"""Core profile: the calls the central system makes to the charge point.

RemoteStartTransaction, RemoteStopTransaction, ChangeConfiguration, GetConfiguration,
Reset, ChangeAvailability, UnlockConnector, ClearCache and DataTransfer. Each station
operation goes to its capability port (:mod:`firmware.ports`); a port the station does not
have is ``None`` and answers as OCPP allows a charge point without it:

* RemoteStart/StopTransaction: :class:`~firmware.ports.RemoteControl`; without: Rejected
* Reset: :class:`~firmware.ports.ResetControl`; without: Rejected
* ChangeAvailability: :class:`~firmware.ports.AvailabilityControl`; without: Rejected
* UnlockConnector: :class:`~firmware.ports.UnlockControl`; without: NotSupported
* ClearCache: :class:`~firmware.ports.AuthorizationCache`; without: Accepted (no cache is
  kept, so it is empty)
* DataTransfer: :class:`~firmware.ports.IncomingDataTransfer`; without: UnknownVendorId

A connectorId the station does not have is Rejected (RemoteStart, ChangeAvailability) or
NotSupported (UnlockConnector, TC_031) before any port is asked. An accepted Reset is
carried out (``ResetControl.start_reset``) once its answer went out; ChangeConfiguration
of AuthorizationKey reconnects (with the new password) once its answer went out.

The CP-initiated Core messages (BootNotification, Heartbeat, StatusNotification, Authorize,
Start/StopTransaction, MeterValues) are sent by link.py, transactions.py and metering.py.
"""

from __future__ import annotations

import logging

from firmware.log_context import redact_id_tag
from firmware.ocpp.profile import LinkServices
from firmware.ocpp.rpc import JsonObject, Reply, Router
from firmware.ports import (
    AuthorizationCache,
    AvailabilityControl,
    ConnectorIds,
    IncomingDataTransfer,
    RemoteControl,
    ResetControl,
    UnlockControl,
)

logger = logging.getLogger(__name__)


class CoreProfile:
    """Handlers of the Core feature profile.

    Every operation port is a required keyword: a station without one passes ``None``
    explicitly, so a port forgotten in the assembly is a type error, not a silent
    Rejected."""

    name = "Core"

    def __init__(
        self,
        link: LinkServices,
        connectors: ConnectorIds,
        *,
        remote: RemoteControl | None,
        reset: ResetControl | None,
        availability: AvailabilityControl | None,
        unlock: UnlockControl | None,
        cache: AuthorizationCache | None,
        data_transfer: IncomingDataTransfer | None,
    ) -> None:
        self._link = link
        self._connectors = connectors
        self._remote = remote
        self._reset = reset
        self._availability = availability
        self._unlock = unlock
        self._cache = cache
        self._data_transfer = data_transfer

    def install(self, router: Router) -> None:
        router.add("RemoteStartTransaction", self.remote_start)
        router.add("RemoteStopTransaction", self.remote_stop)
        router.add("ChangeConfiguration", self.change_configuration)
        router.add("GetConfiguration", self.get_configuration)
        router.add("Reset", self.reset)
        router.add("ChangeAvailability", self.change_availability)
        router.add("UnlockConnector", self.unlock_connector)
        router.add("ClearCache", self.clear_cache)
        router.add("DataTransfer", self.data_transfer)

    # ------------------------------------------------------------------ transactions

    async def remote_start(self, req: JsonObject) -> JsonObject:
        connector_id: int | None = req.get("connectorId")
        id_tag = str(req["idTag"])
        # chargingProfile: SmartCharging comes later; the start itself is still honoured.
        if connector_id is not None and connector_id not in self._connectors.connector_ids():
            logger.info("RemoteStartTransaction for connector %d rejected", connector_id)
            return {"status": "Rejected"}  # connector 0 included (TC_027)
        accepted = self._remote is not None and await self._remote.remote_start(
            connector_id, id_tag)
        logger.info(
            "connector %s: RemoteStartTransaction for %s %s",
            connector_id if connector_id is not None else "(any)",
            redact_id_tag(id_tag),
            "accepted" if accepted else "rejected",
        )
        return {"status": "Accepted" if accepted else "Rejected"}

    async def remote_stop(self, req: JsonObject) -> JsonObject:
        transaction_id = int(req["transactionId"])
        connector_id = self._link.connector_of(transaction_id)
        if connector_id is None:
            logger.info("RemoteStopTransaction for unknown transaction %d", transaction_id)
            return {"status": "Rejected"}
        accepted = self._remote is not None and await self._remote.remote_stop(connector_id)
        logger.info(
            "connector %d: RemoteStopTransaction %d %s",
            connector_id, transaction_id, "accepted" if accepted else "rejected",
        )
        return {"status": "Accepted" if accepted else "Rejected"}

    # ------------------------------------------------------------------ configuration

    async def change_configuration(self, req: JsonObject) -> Reply:
        result = self._link.keys.change(str(req["key"]), str(req["value"]))
        logger.info("ChangeConfiguration %s: %s", req["key"], result.value)
        # A new AuthorizationKey: reconnect with it, after this answer (TC_073).
        return Reply({"status": result.value}, self._link.reconnect_if_requested)

    async def get_configuration(self, req: JsonObject) -> JsonObject:
        entries, unknown = self._link.keys.configuration(req.get("key"))
        answer: JsonObject = {"configurationKey": entries}
        if unknown:
            answer["unknownKey"] = unknown
        return answer

    # ------------------------------------------------------------------ station operations

    async def reset(self, req: JsonObject) -> Reply:
        port = self._reset
        if port is None:
            return Reply({"status": "Rejected"})
        hard = req["type"] == "Hard"
        accepted = await port.reset(hard)
        logger.info("Reset %s: %s", req["type"], "accepted" if accepted else "rejected")
        if not accepted:
            return Reply({"status": "Rejected"})

        async def after() -> None:
            port.start_reset(hard)

        return Reply({"status": "Accepted"}, after)

    async def change_availability(self, req: JsonObject) -> JsonObject:
        connector_id = int(req["connectorId"])
        port = self._availability
        if port is None or connector_id not in (0, *self._connectors.connector_ids()):
            return {"status": "Rejected"}
        return {"status": await port.change_availability(connector_id,
                                                         req["type"] == "Operative")}

    async def unlock_connector(self, req: JsonObject) -> JsonObject:
        connector_id = int(req["connectorId"])
        port = self._unlock
        if port is None or connector_id not in self._connectors.connector_ids():
            return {"status": "NotSupported"}  # unknown connector: TC_031
        return {"status": await port.unlock_connector(connector_id)}

    async def clear_cache(self, req: JsonObject) -> JsonObject:
        if self._cache is None:
            return {"status": "Accepted"}  # no authorization cache kept: it is empty
        return {"status": "Accepted" if self._cache.clear_cache() else "Rejected"}

    async def data_transfer(self, req: JsonObject) -> JsonObject:
        vendor_id = str(req["vendorId"])
        if self._data_transfer is None:
            logger.info("DataTransfer from vendor %s: unknown vendor", vendor_id)
            return {"status": "UnknownVendorId"}
        status, data = self._data_transfer.data_transfer(
            vendor_id, req.get("messageId"), req.get("data"))
        answer: JsonObject = {"status": status}
        if data is not None:
            answer["data"] = data
        return answer

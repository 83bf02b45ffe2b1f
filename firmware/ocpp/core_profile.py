"""Core profile: the calls the central system makes to the charge point.

RemoteStartTransaction, RemoteStopTransaction, ChangeConfiguration and GetConfiguration are
handled here. Reset, ChangeAvailability, UnlockConnector, ClearCache and DataTransfer call an
optional method of the station when it has one (looked up with ``getattr``, so the
:class:`~firmware.ports.StationPort` contract does not grow for them) and answer Rejected /
NotSupported / UnknownVendorId otherwise:

``async def reset(hard: bool) -> bool``
    True = Accepted. Decide only; ``def start_reset(hard: bool)`` then carries it out,
    called once Reset.conf is on its way.
``async def change_availability(connector_id: int, operative: bool) -> str | bool``
    "Accepted" / "Rejected" / "Scheduled" (connector 0 = the whole station).
``async def unlock_connector(connector_id: int) -> str | bool``
    "Unlocked" / "UnlockFailed" / "NotSupported".
``def clear_cache() -> bool``
    True = Accepted.
``def data_transfer(vendor_id: str, message_id: str | None, data: str | None)``
    ``-> tuple[str, str | None]``: DataTransferStatus and the answer's data.

ChangeConfiguration of AuthorizationKey reconnects (with the new password) once its answer
went out.

The CP-initiated Core messages (BootNotification, Heartbeat, StatusNotification, Authorize,
Start/StopTransaction, MeterValues) are sent by link.py, transactions.py and metering.py.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from firmware.ocpp.rpc import JsonObject, Reply, Router

if TYPE_CHECKING:
    from firmware.ocpp.link import OcppLink

logger = logging.getLogger(__name__)


def _status(result: Any, yes: str, no: str) -> str:
    """An optional station method may answer a bool or the status string itself."""
    if isinstance(result, bool):
        return yes if result else no
    return str(result)


class CoreProfile:
    """Handlers of the Core feature profile."""

    name = "Core"

    def __init__(self, link: OcppLink) -> None:
        self._link = link

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
        station = self._link.station
        # chargingProfile: SmartCharging comes later; the start itself is still honoured.
        if connector_id is not None and connector_id not in station.connector_ids():
            logger.info("RemoteStartTransaction for connector %d rejected", connector_id)
            return {"status": "Rejected"}  # connector 0 included (TC_027)
        accepted = await station.remote_start(connector_id, id_tag)
        logger.info(
            "connector %s: RemoteStartTransaction for %s %s",
            connector_id if connector_id is not None else "(any)",
            id_tag,
            "accepted" if accepted else "rejected",
        )
        return {"status": "Accepted" if accepted else "Rejected"}

    async def remote_stop(self, req: JsonObject) -> JsonObject:
        transaction_id = int(req["transactionId"])
        connector_id = self._link.connector_of(transaction_id)
        if connector_id is None:
            logger.info("RemoteStopTransaction for unknown transaction %d", transaction_id)
            return {"status": "Rejected"}
        accepted = await self._link.station.remote_stop(connector_id)
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
        station = self._link.station
        method = getattr(station, "reset", None)
        if method is None:
            return Reply({"status": "Rejected"})
        hard = req["type"] == "Hard"
        accepted = await method(hard)
        logger.info("Reset %s: %s", req["type"], "accepted" if accepted else "rejected")
        start = getattr(station, "start_reset", None)
        if not accepted or start is None:
            return Reply({"status": "Accepted" if accepted else "Rejected"})

        async def after() -> None:
            start(hard)

        return Reply({"status": "Accepted"}, after)

    async def change_availability(self, req: JsonObject) -> JsonObject:
        connector_id = int(req["connectorId"])
        method = getattr(self._link.station, "change_availability", None)
        if method is None or connector_id not in (0, *self._link.station.connector_ids()):
            return {"status": "Rejected"}
        result = await method(connector_id, req["type"] == "Operative")
        return {"status": _status(result, "Accepted", "Rejected")}

    async def unlock_connector(self, req: JsonObject) -> JsonObject:
        connector_id = int(req["connectorId"])
        method = getattr(self._link.station, "unlock_connector", None)
        if method is None or connector_id not in self._link.station.connector_ids():
            return {"status": "NotSupported"}  # unknown connector: TC_031
        result = await method(connector_id)
        return {"status": _status(result, "Unlocked", "UnlockFailed")}

    async def clear_cache(self, req: JsonObject) -> JsonObject:
        method = getattr(self._link.station, "clear_cache", None)
        if method is None:
            return {"status": "Accepted"}  # no authorization cache kept yet: it is empty
        return {"status": _status(method(), "Accepted", "Rejected")}

    async def data_transfer(self, req: JsonObject) -> JsonObject:
        method = getattr(self._link.station, "data_transfer", None)
        vendor_id = str(req["vendorId"])
        if method is None:
            logger.info("DataTransfer from vendor %s: unknown vendor", vendor_id)
            return {"status": "UnknownVendorId"}
        status, data = method(vendor_id, req.get("messageId"), req.get("data"))
        answer: JsonObject = {"status": status}
        if data is not None:
            answer["data"] = data
        return answer

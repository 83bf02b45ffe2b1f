"""Reservation profile: ReserveNow and CancelReservation.

The reservations themselves (expiry, connector 0, the sessions' Reserved status,
persistence) are the station's :class:`~firmware.ports.ReservationControl`
(:class:`firmware.auth.reservations.Reservations`). A station without reservations does not
install this profile: the calls then answer NotSupported and SupportedFeatureProfiles does
not name it.
"""

from __future__ import annotations

import logging

from firmware.log_context import redact_id_tag
from firmware.ocpp.rpc import JsonObject, Router, parse_time
from firmware.ports import ReservationControl

logger = logging.getLogger(__name__)


class ReservationProfile:
    """Handlers of the Reservation feature profile."""

    name = "Reservation"

    def __init__(self, reservations: ReservationControl) -> None:
        self._reservations = reservations

    def install(self, router: Router) -> None:
        router.add("ReserveNow", self.reserve_now)
        router.add("CancelReservation", self.cancel_reservation)

    async def reserve_now(self, req: JsonObject) -> JsonObject:
        connector_id = int(req["connectorId"])
        status = self._reservations.reserve(
            int(req["reservationId"]),
            connector_id,
            str(req["idTag"]),
            req.get("parentIdTag"),
            parse_time(str(req["expiryDate"])),  # the schema checked the format
        )
        logger.info("connector %d: ReserveNow %s for %s: %s", connector_id,
                    req["reservationId"], redact_id_tag(str(req["idTag"])), status)
        return {"status": status}

    async def cancel_reservation(self, req: JsonObject) -> JsonObject:
        accepted = self._reservations.cancel(int(req["reservationId"]))
        return {"status": "Accepted" if accepted else "Rejected"}

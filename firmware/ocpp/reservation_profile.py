"""Reservation profile: ReserveNow and CancelReservation.

The station keeps the reservations (:mod:`firmware.auth.reservations`); its optional methods are
looked up with ``getattr`` (a station without them answers Rejected):

``def reserve_now(reservation_id, connector_id, id_tag, parent_id_tag, expiry) -> str``
    ReservationStatus: Accepted, Faulted, Occupied, Rejected or Unavailable.
``def cancel_reservation(reservation_id: int) -> bool``
    True = Accepted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from firmware.ocpp.rpc import JsonObject, Router, parse_time

if TYPE_CHECKING:
    from firmware.ocpp.link import OcppLink

logger = logging.getLogger(__name__)


class ReservationProfile:
    """Handlers of the Reservation feature profile."""

    name = "Reservation"

    def __init__(self, link: OcppLink) -> None:
        self._link = link

    def install(self, router: Router) -> None:
        router.add("ReserveNow", self.reserve_now)
        router.add("CancelReservation", self.cancel_reservation)

    async def reserve_now(self, req: JsonObject) -> JsonObject:
        method = getattr(self._link.station, "reserve_now", None)
        if method is None:
            return {"status": "Rejected"}
        connector_id = int(req["connectorId"])
        status = str(method(
            int(req["reservationId"]),
            connector_id,
            str(req["idTag"]),
            req.get("parentIdTag"),
            parse_time(str(req["expiryDate"])),  # the schema checked the format
        ))
        logger.info("connector %d: ReserveNow %s for %s: %s", connector_id,
                    req["reservationId"], req["idTag"], status)
        return {"status": status}

    async def cancel_reservation(self, req: JsonObject) -> JsonObject:
        method = getattr(self._link.station, "cancel_reservation", None)
        accepted = bool(method(int(req["reservationId"]))) if method is not None else False
        return {"status": "Accepted" if accepted else "Rejected"}

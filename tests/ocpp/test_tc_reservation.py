"""OCTT Reservation: ReserveNow on a connector and on the station (connector 0), every
answer, expiry, CancelReservation, and reservations that admit a group (parentIdTag)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.tc_harness import (
    CARD_A,
    CARD_B,
    card,
    demo_station,
    fault,
    in_seconds,
    plug,
    status,
    statuses,
    strict_station,
)


def reserve(connector_id: int, id_tag: str, reservation_id: int = 11, seconds: float = 300,
            parent: str | None = None) -> dict[str, Any]:
    req: dict[str, Any] = {"connectorId": connector_id, "expiryDate": in_seconds(seconds),
                           "idTag": id_tag, "reservationId": reservation_id}
    if parent is not None:
        req["parentIdTag"] = parent
    return req


async def test_tc_046_1_reserve_connector_local_start(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        assert (await csms.call("ReserveNow", reserve(1, CARD_A)))["status"] == "Accepted"
        await status(csms, 1, "Reserved")
        await plug(s, 1)
        await card(s, CARD_B)  # somebody else: may not use the reserved connector
        await csms.wait_for("Authorize", where=lambda p: p["idTag"] == CARD_B)
        await card(s, CARD_A)
        start = await csms.wait_for("StartTransaction")
        assert start["connectorId"] == 1 and start["idTag"] == CARD_A
        assert start["reservationId"] == 11
        await status(csms, 1, "Charging")
        assert statuses(csms, 1)[:2] == ["Available", "Reserved"]
        assert s.station.reservations.all() == []  # used up


async def test_tc_046_2_reserve_connector_remote_start(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        assert (await peer.call("ReserveNow", reserve(2, "R-1", 12)))["status"] == "Accepted"
        await status(peer, 2, "Reserved")
        other = await peer.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "R-X"})
        assert other["status"] == "Rejected"
        mine = await peer.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "R-1"})
        assert mine["status"] == "Accepted"
        await plug(s, 2)
        start = await peer.wait_for("StartTransaction")
        assert start["reservationId"] == 12 and start["idTag"] == "R-1"


async def test_tc_047_reserve_connector_expire(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        answer = await csms.call("ReserveNow", reserve(1, CARD_A, seconds=1.0))
        assert answer["status"] == "Accepted"
        await status(csms, 1, "Reserved")
        await status(csms, 1, "Available", timeout=5)  # expired
        assert s.station.reservations.all() == []
        assert (await csms.call("CancelReservation", {"reservationId": 11}))["status"] \
            == "Rejected"


async def test_tc_048_1_reserve_connector_faulted(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        await fault(s, "406", 1)
        await status(csms, 1, "Faulted")
        assert (await csms.call("ReserveNow", reserve(1, CARD_A)))["status"] == "Faulted"


async def test_tc_048_2_reserve_connector_occupied(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await plug(s, 1)
        await status(peer, 1, "Preparing")
        assert (await peer.call("ReserveNow", reserve(1, "R-1")))["status"] == "Occupied"
        assert (await peer.call("ReserveNow", reserve(2, "R-2", 13)))["status"] == "Accepted"
        # A connector reserved for another reservation is occupied for a new one.
        assert (await peer.call("ReserveNow", reserve(2, "R-3", 14)))["status"] == "Occupied"


async def test_tc_048_3_reserve_connector_unavailable(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (_s, peer):
        change = {"connectorId": 1, "type": "Inoperative"}
        assert (await peer.call("ChangeAvailability", change))["status"] == "Accepted"
        await status(peer, 1, "Unavailable")
        assert (await peer.call("ReserveNow", reserve(1, "R-1")))["status"] == "Unavailable"


async def test_tc_048_4_reserve_connector_rejected(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        assert (await peer.call("ReserveNow", reserve(5, "R-1")))["status"] == "Rejected"
        expired = reserve(1, "R-1", seconds=-60)
        assert (await peer.call("ReserveNow", expired))["status"] == "Rejected"
        assert s.station.reservations.all() == []


async def test_tc_049_reserve_charge_point_transaction(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        assert (await csms.call("ReserveNow", reserve(0, CARD_A, 21)))["status"] == "Accepted"
        await plug(s, 1)
        await plug(s, 2)
        await status(csms, 2, "Preparing")
        await card(s, CARD_B)  # taking a connector would leave none for the reservation
        await csms.wait_for("Authorize", where=lambda p: p["idTag"] == CARD_B)
        await card(s, CARD_A)
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD_A and start["reservationId"] == 21
        assert s.station.reservations.all() == []
        await card(s, CARD_B)  # the reservation is used: B may take the other connector
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD_B and "reservationId" not in start


async def test_tc_050_1_reserve_charge_point_faulted(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        await fault(s, "406", 1)
        await fault(s, "406", 2)
        await status(csms, 1, "Faulted")
        await status(csms, 2, "Faulted")
        assert (await csms.call("ReserveNow", reserve(0, CARD_A)))["status"] == "Faulted"


async def test_tc_050_2_reserve_charge_point_occupied(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await plug(s, 1)
        await plug(s, 2)
        await status(peer, 1, "Preparing")
        await status(peer, 2, "Preparing")
        assert (await peer.call("ReserveNow", reserve(0, "R-1")))["status"] == "Occupied"


async def test_tc_050_3_reserve_charge_point_unavailable(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (_s, peer):
        change = {"connectorId": 0, "type": "Inoperative"}
        assert (await peer.call("ChangeAvailability", change))["status"] == "Accepted"
        await status(peer, 0, "Unavailable")
        assert (await peer.call("ReserveNow", reserve(0, "R-1")))["status"] == "Unavailable"


async def test_tc_050_4_reserve_charge_point_rejected(tmp_path: Path) -> None:
    keys = [("ReserveConnectorZeroSupported", "false")]
    async with strict_station(tmp_path, keys) as (_s, peer):
        assert (await peer.call("ReserveNow", reserve(0, "R-1")))["status"] == "Rejected"


async def test_tc_051_cancel_reservation(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        assert (await peer.call("ReserveNow", reserve(1, "R-1", 31)))["status"] == "Accepted"
        await status(peer, 1, "Reserved")
        answer = await peer.call("CancelReservation", {"reservationId": 31})
        assert answer["status"] == "Accepted"
        await status(peer, 1, "Available")
        assert s.station.reservations.all() == []


async def test_tc_052_cancel_reservation_rejected(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (_s, peer):
        answer = await peer.call("CancelReservation", {"reservationId": 99})
        assert answer["status"] == "Rejected"


async def test_tc_053_1_reserved_connector_with_parent_id_tag_local(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        csms.csms.id_tags[CARD_B] = {"status": "Accepted", "parentIdTag": "FLEET-1"}
        answer = await csms.call("ReserveNow", reserve(1, CARD_A, 41, parent="FLEET-1"))
        assert answer["status"] == "Accepted"
        await plug(s, 1)
        await card(s, CARD_B)  # not the reserved card, but of its group
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD_B and start["reservationId"] == 41


async def test_tc_053_2_reserved_connector_with_parent_id_tag_remote(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        csms.csms.id_tags["R-GROUP"] = {"status": "Accepted", "parentIdTag": "FLEET-2"}
        answer = await csms.call("ReserveNow", reserve(2, "R-OWNER", 42, parent="FLEET-2"))
        assert answer["status"] == "Accepted"
        await plug(s, 2)
        answer = await csms.call("RemoteStartTransaction", {"connectorId": 2,
                                                            "idTag": "R-GROUP"})
        assert answer["status"] == "Accepted"
        auth = await csms.wait_for("Authorize")  # to learn the idTag's parentIdTag
        assert auth["idTag"] == "R-GROUP"
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == "R-GROUP" and start["reservationId"] == 42

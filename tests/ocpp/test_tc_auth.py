"""OCTT Core/Auth, and the authorization rules around it end to end: offline rules, the
local list offline, kiosk mode, the NFC whitelist, autocharge, RemoteTxStoppableLocally,
StopTransactionOnInvalidId / MaxEnergyOnInvalidId."""

from __future__ import annotations

from pathlib import Path

from hal_sim.runner import SimulatedStation
from tests.conftest import DC_STATION
from tests.support.peer_harness import until
from tests.support.tc_harness import (
    AC_STATION,
    CARD_A,
    CARD_B,
    card,
    demo_station,
    plug,
    status,
    strict_station,
    until_tx_id,
)


async def network(s: SimulatedStation, online: bool) -> None:
    await s.api("POST", "/api/sim/network", {"online": online})
    await until(lambda: s.station.link.online == online)


async def test_tc_023_4_start_local_session_authorize_invalid(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        csms.csms.id_tags[CARD_A] = {"status": "Invalid"}
        await plug(s, 1)
        await status(csms, 1, "Preparing")
        await card(s, CARD_A)
        auth = await csms.wait_for("Authorize")
        assert auth["idTag"] == CARD_A
        await card(s, CARD_B)  # the invalid card left the connector free for this one
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD_B
        assert [a["idTag"] for a in csms.received("StartTransaction")] == [CARD_B]


async def test_tc_023_5_start_remote_session_authorize_invalid(tmp_path: Path) -> None:
    async with strict_station(tmp_path, [("AuthorizeRemoteTxRequests", "true")]) as (s, peer):
        await plug(s, 1)
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 1,
                                                            "idTag": "INVALID-7"})
        assert answer["status"] == "Rejected"
        auth = await peer.wait_for("Authorize")
        assert auth["idTag"] == "INVALID-7"
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "OK-7"})
        assert answer["status"] == "Accepted"
        start = await peer.wait_for("StartTransaction")
        assert start["idTag"] == "OK-7"


async def test_offline_local_list_and_unknown_ids(tmp_path: Path) -> None:
    keys = [("LocalAuthorizeOffline", "true"), ("AllowOfflineTxForUnknownId", "false")]
    async with demo_station(tmp_path, keys) as (s, csms):
        answer = await csms.call("SendLocalList", {
            "listVersion": 1, "updateType": "Full",
            "localAuthorizationList": [{"idTag": CARD_A, "idTagInfo": {"status": "Accepted"}}],
        })
        assert answer["status"] == "Accepted"
        await network(s, False)
        await plug(s, 1)
        await card(s, CARD_B)  # unknown offline: refused
        await card(s, CARD_A)  # in the local list: starts offline
        await s.wait_connector(1, lambda c: c["status"] == "Charging", what="charging offline")
        assert s.station.connectors[1].tx is not None
        assert s.station.connectors[1].tx.id_tag == CARD_A
        await network(s, True)
        start = await csms.wait_for("StartTransaction")  # delivered once back online
        assert start["idTag"] == CARD_A


async def test_kiosk_mode_starts_on_plug_with_kiosk_id_tags(tmp_path: Path) -> None:
    keys = [("HycKioskModeEnabled", "true"), ("HycKioskModeTagIds", "FREE-1")]
    async with demo_station(tmp_path, keys) as (s, csms):
        await plug(s, 1)
        start = await csms.wait_for("StartTransaction")
        assert start["connectorId"] == 1 and start["idTag"] == "FREE-1"
        assert (await csms.wait_for("Authorize"))["idTag"] == "FREE-1"  # announced
        csms.csms.id_tags["HycKioskTag2"] = {"status": "Blocked"}  # ignored in kiosk mode
        await plug(s, 2)
        start = await csms.wait_for("StartTransaction")
        assert start["connectorId"] == 2 and start["idTag"] == "HycKioskTag2"  # generic id


async def test_kiosk_mode_when_offline(tmp_path: Path) -> None:
    async with demo_station(tmp_path, [("KioskModeWhenOffline", "true")]) as (s, csms):
        await plug(s, 1)
        await status(csms, 1, "Preparing")
        assert s.station.connectors[1].session.id_tag is None  # online: no kiosk
        await network(s, False)  # kiosk mode now: the waiting EV starts charging
        await s.wait_connector(1, lambda c: c["id_tag"] == "HycKioskTag1", what="kiosk")
        await plug(s, 2)
        await s.wait_connector(2, lambda c: c["id_tag"] == "HycKioskTag2", what="kiosk")
        await network(s, True)
        starts = [await csms.wait_for("StartTransaction") for _ in range(2)]
        assert {(p["connectorId"], p["idTag"]) for p in starts} == {
            (1, "HycKioskTag1"), (2, "HycKioskTag2")}


async def test_whitelist_without_a_central_system(tmp_path: Path) -> None:
    async with SimulatedStation(AC_STATION, state_dir=tmp_path) as s:
        assert s.station.auth.whitelist.add(CARD_A)
        await plug(s, 1)
        await card(s, CARD_B)  # a whitelist exists: other cards are refused
        await card(s, CARD_A)
        await s.wait_connector(1, lambda c: c["id_tag"] == CARD_A and c["transaction_id"],
                               what="local transaction")
        assert s.station.connectors[1].tx is not None
        assert s.station.connectors[1].tx.id_tag == CARD_A
        assert s.station.auth.whitelist.list() == [CARD_A]


async def test_whitelisted_card_needs_no_central_system_answer(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        s.station.auth.whitelist.add(CARD_B)
        await network(s, False)  # AllowOfflineTxForUnknownId is false
        await plug(s, 1)
        await card(s, CARD_B)
        await s.wait_connector(1, lambda c: c["id_tag"] == CARD_B, what="whitelisted start")
        await network(s, True)
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD_B
        assert csms.received("Authorize") == []


async def test_remote_tx_stoppable_locally_false(tmp_path: Path) -> None:
    async with demo_station(tmp_path, [("RemoteTxStoppableLocally", "false")]) as (s, csms):
        await plug(s, 1)
        answer = await csms.call("RemoteStartTransaction", {"connectorId": 1, "idTag": CARD_A})
        assert answer["status"] == "Accepted"
        await status(csms, 1, "Charging")
        await card(s, CARD_A)  # the same idTag as a card: may not stop a remote session
        transaction_id = await until_tx_id(s, 1)
        await csms.call("RemoteStopTransaction", {"transactionId": transaction_id})
        stop = await csms.wait_for("StopTransaction")
        assert stop["reason"] == "Remote"


async def test_max_energy_on_invalid_id(tmp_path: Path) -> None:
    keys = [("StopTransactionOnInvalidId", "false"), ("MaxEnergyOnInvalidId", "5")]
    async with strict_station(tmp_path, keys) as (s, peer):
        await plug(s, 1)
        await peer.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "INVALID-9"})
        start = await peer.wait_for("StartTransaction")
        await status(peer, 1, "Charging")  # invalid, but charging goes on for 5 Wh
        # Then energy delivery stops (OCPP 1.6: StopTransactionOnInvalidId false "only
        # stops energy delivery"); the transaction itself goes on.
        await status(peer, 1, "SuspendedEVSE")
        state = await s.connector(1)
        assert state["energy_wh"] - start["meterStart"] >= 5
        assert state["transaction_id"] is not None
        assert peer.received("StopTransaction") == []


async def test_autocharge_uses_the_ev_id(tmp_path: Path) -> None:
    async with demo_station(tmp_path, [("AutochargeEnabled", "true")], station=DC_STATION,
                            cp_id="EVSE-DC-0001") as (s, csms):
        await plug(s, 1, soc=30)
        start = await csms.wait_for("StartTransaction")
        assert start["connectorId"] == 1 and start["idTag"] == "02:00:00:00:00:01"
        assert csms.received("Authorize") == []
        await s.api("POST", "/api/sim/connectors/1/unplug")
        await csms.wait_for("StopTransaction")

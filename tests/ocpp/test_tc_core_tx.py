"""OCTT Core/Tx and Core/Fault: charging sessions, as a central system sees them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.peer_harness import until
from tests.support.tc_harness import (
    CARD_A,
    CARD_B,
    card,
    charging,
    demo_station,
    fault,
    plug,
    status,
    statuses,
    strict_station,
    unplug,
)


async def test_tc_003_regular_charging_session_plugin_first(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        start = await charging(s, peer, 1, CARD_A)
        [auth] = peer.received("Authorize")
        assert auth["idTag"] == CARD_A == start["idTag"]
        await card(s, CARD_A)  # the same card ends it
        stop = await peer.wait_for("StopTransaction")
        assert stop["reason"] == "Local" and stop["idTag"] == CARD_A
        await status(peer, 1, "Finishing")
        await unplug(s, 1)
        await status(peer, 1, "Available")
        assert statuses(peer, 1) == ["Available", "Preparing", "Charging", "Finishing",
                                     "Available"]


async def test_tc_004_1_regular_charging_session_identification_first(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        await card(s, CARD_A)
        await csms.wait_for("Authorize")
        await plug(s, 1)
        start = await csms.wait_for("StartTransaction")
        assert start["connectorId"] == 1 and start["idTag"] == CARD_A
        await status(csms, 1, "Charging")
        await card(s, CARD_A)
        stop = await csms.wait_for("StopTransaction")
        assert stop["reason"] == "Local"


async def test_tc_004_2_identification_first_connection_timeout(tmp_path: Path) -> None:
    async with demo_station(tmp_path, keys=[("ConnectionTimeOut", "1")]) as (s, csms):
        await card(s, CARD_A)
        await csms.wait_for("Authorize")
        await asyncio.sleep(1.3)  # ConnectionTimeOut passes without a plug
        await plug(s, 1)
        await status(csms, 1, "Preparing")
        await card(s, CARD_B)  # a new card is needed: the first one's authorization expired
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD_B


async def test_tc_005_1_ev_side_disconnected(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await charging(s, peer, 1, CARD_A)
        await unplug(s, 1)
        stop = await peer.wait_for("StopTransaction")
        assert stop["reason"] == "EVDisconnected"
        await status(peer, 1, "Available")
        await s.wait_connector(1, lambda c: c["world"]["locked"] is False, what="unlocked")


async def test_tc_005_2_ev_side_disconnected_stop_but_keep_locked(tmp_path: Path) -> None:
    keys = [("UnlockConnectorOnEVSideDisconnect", "false")]
    async with demo_station(tmp_path, keys) as (s, csms):
        await charging(s, csms, 1, CARD_A)
        await unplug(s, 1)
        stop = await csms.wait_for("StopTransaction")
        assert stop["reason"] == "EVDisconnected"
        await asyncio.sleep(0.5)
        assert (await s.connector(1))["world"]["locked"] is True


async def test_tc_005_3_ev_side_disconnected_transaction_continues(tmp_path: Path) -> None:
    keys = [("StopTransactionOnEVSideDisconnect", "false"),
            ("UnlockConnectorOnEVSideDisconnect", "false")]
    async with demo_station(tmp_path, keys) as (s, csms):
        await charging(s, csms, 1, CARD_A)
        tx = s.station.connectors[1].tx
        await unplug(s, 1)
        await status(csms, 1, "SuspendedEV")
        await plug(s, 1)  # the EV comes back: the same transaction goes on
        await s.wait_connector(1, lambda c: c["pilot"] in ("B", "C"), what="plugged again")
        assert s.station.connectors[1].tx is tx
        assert csms.received("StopTransaction") == []
        assert len(csms.received("StartTransaction")) == 1
        await card(s, CARD_A)
        stop = await csms.wait_for("StopTransaction")
        assert stop["reason"] == "Local"


async def test_tc_024_start_charging_session_lock_failure(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        await fault(s, "404", 1)  # the lock motor is jammed
        await plug(s, 1)
        failed = await csms.wait_for(
            "StatusNotification",
            where=lambda p: p["connectorId"] == 1 and p["errorCode"] == "ConnectorLockFailure",
        )
        assert failed["status"] in ("Preparing", "Faulted")
        await card(s, CARD_A)
        await csms.wait_for("Authorize")
        # The card makes the station try the lock again; it fails again and the
        # authorization is dropped: no transaction without a locked cable.
        session = s.station.connectors[1].session
        await until(lambda: session.id_tag == CARD_A)
        await until(lambda: session.id_tag is None)
        assert csms.received("StartTransaction") == []
        state = await s.connector(1)
        assert state["error_code"] == "ConnectorLockFailure"
        assert state["contactor_closed"] is False


async def test_tc_068_stop_tx_id_tag_matches_start(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        start = await charging(s, peer, 1, CARD_A)
        await card(s, CARD_A)
        stop = await peer.wait_for("StopTransaction")
        assert stop["idTag"] == start["idTag"] and stop["reason"] == "Local"
        assert len(peer.received("Authorize")) == 1  # stopping needs no Authorize


async def test_tc_069_stop_tx_parent_id_tag_matches(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        group = {"status": "Accepted", "parentIdTag": "FLEET-7"}
        csms.csms.id_tags.update({CARD_A: group, CARD_B: group})
        await charging(s, csms, 1, CARD_A)
        await card(s, CARD_B)  # another card of the same fleet
        stop = await csms.wait_for("StopTransaction")
        assert stop["idTag"] == CARD_B and stop["reason"] == "Local"
        assert [a["idTag"] for a in csms.received("Authorize")] == [CARD_A, CARD_B]


async def test_tc_041_fault_behavior(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await charging(s, peer, 1, CARD_A)
        await fault(s, "406", 1)  # the control pilot goes out of range while charging
        faulted = await status(peer, 1, "Faulted")
        assert faulted["errorCode"] != "NoError"
        stop = await peer.wait_for("StopTransaction")
        assert stop["reason"] == "Other"
        state = await s.connector(1)
        assert state["contactor_closed"] is False
        await fault(s, "406", 1, on=False)
        await unplug(s, 1)
        recovered = await status(peer, 1, "Available")
        assert recovered["errorCode"] == "NoError"

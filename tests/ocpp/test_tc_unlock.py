"""OCTT Core/Unlock: UnlockConnector with and without a session, on a socket with a cable
lock and on a tethered cable (no lock), an unlock that fails, an unknown connector."""

from __future__ import annotations

from pathlib import Path

from tests.support.paths import TEST_STATIONS
from tests.support.tc_harness import (
    CARD_A,
    charging,
    demo_station,
    fault,
    plug,
    status,
    strict_station,
    until_tx_id,
)

CABLE_STATION = TEST_STATIONS / "ac_cable.toml"


async def test_tc_017_1_unlock_no_session_not_fixed_cable(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        answer = await peer.call("UnlockConnector", {"connectorId": 1})
        assert answer["status"] == "Unlocked"
        assert (await s.connector(1))["world"]["locked"] is False


async def test_tc_017_2_unlock_no_session_fixed_cable(tmp_path: Path) -> None:
    async with strict_station(tmp_path, station=CABLE_STATION) as (_s, peer):
        answer = await peer.call("UnlockConnector", {"connectorId": 1})
        assert answer["status"] == "NotSupported"


async def test_tc_018_1_unlock_with_session_not_fixed_cable(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        await charging(s, csms, 1, CARD_A)
        assert (await s.connector(1))["world"]["locked"] is True
        transaction_id = await until_tx_id(s, 1)
        answer = await csms.call("UnlockConnector", {"connectorId": 1})
        assert answer["status"] == "Unlocked"
        stop = await csms.wait_for("StopTransaction")
        assert stop["transactionId"] == transaction_id and stop["reason"] == "UnlockCommand"
        state = await s.connector(1)
        assert state["world"]["locked"] is False and state["contactor_closed"] is False
        assert state["world"]["contactor_closed"] is False


async def test_tc_018_2_unlock_with_session_fixed_cable(tmp_path: Path) -> None:
    async with strict_station(tmp_path, station=CABLE_STATION) as (s, peer):
        await charging(s, peer, 1, CARD_A)
        answer = await peer.call("UnlockConnector", {"connectorId": 1})
        assert answer["status"] == "NotSupported"  # nothing to unlock: charging goes on
        assert s.station.connectors[1].tx is not None
        assert peer.received("StopTransaction") == []


async def test_tc_030_unlock_failure(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        await plug(s, 1)
        await status(csms, 1, "Preparing")
        await s.wait_connector(1, lambda c: c["world"]["locked"] is True, what="locked")
        await fault(s, "404", 1)  # the lock motor jams
        answer = await csms.call("UnlockConnector", {"connectorId": 1})
        assert answer["status"] == "UnlockFailed"
        assert (await s.connector(1))["world"]["locked"] is True


async def test_tc_031_unlock_unknown_connector(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (_s, peer):
        answer = await peer.call("UnlockConnector", {"connectorId": 7})
        assert answer["status"] == "NotSupported"

"""OCTT Core/Remote: RemoteStartTransaction and RemoteStopTransaction."""

from __future__ import annotations

from pathlib import Path

from tests.support.tc_harness import (
    CARD_A,
    charging,
    demo_station,
    plug,
    status,
    statuses,
    strict_station,
    until_tx_id,
)


async def test_tc_010_remote_start_cable_plugged_in_first(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await plug(s, 1)
        await status(peer, 1, "Preparing")
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "R-1"})
        assert answer["status"] == "Accepted"
        start = await peer.wait_for("StartTransaction")
        assert start["connectorId"] == 1 and start["idTag"] == "R-1"
        await status(peer, 1, "Charging")
        assert peer.received("Authorize") == []  # AuthorizeRemoteTxRequests is false


async def test_tc_011_1_remote_start_remote_start_first(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "R-2"})
        assert answer["status"] == "Accepted"
        await status(peer, 2, "Preparing")
        await plug(s, 2)
        start = await peer.wait_for("StartTransaction")
        assert start["connectorId"] == 2 and start["idTag"] == "R-2"
        await status(peer, 2, "Charging")


async def test_tc_011_2_remote_start_time_out(tmp_path: Path) -> None:
    async with demo_station(tmp_path, [("ConnectionTimeOut", "1")]) as (s, csms):
        answer = await csms.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "R-3"})
        assert answer["status"] == "Accepted"
        await status(csms, 1, "Preparing")
        await status(csms, 1, "Available", timeout=5)  # no plug within ConnectionTimeOut
        await plug(s, 1)  # too late: the remote start is gone
        await status(csms, 1, "Preparing")
        assert csms.received("StartTransaction") == []
        assert s.station.connectors[1].session.id_tag is None
        assert statuses(csms, 1) == ["Available", "Preparing", "Available", "Preparing"]


async def test_tc_012_remote_stop_charging_session(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await charging(s, peer, 1, CARD_A)
        transaction_id = await until_tx_id(s, 1)
        answer = await peer.call("RemoteStopTransaction", {"transactionId": transaction_id})
        assert answer["status"] == "Accepted"
        stop = await peer.wait_for("StopTransaction")
        assert stop["transactionId"] == transaction_id and stop["reason"] == "Remote"
        await status(peer, 1, "Finishing")


async def test_tc_026_remote_start_rejected(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await charging(s, peer, 1, CARD_A)
        busy = await peer.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "R-4"})
        assert busy["status"] == "Rejected"  # a transaction runs there
        assert (await peer.call("ChangeAvailability", {"connectorId": 2,
                                                       "type": "Inoperative"}))["status"] \
            == "Accepted"
        off = await peer.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "R-4"})
        assert off["status"] == "Rejected"  # Unavailable
        assert len(peer.received("StartTransaction")) == 1


async def test_tc_027_remote_start_connector_id_shall_not_be_0(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await plug(s, 1)
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 0, "idTag": "R-5"})
        assert answer["status"] == "Rejected"
        assert s.station.connectors[1].session.id_tag is None


async def test_tc_028_remote_stop_rejected(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await charging(s, peer, 1, CARD_A)
        transaction_id = await until_tx_id(s, 1)
        answer = await peer.call("RemoteStopTransaction",
                                 {"transactionId": transaction_id + 100})
        assert answer["status"] == "Rejected"  # no such transaction
        assert s.station.connectors[1].tx is not None
        assert peer.received("StopTransaction") == []


async def test_remote_start_without_connector_id(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        answer = await peer.call("RemoteStartTransaction", {"idTag": "R-6"})
        assert answer["status"] == "Accepted"  # the next connector to get an EV takes it
        await plug(s, 2)
        start = await peer.wait_for("StartTransaction")
        assert start["connectorId"] == 2 and start["idTag"] == "R-6"
        await plug(s, 1)  # an EV already plugged in takes the next one at once
        await status(peer, 1, "Preparing")
        answer = await peer.call("RemoteStartTransaction", {"idTag": "R-7"})
        assert answer["status"] == "Accepted"
        start = await peer.wait_for("StartTransaction")
        assert start["connectorId"] == 1 and start["idTag"] == "R-7"

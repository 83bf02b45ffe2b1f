"""OCTT LocalAuthList: SendLocalList (full, differential, version checks, limits),
GetLocalListVersion, and starting with an idTag of the list, by card and remotely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.tc_harness import CARD_A, card, demo_station, plug, status, strict_station

ACCEPTED = {"status": "Accepted"}


def entry(id_tag: str, info: dict[str, Any] | None = ACCEPTED) -> dict[str, Any]:
    return {"idTag": id_tag} if info is None else {"idTag": id_tag, "idTagInfo": info}


def send_list(version: int, update: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"listVersion": version, "updateType": update,
            "localAuthorizationList": list(entries)}


async def test_tc_008_1_regular_start_id_in_local_authorization_list(tmp_path: Path) -> None:
    async with demo_station(tmp_path, [("LocalPreAuthorize", "true")]) as (s, csms):
        answer = await csms.call("SendLocalList", send_list(1, "Full", entry(CARD_A)))
        assert answer["status"] == "Accepted"
        await plug(s, 1)
        await status(csms, 1, "Preparing")
        await card(s, CARD_A)
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD_A
        assert csms.received("Authorize") == []  # the local list said Accepted


async def test_tc_008_2_remote_start_id_in_local_authorization_list(tmp_path: Path) -> None:
    keys = [("LocalPreAuthorize", "true"), ("AuthorizeRemoteTxRequests", "true")]
    async with strict_station(tmp_path, keys) as (s, peer):
        answer = await peer.call("SendLocalList", send_list(3, "Full", entry("LIST-1")))
        assert answer["status"] == "Accepted"
        await plug(s, 2)
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "LIST-1"})
        assert answer["status"] == "Accepted"
        start = await peer.wait_for("StartTransaction")
        assert start["idTag"] == "LIST-1" and start["connectorId"] == 2
        assert peer.received("Authorize") == []


async def test_tc_042_1_get_local_list_version_not_supported(tmp_path: Path) -> None:
    async with strict_station(tmp_path, [("LocalAuthListEnabled", "false")]) as (_s, peer):
        assert (await peer.call("GetLocalListVersion", {}))["listVersion"] == -1


async def test_tc_042_2_get_local_list_version_empty(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (_s, peer):
        assert (await peer.call("GetLocalListVersion", {}))["listVersion"] == 0
        answer = await peer.call("SendLocalList", send_list(4, "Full"))  # emptied
        assert answer["status"] == "Accepted"
        assert (await peer.call("GetLocalListVersion", {}))["listVersion"] == 0


async def test_tc_043_1_send_local_list_full(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        blocked = {"status": "Blocked", "parentIdTag": "FLEET"}
        answer = await peer.call("SendLocalList", send_list(
            7, "Full", entry("A-1"), entry("B-2", blocked),
            entry("C-3", {"status": "Accepted", "expiryDate": "2099-01-01T00:00:00.000Z"}),
        ))
        assert answer["status"] == "Accepted"
        assert (await peer.call("GetLocalListVersion", {}))["listVersion"] == 7
        stored = {r.id_tag: r for r in s.station.auth.local_list.entries()}
        assert set(stored) == {"A-1", "B-2", "C-3"}
        assert stored["B-2"].status == "Blocked" and stored["B-2"].parent_id_tag == "FLEET"
        assert stored["C-3"].expiry is not None and stored["C-3"].expiry.year == 2099
        answer = await peer.call("SendLocalList", send_list(8, "Full", entry("D-4")))
        assert answer["status"] == "Accepted"  # a full list replaces the old one
        assert [r.id_tag for r in s.station.auth.local_list.entries()] == ["D-4"]


async def test_tc_043_2_send_local_list_differential(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await peer.call("SendLocalList", send_list(1, "Full", entry("A-1"), entry("B-2")))
        answer = await peer.call("SendLocalList", send_list(
            2, "Differential", entry("A-1", None), entry("C-3"),
            entry("B-2", {"status": "Expired"}),
        ))  # remove A-1, add C-3, update B-2
        assert answer["status"] == "Accepted"
        assert (await peer.call("GetLocalListVersion", {}))["listVersion"] == 2
        stored = {r.id_tag: r.status for r in s.station.auth.local_list.entries()}
        assert stored == {"B-2": "Expired", "C-3": "Accepted"}


async def test_tc_043_3_send_local_list_not_supported(tmp_path: Path) -> None:
    async with strict_station(tmp_path, [("LocalAuthListEnabled", "false")]) as (_s, peer):
        answer = await peer.call("SendLocalList", send_list(1, "Full", entry("A-1")))
        assert answer["status"] == "NotSupported"


async def test_tc_043_4_send_local_list_version_mismatch(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await peer.call("SendLocalList", send_list(5, "Full", entry("A-1")))
        answer = await peer.call("SendLocalList", send_list(5, "Differential", entry("B-2")))
        assert answer["status"] == "VersionMismatch"
        answer = await peer.call("SendLocalList", send_list(3, "Differential", entry("B-2")))
        assert answer["status"] == "VersionMismatch"
        assert [r.id_tag for r in s.station.auth.local_list.entries()] == ["A-1"]
        assert (await peer.call("GetLocalListVersion", {}))["listVersion"] == 5


async def test_tc_043_5_send_local_list_failed(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        too_many = [entry(f"T-{i}") for i in range(11)]  # SendLocalListMaxLength is 10
        answer = await peer.call("SendLocalList", send_list(1, "Full", *too_many))
        assert answer["status"] == "Failed"
        twice = send_list(1, "Full", entry("A-1"), entry("a-1"))  # idTags are case-insensitive
        assert (await peer.call("SendLocalList", twice))["status"] == "Failed"
        assert s.station.auth.local_list.entries() == []
        assert (await peer.call("GetLocalListVersion", {}))["listVersion"] == 0

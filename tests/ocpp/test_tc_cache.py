"""OCTT Core/Cache: the authorization cache (AuthorizationCacheEnabled, LocalPreAuthorize,
ClearCache)."""

from __future__ import annotations

from pathlib import Path

from tests.support.peer_harness import until
from tests.support.tc_harness import (
    CARD_A,
    card,
    demo_station,
    plug,
    status,
    strict_station,
    unplug,
    until_tx_id,
)

CACHE = [("AuthorizationCacheEnabled", "true"), ("LocalPreAuthorize", "true")]
REMOTE_AUTH = [*CACHE, ("AuthorizeRemoteTxRequests", "true")]


async def test_tc_007_1_regular_start_cached_id(tmp_path: Path) -> None:
    async with strict_station(tmp_path, CACHE) as (s, peer):
        await card(s, CARD_A)  # identification first: Authorize, and the answer is cached
        await peer.wait_for("Authorize")
        await plug(s, 1)
        await peer.wait_for("StartTransaction")
        await card(s, CARD_A)
        await peer.wait_for("StopTransaction")
        await unplug(s, 1)
        await status(peer, 1, "Available")
        await plug(s, 1)
        await status(peer, 1, "Preparing")
        await card(s, CARD_A)  # cached and Accepted: LocalPreAuthorize starts at once
        start = await peer.wait_for("StartTransaction")
        assert start["idTag"] == CARD_A
        assert len(peer.received("Authorize")) == 1


async def test_tc_007_2_remote_start_cached_id(tmp_path: Path) -> None:
    async with strict_station(tmp_path, REMOTE_AUTH) as (s, peer):
        await plug(s, 1)
        await plug(s, 2)
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "R-7"})
        assert answer["status"] == "Accepted"
        await peer.wait_for("Authorize")  # AuthorizeRemoteTxRequests: asked once, cached
        await peer.wait_for("StartTransaction", where=lambda p: p["connectorId"] == 1)
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "R-7"})
        assert answer["status"] == "Accepted"
        start = await peer.wait_for("StartTransaction", where=lambda p: p["connectorId"] == 2)
        assert start["idTag"] == "R-7"
        assert len(peer.received("Authorize")) == 1  # the second came from the cache


async def test_tc_061_1_clear_authorization_cache_local(tmp_path: Path) -> None:
    async with demo_station(tmp_path, CACHE) as (s, csms):
        await card(s, CARD_A)
        await csms.wait_for("Authorize")
        await until(lambda: s.station.auth.local_info(CARD_A) is not None)  # cached
        assert (await csms.call("ClearCache", {}))["status"] == "Accepted"
        assert s.station.auth.local_info(CARD_A) is None
        await card(s, CARD_A)  # not cached any more: asked again
        await csms.wait_for("Authorize")
        await plug(s, 1)
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD_A
        assert len(csms.received("Authorize")) == 2


async def test_tc_061_2_clear_authorization_cache_remote(tmp_path: Path) -> None:
    async with demo_station(tmp_path, REMOTE_AUTH) as (s, csms):
        await plug(s, 1)
        await plug(s, 2)
        answer = await csms.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "R-8"})
        assert answer["status"] == "Accepted"
        await csms.wait_for("StartTransaction")
        await until_tx_id(s, 1)  # StartTransaction.conf (whose idTagInfo is cached) is in
        assert (await csms.call("ClearCache", {}))["status"] == "Accepted"
        answer = await csms.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "R-8"})
        assert answer["status"] == "Accepted"
        await csms.wait_for("StartTransaction")
        assert [a["idTag"] for a in csms.received("Authorize")] == ["R-8", "R-8"]

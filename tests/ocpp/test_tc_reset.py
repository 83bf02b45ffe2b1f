"""OCTT Core/Reset: Reset Hard and Soft, with and without a transaction. In simulation the
station restarts in-process on the same state and the same simulated world."""

from __future__ import annotations

from pathlib import Path

from tests.support.tc_harness import CARD_A, charging, demo_station, status, strict_station


async def test_tc_013_hard_reset_without_transaction(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        assert (await peer.call("Reset", {"type": "Hard"}))["status"] == "Accepted"
        await s.wait_restarted()
        await peer.wait_for("BootNotification")  # the station came back
        assert s.restarts == [True]
        assert peer.received("StopTransaction") == []
        await status(peer, 1, "Available")


async def test_tc_014_soft_reset_without_transaction(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        assert (await csms.call("Reset", {"type": "Soft"}))["status"] == "Accepted"
        await s.wait_restarted()
        await csms.wait_for("BootNotification")
        assert s.restarts == [False]


async def test_tc_015_hard_reset_with_transaction(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        await charging(s, csms, 1, CARD_A)
        assert (await csms.call("Reset", {"type": "Hard"}))["status"] == "Accepted"
        stop = await csms.wait_for("StopTransaction")
        assert stop["reason"] == "HardReset"
        await s.wait_restarted()
        await csms.wait_for("BootNotification")
        calls = [m.action for m in csms.csms.messages if m.direction == "<-"]
        assert calls.index("StopTransaction") < len(calls) - 1 - calls[::-1].index(
            "BootNotification")  # stopped before the station went down
        # The EV is still plugged in after the restart; no transaction runs.
        await status(csms, 1, "Preparing")
        assert s.station.connectors[1].tx is None


async def test_tc_016_soft_reset_with_transaction(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await charging(s, peer, 2, CARD_A)
        assert (await peer.call("Reset", {"type": "Soft"}))["status"] == "Accepted"
        stop = await peer.wait_for("StopTransaction")
        assert stop["reason"] == "SoftReset"
        await s.wait_restarted()
        await peer.wait_for("BootNotification")
        await status(peer, 2, "Preparing")
        assert len(peer.received("StartTransaction")) == 1

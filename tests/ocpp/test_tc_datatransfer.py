"""OCTT Core/DataTransfer: both directions."""

from __future__ import annotations

from pathlib import Path

from tests.support.tc_harness import demo_station, strict_station


async def test_tc_062_data_transfer_to_a_charge_point(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        answer = await peer.call("DataTransfer", {"vendorId": "com.example.unknown",
                                                  "messageId": "Hello", "data": "x"})
        assert answer["status"] == "UnknownVendorId"

        def echo(message_id: str | None, data: str | None) -> tuple[str, str | None]:
            if message_id != "Echo":
                return "UnknownMessageId", None
            return "Accepted", data

        s.station.ops.register_vendor("works.openevse", echo)
        answer = await peer.call("DataTransfer", {"vendorId": "works.openevse",
                                                  "messageId": "Echo", "data": "ping"})
        assert answer == {"status": "Accepted", "data": "ping"}
        answer = await peer.call("DataTransfer", {"vendorId": "works.openevse",
                                                  "messageId": "Other"})
        assert answer == {"status": "UnknownMessageId"}


async def test_tc_064_data_transfer_to_central_system(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        assert await s.station.link.data_transfer("works.openevse", "Hello", "1") == (
            "UnknownVendorId", None)
        sent = await csms.wait_for("DataTransfer")
        assert sent == {"vendorId": "works.openevse", "messageId": "Hello", "data": "1"}
        csms.csms.data_transfer_answer = {"status": "Accepted", "data": "welcome"}
        assert await s.station.link.data_transfer("works.openevse") == ("Accepted", "welcome")
        assert await csms.wait_for("DataTransfer") == {"vendorId": "works.openevse"}

"""OCTT RemoteTrigger: TriggerMessage for every message it names."""

from __future__ import annotations

from pathlib import Path

from tests.support.tc_harness import CARD_A, charging, of_connector, strict_station


async def test_tc_054_trigger_message(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (s, peer):
        await charging(s, peer, 1, CARD_A)

        async def trigger(message: str, connector_id: int | None = None) -> str:
            req: dict[str, object] = {"requestedMessage": message}
            if connector_id is not None:
                req["connectorId"] = connector_id
            return str((await peer.call("TriggerMessage", req))["status"])

        assert await trigger("MeterValues", 1) == "Accepted"
        meter = await peer.wait_for("MeterValues", where=lambda p: any(
            sv.get("context") == "Trigger" for mv in p["meterValue"] for sv in mv["sampledValue"]
        ))
        assert meter["connectorId"] == 1 and "transactionId" in meter
        assert await trigger("Heartbeat") == "Accepted"
        await peer.wait_for("Heartbeat")
        assert await trigger("StatusNotification", 1) == "Accepted"
        triggered = await peer.wait_for("StatusNotification",
                                        where=lambda p: p["connectorId"] == 1)
        assert triggered["status"] == "Charging"
        assert await trigger("StatusNotification") == "Accepted"  # the station and every one
        for c in (0, 1, 2):
            await peer.wait_for("StatusNotification", where=of_connector(c))
        assert await trigger("BootNotification") == "Accepted"
        await peer.wait_for("BootNotification")
        # No FirmwareManagement profile: its status notifications are not implemented.
        assert await trigger("DiagnosticsStatusNotification") == "NotImplemented"
        assert await trigger("FirmwareStatusNotification") == "NotImplemented"


async def test_tc_055_trigger_message_rejected(tmp_path: Path) -> None:
    async with strict_station(tmp_path) as (_s, peer):
        answer = await peer.call("TriggerMessage", {"requestedMessage": "MeterValues",
                                                    "connectorId": 9})
        assert answer["status"] == "Rejected"
        answer = await peer.call("TriggerMessage", {"requestedMessage": "StatusNotification",
                                                    "connectorId": 3})
        assert answer["status"] == "Rejected"
        assert peer.received("MeterValues") == []

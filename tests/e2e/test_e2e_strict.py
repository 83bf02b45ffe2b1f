"""The spine's sessions against an independent strict central system: ocpp-rpc in strict
mode validates every message both ways against the official OCPP 1.6 JSON schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION, DC_STATION
from tests.support.peer_harness import StrictPeer

pytestmark = pytest.mark.peer

KEYS = [("MeterValueSampleInterval", "1")]


async def test_ac_session_strict(tmp_path: Path) -> None:
    async with StrictPeer() as peer, SimulatedStation(
        AC_STATION, csms_url=peer.url, state_dir=tmp_path, set_keys=KEYS
    ) as s:
        await peer.wait_for("BootNotification")
        await s.api("POST", "/api/sim/connectors/1/plug")
        await s.wait_connector(1, lambda c: c["status"] == "Preparing")
        await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
        start = await peer.wait_for("StartTransaction")
        await s.wait_connector(1, lambda c: c["status"] == "Charging" and c["power_w"] > 0)
        meter = await peer.wait_for("MeterValues", where=lambda p: "transactionId" in p)
        measurands = {sv.get("measurand") for mv in meter["meterValue"]
                      for sv in mv["sampledValue"]}
        assert {"Energy.Active.Import.Register", "Power.Active.Import"} <= measurands
        await s.api("POST", "/api/sim/connectors/1/unplug")
        stop = await peer.wait_for("StopTransaction")
        assert stop["reason"] == "EVDisconnected"
        assert stop["meterStop"] > start["meterStart"]
        # A remote start/stop round trip through the strict peer as well.
        await s.api("POST", "/api/sim/connectors/2/plug")
        answer = await peer.call("RemoteStartTransaction", {"connectorId": 2, "idTag": "R1"})
        assert answer["status"] == "Accepted"
        started = await peer.wait_for("StartTransaction", where=lambda p: p["connectorId"] == 2)
        await s.wait_connector(2, lambda c: c["status"] == "Charging")
        tx = s.station.connectors[2].tx
        assert tx is not None and tx.transaction_id is not None
        answer = await peer.call("RemoteStopTransaction", {"transactionId": tx.transaction_id})
        assert answer["status"] == "Accepted"
        stop = await peer.wait_for("StopTransaction", where=lambda p: p["reason"] == "Remote")
        assert stop["idTag"] == started["idTag"] == "R1"
        assert peer.strict_failures == []


async def test_dc_session_strict(tmp_path: Path) -> None:
    async with StrictPeer() as peer, SimulatedStation(
        DC_STATION, csms_url=peer.url, state_dir=tmp_path, set_keys=KEYS
    ) as s:
        await peer.wait_for("BootNotification")
        await s.api("POST", "/api/sim/connectors/1/plug", {"ev": {"soc": 30}})
        await s.wait_connector(1, lambda c: c["status"] == "Preparing")
        await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
        await peer.wait_for("StartTransaction")
        charging = await s.wait_connector(
            1, lambda c: c["status"] == "Charging" and c["power_w"] > 10_000,
            timeout=20, what="DC charging",
        )
        assert charging["contactor_closed"] is True
        meter = await peer.wait_for(
            "MeterValues",
            where=lambda p: any(sv.get("measurand") == "SoC"
                                for mv in p["meterValue"] for sv in mv["sampledValue"]),
        )
        measurands = {sv.get("measurand") for mv in meter["meterValue"]
                      for sv in mv["sampledValue"]}
        assert {"Energy.Active.Import.Register", "Power.Active.Import", "SoC",
                "Voltage", "Current.Import"} <= measurands
        # The DC meter counts whole Wh: let it count some before the EV leaves.
        await s.wait_connector(1, lambda c: c["energy_wh"] >= 5, timeout=20, what="energy")
        await s.api("POST", "/api/sim/connectors/1/unplug")
        stop = await peer.wait_for("StopTransaction", timeout=15)
        assert stop["meterStop"] >= 5
        state = await s.wait_connector(1, lambda c: c["status"] == "Available", timeout=15)
        assert state["contactor_closed"] is False
        assert peer.strict_failures == []

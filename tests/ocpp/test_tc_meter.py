"""OCTT 1.6 test cases of the group Core/Meter (sampled and clock-aligned meter values),
against the strict central system with a whole simulated AC station."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from firmware.ocpp.rpc import parse_time
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION
from tests.support.peer_harness import StrictPeer

pytestmark = pytest.mark.peer


async def _configure(peer: StrictPeer, settings: dict[str, str]) -> None:
    for key, value in settings.items():
        answer = await peer.call("ChangeConfiguration", {"key": key, "value": value})
        assert answer["status"] == "Accepted", key


async def _remote_session(peer: StrictPeer, s: SimulatedStation) -> dict[str, Any]:
    """Plug connector 1, start remotely; returns StartTransaction.req."""
    await s.api("POST", "/api/sim/connectors/1/plug")
    await peer.wait_for("StatusNotification", where=lambda p: p["status"] == "Preparing")
    answer = await peer.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "TC070"})
    assert answer["status"] == "Accepted"
    start = await peer.wait_for("StartTransaction")
    await peer.wait_for("StatusNotification", where=lambda p: p["status"] == "Charging")
    return start


def _times(values: list[dict[str, Any]]) -> list[datetime]:
    return [parse_time(mv["meterValue"][0]["timestamp"]) for mv in values]


async def test_tc_070_sampled_meter_values(tmp_path: Path) -> None:
    measurands = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"
    async with StrictPeer() as peer, SimulatedStation(
        AC_STATION, csms_url=peer.url, state_dir=tmp_path
    ) as s:
        await peer.wait_for("BootNotification")
        await _configure(peer, {
            "MeterValueSampleInterval": "1", "ClockAlignedDataInterval": "0",
            "MeterValuesSampledData": measurands,
            "StopTxnSampledData": "Energy.Active.Import.Register,Power.Active.Import",
        })
        await _remote_session(peer, s)
        samples = [await peer.wait_for("MeterValues", timeout=5) for _ in range(2)]
        tx = s.station.connectors[1].tx
        assert tx is not None and tx.transaction_id is not None
        answer = await peer.call("RemoteStopTransaction", {"transactionId": tx.transaction_id})
        assert answer["status"] == "Accepted"
        stop = await peer.wait_for("StopTransaction")
        assert peer.strict_failures == []
    for mv in samples:
        assert mv["connectorId"] == 1 and mv["transactionId"] == tx.transaction_id
        values = mv["meterValue"][0]["sampledValue"]
        assert {v["context"] for v in values} == {"Sample.Periodic"}
        assert [v["measurand"] for v in values] == [
            "Energy.Active.Import.Register", "Power.Active.Import",
            "Current.Import", "Current.Import", "Current.Import",
        ]
        assert [v.get("phase") for v in values[2:]] == ["L1", "L2", "L3"]
    times = _times(samples)
    assert times == sorted(times) and len(set(times)) == 2
    energy = [float(mv["meterValue"][0]["sampledValue"][0]["value"]) for mv in samples]
    assert energy == sorted(energy)
    assert stop["reason"] == "Remote" and stop["transactionId"] == tx.transaction_id
    data = stop["transactionData"]
    assert data[0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert data[-1]["sampledValue"][0]["context"] == "Transaction.End"
    assert any(v["measurand"] == "Power.Active.Import" and v["context"] == "Sample.Periodic"
               for mv in data[1:-1] for v in mv["sampledValue"])


async def test_tc_071_clock_aligned_meter_values(tmp_path: Path) -> None:
    async with StrictPeer() as peer, SimulatedStation(
        AC_STATION, csms_url=peer.url, state_dir=tmp_path
    ) as s:
        await peer.wait_for("BootNotification")
        await _configure(peer, {
            "MeterValueSampleInterval": "0", "ClockAlignedDataInterval": "1",
            "MeterValuesAlignedData": "Energy.Active.Import.Register,Voltage",
        })
        await _remote_session(peer, s)
        tx = s.station.connectors[1].tx
        assert tx is not None

        def in_transaction(p: dict[str, Any]) -> bool:
            return p["connectorId"] == 1 and "transactionId" in p

        aligned = [await peer.wait_for("MeterValues", timeout=5, where=in_transaction)
                   for _ in range(2)]
        idle = await peer.wait_for("MeterValues", where=lambda p: p["connectorId"] == 2)
        assert peer.strict_failures == []
    for mv in aligned:
        assert mv["transactionId"] == tx.transaction_id
        values = mv["meterValue"][0]["sampledValue"]
        assert {v["context"] for v in values} == {"Sample.Clock"}
        assert {v["measurand"] for v in values} == {"Energy.Active.Import.Register", "Voltage"}
    # The timestamp is the interval's boundary (a whole second here), not the sampling time.
    assert all(t.microsecond == 0 for t in _times(aligned))
    assert len(set(_times(aligned))) == 2
    # A connector without a transaction reports its aligned values too (not queued).
    assert "transactionId" not in idle
    assert idle["meterValue"][0]["sampledValue"][0]["context"] == "Sample.Clock"

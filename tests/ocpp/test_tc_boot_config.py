"""OCTT 1.6 test cases of the groups Core/Boot and Core/Config, against the strict central
system (ocpp-rpc validating every message both ways) over a real WebSocket, with a whole
simulated AC station (two connectors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firmware.ocpp.key_specs import Access
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION
from tests.support.peer_harness import PeerCallError, StrictPeer

pytestmark = pytest.mark.peer


def _index(peer: StrictPeer, action: str, *, last: bool = False) -> int:
    """Position of the first (or last) CALL ``action`` among the peer's events."""
    found = [i for i, e in enumerate(peer.events)
             if e["event"] == "recv" and e["action"] == action]
    assert found, f"no {action}"
    return found[-1] if last else found[0]


async def _booted(peer: StrictPeer, connectors: int = 2) -> None:
    """Wait for the (next) boot and the status of every connector after it."""
    await peer.wait_for("BootNotification")
    for _ in range(connectors + 1):
        await peer.wait_for("StatusNotification")


async def _config(peer: StrictPeer, keys: list[str] | None = None) -> dict[str, Any]:
    result = await peer.call("GetConfiguration", {"key": keys} if keys is not None else {})
    return {e["key"]: e for e in result["configurationKey"]} | {
        "unknownKey": result.get("unknownKey", [])
    }


async def test_tc_001_cold_boot(tmp_path: Path) -> None:
    async with StrictPeer() as peer:
        await peer.set_boot("Accepted", 1)
        async with SimulatedStation(AC_STATION, csms_url=peer.url, state_dir=tmp_path) as s:
            boot = await peer.wait_for("BootNotification")
            statuses = [await peer.wait_for("StatusNotification") for _ in range(3)]
            await peer.wait_for("Heartbeat", timeout=5)  # after HeartbeatInterval idle
            assert s.runtime.keys.get("HeartbeatInterval") == "1"  # taken from the answer
        assert peer.strict_failures == []
    assert boot["chargePointVendor"] == "OpenEVSE Works"
    assert boot["chargePointModel"] == "AC22-2S"
    assert boot["chargePointSerialNumber"] == "AC22S-000001"
    assert [st["connectorId"] for st in statuses] == [0, 1, 2]
    assert all(st["status"] == "Available" and st["errorCode"] == "NoError"
               for st in statuses)
    assert _index(peer, "BootNotification") < _index(peer, "StatusNotification")


async def test_tc_002_cold_boot_pending(tmp_path: Path) -> None:
    async with StrictPeer() as peer:
        await peer.set_boot("Pending", 1)
        async with SimulatedStation(AC_STATION, csms_url=peer.url, state_dir=tmp_path) as s:
            await peer.wait_for("BootNotification")
            # While pending the central system may configure the station...
            config = await _config(peer)
            assert "MeterValueSampleInterval" in config
            change = {"key": "MeterValueSampleInterval", "value": "15"}
            assert (await peer.call("ChangeConfiguration", change))["status"] == "Accepted"
            # ...and the station sends nothing but BootNotification, again after interval.
            await peer.wait_for("BootNotification", timeout=5)
            assert peer.received("StatusNotification") == []
            assert not s.station.link.online
            await peer.set_boot("Accepted", 300)
            statuses = [await peer.wait_for("StatusNotification", timeout=5) for _ in range(3)]
            assert s.station.link.online
            assert s.runtime.keys.get("MeterValueSampleInterval") == "15"
        assert peer.strict_failures == []
    assert [st["connectorId"] for st in statuses] == [0, 1, 2]
    assert {st["status"] for st in statuses} == {"Available"}
    assert _index(peer, "BootNotification", last=True) < _index(peer, "StatusNotification")
    assert {e["action"] for e in peer.events
            if e["event"] == "recv" and peer.events.index(e) < _index(
                peer, "StatusNotification")} == {"BootNotification"}


async def test_tc_019_retrieve_configuration(tmp_path: Path) -> None:
    async with StrictPeer() as peer, SimulatedStation(
        AC_STATION, csms_url=peer.url, state_dir=tmp_path,
        set_keys=[("AuthorizationKey", "0123456789abcdef0123")],
    ) as s:
        await peer.wait_for("StatusNotification")
        everything = await _config(peer)
        some = await _config(peer, ["HeartbeatInterval", "numberofconnectors", "NoSuchKey",
                                    "AuthorizationKey", "Connectors"])
        specs = s.runtime.keys.specs()
        # More keys than GetConfigurationMaxKeys in one request: refused as a whole.
        limit = int(everything["GetConfigurationMaxKeys"]["value"])
        with pytest.raises(PeerCallError) as refused:
            await peer.call("GetConfiguration", {"key": [f"K{i}" for i in range(limit + 1)]})
        assert refused.value.code == "OccurenceConstraintViolation"
        assert s.station.link.online
        assert peer.strict_failures == []
    readable = {sp.name for sp in specs if sp.access != Access.W}
    assert set(everything) - {"unknownKey"} == readable  # every key, write-only ones not
    assert everything["unknownKey"] == []
    for spec in specs:
        if spec.access != Access.W:
            assert everything[spec.name]["readonly"] is (spec.access == Access.R), spec.name
    assert everything["NumberOfConnectors"]["value"] == "2"
    assert everything["SupportedFeatureProfiles"]["value"].startswith("Core")
    assert set(some) == {"HeartbeatInterval", "NumberOfConnectors", "Connectors",
                         "unknownKey"}
    assert some["unknownKey"] == ["NoSuchKey", "AuthorizationKey"]
    assert some["Connectors"]["value"].startswith("{'connectors':[")


async def test_tc_021_change_and_set_configuration(tmp_path: Path) -> None:
    async with StrictPeer() as peer:
        async with SimulatedStation(AC_STATION, csms_url=peer.url, state_dir=tmp_path):
            await _booted(peer)
            change = peer.call
            for key, value, expected in (
                ("MeterValueSampleInterval", "20", "Accepted"),
                ("HeartbeatInterval", "600", "Accepted"),
                ("LocalAuthorizeOffline", "false", "Accepted"),
                ("MaxGridPower", "30000", "RebootRequired"),
                ("chargePointIdentity", "EVSE-AC-0099", "RebootRequired"),
            ):
                answer = await change("ChangeConfiguration", {"key": key, "value": value})
                assert answer["status"] == expected, key
            after = await _config(peer, ["MeterValueSampleInterval", "HeartbeatInterval",
                                         "LocalAuthorizeOffline", "MaxGridPower"])
        # A reboot (same state directory): the values stay.
        async with SimulatedStation(AC_STATION, csms_url=peer.url, state_dir=tmp_path):
            await _booted(peer)
            rebooted = await _config(peer, ["MeterValueSampleInterval", "MaxGridPower",
                                            "chargePointIdentity"])
        assert peer.strict_failures == []
    assert after["MeterValueSampleInterval"]["value"] == "20"
    assert after["HeartbeatInterval"]["value"] == "600"
    assert after["LocalAuthorizeOffline"]["value"] == "false"
    assert after["MaxGridPower"]["value"] == "30000"
    assert rebooted["MeterValueSampleInterval"]["value"] == "20"
    assert rebooted["MaxGridPower"]["value"] == "30000"
    # The new identity is the one the station connects with after the reboot.
    identities = [e["identity"] for e in peer.events if e["event"] == "connected"]
    assert identities == ["EVSE-AC-0001", "EVSE-AC-0099"]
    assert rebooted["chargePointIdentity"]["value"] == "EVSE-AC-0099"


async def test_tc_040_1_configuration_key_not_supported(tmp_path: Path) -> None:
    async with StrictPeer() as peer, SimulatedStation(
        AC_STATION, csms_url=peer.url, state_dir=tmp_path
    ):
        await peer.wait_for("StatusNotification")
        for key in ("UnknownKeyName", "MeterValueSampleIntervall", "HycKioskModeTagId"):
            answer = await peer.call("ChangeConfiguration", {"key": key, "value": "1"})
            assert answer["status"] == "NotSupported", key
        assert (await _config(peer, ["UnknownKeyName"]))["unknownKey"] == ["UnknownKeyName"]
        assert peer.strict_failures == []


async def test_tc_040_2_configuration_key_invalid_value(tmp_path: Path) -> None:
    async with StrictPeer() as peer, SimulatedStation(
        AC_STATION, csms_url=peer.url, state_dir=tmp_path
    ) as s:
        await peer.wait_for("StatusNotification")
        before = await _config(peer)
        for key, value in (
            ("MeterValueSampleInterval", "-1"),
            ("MeterValueSampleInterval", "fifteen"),
            ("HeartbeatInterval", "1.5"),
            ("WebSocketPingInterval", "-60"),
            ("LocalAuthorizeOffline", "maybe"),
            ("MeterValuesSampledData", "Energy.Active.Import.Register,Speed"),
            ("ChargingStrategy", "RANDOM"),
            ("ConnectorsPowerLimit", "22000"),  # two connectors, one value
            ("NumberOfConnectors", "3"),  # read-only
            ("Connectors", "{}"),  # read-only
            ("AuthorizationKey", "short"),
        ):
            answer = await peer.call("ChangeConfiguration", {"key": key, "value": value})
            assert answer["status"] == "Rejected", (key, value)
        after = await _config(peer)
        assert s.station.link.online  # still running
        assert peer.strict_failures == []
    assert after == before

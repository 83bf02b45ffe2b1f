"""Whole OCPP sessions against an independent, strict central system (Node, ocpp-rpc).

The peer validates every message in both directions against the official OCPP 1.6 JSON
schemas (formats included); each test ends with zero strict failures.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from firmware.clock import SystemClock
from firmware.config.model import Identity
from firmware.ocpp.key_specs import SAMPLED_MEASURANDS
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.link import Backoff, OcppLink
from firmware.ports import StatusReport
from firmware.storage.store import Store
from tests.support.peer_harness import (
    PeerCallError,
    StrictPeer,
    StubStation,
    install_stub_profiles,
    running,
    until,
)

pytestmark = pytest.mark.peer

CP = "EVSE-STRICT-1"
IDENTITY = Identity(
    charge_point_id=CP, vendor="OpenEVSE Works", model="DC50", serial_number="DC50-0001",
    charge_box_serial_number="DC50-0001-CB", firmware_version="0.1.0-test",
    meter_type="DCM", meter_serial_number="M-77", iccid="8931000000000000001",
    imsi="262010000000001",
)


def make_link(station: StubStation, url: str, keys: ConfigKeys, store: Store) -> OcppLink:
    link = OcppLink(
        IDENTITY, url, store, keys, SystemClock(),
        connector_count=len(station.connector_ids()),
        backoff=Backoff(initial=0.05, maximum=0.2, rng=random.Random(3)),
        call_timeout=5.0, authorize_timeout=3.0, boot_retry_s=0.5,
    )
    return install_stub_profiles(link, station)


@pytest.fixture
def store() -> Store:
    return Store(None)


@pytest.fixture
def keys(store: Store) -> ConfigKeys:
    keys = ConfigKeys(store)
    keys.set_initial("MeterValueSampleInterval", "1")
    keys.set_initial("MeterValuesSampledData", ",".join(SAMPLED_MEASURANDS))
    keys.set_initial("StopTxnSampledData", "Energy.Active.Import.Register,Current.Import,Voltage")
    return keys


async def test_full_session_has_no_strict_failures(keys: ConfigKeys, store: Store) -> None:
    station = StubStation()
    async with StrictPeer() as peer:
        link = make_link(station, peer.url, keys, store)
        async with running(link, station):
            boot = await peer.wait_for("BootNotification")
            for _ in range(3):
                await peer.wait_for("StatusNotification")
            await until(lambda: link.online)

            assert (await link.authorize("04A2B3C4D5")).accepted  # type: ignore[union-attr]
            invalid = await link.authorize("INVALID-9")
            assert invalid is not None and invalid.status == "Invalid"

            report = StatusReport("Charging")
            station.statuses[1] = report
            link.notify_status(1, report)
            await peer.wait_for("StatusNotification", where=lambda p: p["status"] == "Charging")

            handle = link.start_transaction(1, "04A2B3C4D5", 1234.0, datetime.now(UTC))
            station.transactions[1] = handle
            start = await peer.wait_for("StartTransaction")
            sample = await peer.wait_for("MeterValues")
            await until(lambda: handle.transaction_id is not None)

            result = await peer.call("GetConfiguration", {})
            assert len(result["configurationKey"]) > 20
            result = await peer.call("GetConfiguration", {"key": ["HeartbeatInterval", "Nope"]})
            assert result["unknownKey"] == ["Nope"]
            change = {"key": "MeterValueSampleInterval", "value": "1"}
            assert (await peer.call("ChangeConfiguration", change))["status"] == "Accepted"
            change = {"key": "HeartbeatInterval", "value": "-1"}
            assert (await peer.call("ChangeConfiguration", change))["status"] == "Rejected"
            change = {"key": "Unknown", "value": "1"}
            assert (await peer.call("ChangeConfiguration", change))["status"] == "NotSupported"

            for message in ("Heartbeat", "StatusNotification", "MeterValues"):
                trigger = {"requestedMessage": message, "connectorId": 1}
                assert (await peer.call("TriggerMessage", trigger))["status"] == "Accepted"
                await peer.wait_for(message)

            start_remote = {"idTag": "REMOTE-1", "connectorId": 2}
            assert (await peer.call("RemoteStartTransaction", start_remote))["status"] == \
                "Accepted"
            zero = {"idTag": "REMOTE-1", "connectorId": 0}
            assert (await peer.call("RemoteStartTransaction", zero))["status"] == "Rejected"
            unknown = {"transactionId": handle.transaction_id + 1000}  # type: ignore[operator]
            assert (await peer.call("RemoteStopTransaction", unknown))["status"] == "Rejected"
            stop_remote = {"transactionId": handle.transaction_id}
            assert (await peer.call("RemoteStopTransaction", stop_remote))["status"] == \
                "Accepted"

            assert (await peer.call("Reset", {"type": "Soft"}))["status"] == "Rejected"
            availability = {"connectorId": 1, "type": "Inoperative"}
            assert (await peer.call("ChangeAvailability", availability))["status"] == "Rejected"
            unlock = await peer.call("UnlockConnector", {"connectorId": 1})
            assert unlock["status"] == "NotSupported"
            assert (await peer.call("ClearCache", {}))["status"] == "Accepted"
            transfer = await peer.call("DataTransfer", {"vendorId": "ACME"})
            assert transfer["status"] == "UnknownVendorId"
            with pytest.raises(PeerCallError) as refused:
                await peer.call("GetLocalListVersion", {})
            assert refused.value.code == "NotSupported"

            link.stop_transaction(handle, 2345.6, datetime.now(UTC), "Remote", "04A2B3C4D5")
            stop = await peer.wait_for("StopTransaction")
            await until(lambda: store.queue_len() == 0)

    assert boot["chargePointVendor"] == "OpenEVSE Works" and boot["iccid"] == "8931000000000000001"
    assert start["meterStart"] == 1234
    measurands = {v["measurand"] for v in sample["meterValue"][0]["sampledValue"]}
    assert {"Frequency", "Temperature", "Current.Offered"} <= measurands
    assert stop["transactionId"] == handle.transaction_id and stop["meterStop"] == 2346
    assert station.remote_starts == [(2, "REMOTE-1")] and station.remote_stops == [1]
    assert peer.strict_failures == []


async def test_dc_meter_values_and_pending_boot(keys: ConfigKeys, store: Store) -> None:
    station = StubStation(connectors=(1,), dc=True)
    async with StrictPeer() as peer:
        await peer.set_boot("Pending", 1)
        link = make_link(station, peer.url, keys, store)
        async with running(link, station):
            await peer.wait_for("BootNotification")
            await peer.wait_for("BootNotification")
            assert peer.received("StatusNotification") == []  # nothing before Accepted
            await peer.set_boot("Accepted", 300)
            # A pending boot is completed by the central system's TriggerMessage.
            trigger = {"requestedMessage": "BootNotification"}
            assert (await peer.call("TriggerMessage", trigger))["status"] == "Accepted"
            await peer.wait_for("StatusNotification")
            await until(lambda: link.online)
            handle = link.start_transaction(1, "DCTAG", 0, datetime.now(UTC))
            sample = await peer.wait_for("MeterValues")
            link.stop_transaction(handle, 5000, datetime.now(UTC), "EVDisconnected")
            await peer.wait_for("StopTransaction")
            await until(lambda: store.queue_len() == 0)
    values = {v["measurand"]: v for v in sample["meterValue"][0]["sampledValue"]}
    assert values["SoC"]["unit"] == "Percent" and "phase" not in values["Voltage"]
    assert peer.strict_failures == []


async def test_offline_queue_after_reconnect(keys: ConfigKeys, store: Store) -> None:
    station = StubStation()
    async with StrictPeer() as peer:
        link = make_link(station, peer.url, keys, store)
        async with running(link, station):
            await until(lambda: link.online)
            await peer.disconnect()
            await until(lambda: not link.online)
            # Whatever happens while the link is down goes into the queue, in order.
            handle = link.start_transaction(2, "OFFLINE-1", 10, datetime.now(UTC))
            link.stop_transaction(handle, 20, datetime.now(UTC), "Local")
            start = await peer.wait_for("StartTransaction")
            stop = await peer.wait_for("StopTransaction")
    assert start["idTag"] == "OFFLINE-1"
    assert stop["transactionId"] == handle.transaction_id is not None
    assert peer.strict_failures == []


async def test_the_peer_does_report_schema_violations(keys: ConfigKeys, store: Store) -> None:
    """The zero-failure checks above mean something: a bad message is caught."""
    station = StubStation()
    async with StrictPeer() as peer:
        link = make_link(station, peer.url, keys, store)
        async with running(link, station):
            await until(lambda: link.online)
            with pytest.raises(PeerCallError):
                await peer.call("RemoteStartTransaction", {"idTag": 5})
    assert [f["method"] for f in peer.strict_failures] == ["RemoteStartTransaction"]
    assert station.remote_starts == []

"""The OCPP 1.6J client against the demo central system over real WebSockets on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from firmware.clock import ManualClock, SystemClock
from firmware.config.model import Identity
from firmware.ocpp.key_specs import InvalidValue
from firmware.ocpp.keys import ChangeResult, ConfigKeys
from firmware.ocpp.link import Backoff, OcppLink
from firmware.ocpp.metering import next_sample_time, sampled_values
from firmware.ocpp.rpc import CallFailed, Router, Rpc, RpcClosed
from firmware.ports import MeterSnapshot, StatusReport
from firmware.storage.store import Store
from hal_sim.csms_demo import DemoCsms, serve
from tests.support.peer_harness import StubStation, install_stub_profiles, running, until

CP = "CP-TEST-1"
IDENTITY = Identity(
    charge_point_id=CP, vendor="OpenEVSE Works", model="AC22-2S", serial_number="SN-1",
    meter_type="SDM630", meter_serial_number="", iccid=None,
)


@pytest.fixture
async def csms() -> AsyncIterator[DemoCsms]:
    server = await serve()
    yield server
    await server.close()


@pytest.fixture
def store() -> Store:
    return Store(None)


@pytest.fixture
def keys(store: Store) -> ConfigKeys:
    return ConfigKeys(store)


@pytest.fixture
def station() -> StubStation:
    return StubStation()


def make_link(
    station: StubStation, url: str, store: Store, keys: ConfigKeys, clock: Any = None
) -> OcppLink:
    link = OcppLink(
        IDENTITY, url, store, keys, clock or ManualClock(),
        connector_count=len(station.connector_ids()),
        backoff=Backoff(initial=0.05, maximum=0.2, rng=random.Random(1)),
        call_timeout=5.0, authorize_timeout=2.0, boot_retry_s=0.2,
    )
    return install_stub_profiles(link, station)


def cp_calls(csms: DemoCsms) -> list[str]:
    """Actions of the CALLs the charge point sent, in order."""
    return [m.action for m in csms.messages if m.direction == "<-" and "." not in m.action]


# --------------------------------------------------------------------------- boot


async def test_boot_accepted_then_status_of_every_connector(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    clock = ManualClock()  # its wall clock starts at 2026-01-01: the boot sets it
    link = make_link(station, csms.url, store, keys, clock)
    async with running(link, station):
        await until(lambda: link.online)
        statuses = await csms.wait_for(CP, "StatusNotification", count=3)
    boot = csms.received(CP, "BootNotification")[0]
    assert boot == {
        "chargePointVendor": "OpenEVSE Works", "chargePointModel": "AC22-2S",
        "chargePointSerialNumber": "SN-1", "meterType": "SDM630", "firmwareVersion": "0.1.0",
    }  # empty / absent identity fields are left out
    assert [s["connectorId"] for s in statuses] == [0, 1, 2]
    assert all(s["status"] == "Available" and s["errorCode"] == "NoError" for s in statuses)
    assert cp_calls(csms)[:4] == ["BootNotification"] + ["StatusNotification"] * 3
    assert keys.get("HeartbeatInterval") == "300"  # from the boot answer
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=1)
    assert not link.online  # after the link stopped


async def test_boot_pending_sends_nothing_else_but_answers_calls(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    csms.boot_status, csms.boot_interval = "Pending", 1
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await csms.wait_for(CP, "BootNotification")
        assert not link.online
        config = await csms.get_configuration(CP, ["HeartbeatInterval"])
        assert config["configurationKey"][0]["key"] == "HeartbeatInterval"
        assert set(cp_calls(csms)) == {"BootNotification"}
        csms.boot_status = "Accepted"
        await until(lambda: link.online)
        await csms.wait_for(CP, "StatusNotification", count=3)
    calls = cp_calls(csms)
    first_status = calls.index("StatusNotification")
    assert set(calls[:first_status]) == {"BootNotification"} and first_status >= 2


async def test_boot_rejected_is_retried_after_interval(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    csms.boot_status, csms.boot_interval = "Rejected", 1
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await csms.wait_for(CP, "BootNotification", count=2)
        assert not link.online
        assert await link.authorize("TAG") is None  # not online: nothing goes out
    assert set(cp_calls(csms)) == {"BootNotification"}


async def test_boot_pending_completed_by_trigger_message(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    csms.boot_status, csms.boot_interval = "Pending", 3600
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await csms.wait_for(CP, "BootNotification")
        csms.boot_status = "Accepted"
        result = await csms.call(CP, call.TriggerMessage(requested_message="BootNotification"))
        assert result.status == "Accepted"
        await until(lambda: link.online)


async def test_boot_callerror_is_retried(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    csms.fail_next("BootNotification", 1)
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await until(lambda: link.online)
    assert cp_calls(csms)[:2] == ["BootNotification", "BootNotification"]


async def test_heartbeat_after_interval_of_inactivity(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    csms.boot_interval = 1
    link = make_link(station, csms.url, store, keys, SystemClock())
    async with running(link, station):
        beats = await csms.wait_for(CP, "Heartbeat")
    assert beats == [{}]
    assert keys.get_int("HeartbeatInterval") == 1


# --------------------------------------------------------------------------- status


async def test_status_changes_and_current_status_after_reconnect(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    link = make_link(station, csms.url, store, keys)
    link.notify_status(1, StatusReport("Preparing"))  # offline: not queued
    async with running(link, station):
        await until(lambda: link.online)
        await csms.wait_for(CP, "StatusNotification", count=3)
        report = StatusReport("Faulted", "GroundFailure", "RCD tripped", "106", "OpenEVSE")
        station.statuses[2] = report
        link.notify_status(2, report)
        sent = (await csms.wait_for(CP, "StatusNotification", count=4))[-1]
        assert sent["connectorId"] == 2 and sent["status"] == "Faulted"
        assert sent["errorCode"] == "GroundFailure" and sent["info"] == "RCD tripped"
        assert sent["vendorErrorCode"] == "106" and sent["vendorId"] == "OpenEVSE"
        await csms.disconnect(CP)
        await csms.wait_for(CP, "BootNotification", count=2)
        after = (await csms.wait_for(CP, "StatusNotification", count=7))[4:]
    assert [s["connectorId"] for s in after] == [0, 1, 2]
    assert after[2]["status"] == "Faulted"
    assert all(s["status"] != "Preparing" for s in csms.received(CP, "StatusNotification"))


# --------------------------------------------------------------------------- authorize


async def test_authorize_accepted_invalid_and_offline(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    link = make_link(station, csms.url, store, keys)
    assert await link.authorize("04A2B3C4") is None  # not started: offline
    async with running(link, station):
        await until(lambda: link.online)
        ok = await link.authorize("04A2B3C4")
        bad = await link.authorize("INVALID-1")
        blocked = await link.authorize("BLOCKED-1")
    assert ok is not None and ok.accepted
    assert bad is not None and bad.status == "Invalid"
    assert blocked is not None and blocked.status == "Blocked"
    assert await link.authorize("04A2B3C4") is None


# --------------------------------------------------------------------------- transactions


async def test_transaction_with_sampled_meter_values(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    keys.set_initial("MeterValueSampleInterval", "1")
    keys.set_initial("StopTxnSampledData", "Energy.Active.Import.Register,Power.Active.Import")
    link = make_link(station, csms.url, store, keys, SystemClock())
    async with running(link, station):
        await until(lambda: link.online)
        started = datetime.now(UTC)
        handle = link.start_transaction(1, "04A2B3C4", 1000.4, started)
        station.transactions[1] = handle
        start = (await csms.wait_for(CP, "StartTransaction"))[0]
        await until(lambda: handle.transaction_id is not None)
        samples = await csms.wait_for(CP, "MeterValues")
        link.stop_transaction(handle, 1100.0, datetime.now(UTC), "EVDisconnected")
        stop = (await csms.wait_for(CP, "StopTransaction"))[0]
        await until(lambda: store.queue_len() == 0)
    assert start["connectorId"] == 1 and start["idTag"] == "04A2B3C4"
    assert start["meterStart"] == 1000
    assert station.authorizations[0][0] is handle
    assert station.authorizations[0][1].accepted
    for mv in samples:
        assert mv["transactionId"] == handle.transaction_id and mv["connectorId"] == 1
        values = mv["meterValue"][0]["sampledValue"]
        by = {(v["measurand"], v.get("phase")): v for v in values}
        assert by[("Energy.Active.Import.Register", None)]["unit"] == "Wh"
        assert by[("Power.Active.Import", None)]["unit"] == "W"
        assert by[("Current.Import", "L2")]["value"] == "10.70"
        assert by[("Voltage", "L3-N")]["unit"] == "V"
        assert ("SoC", None) not in by  # the AC snapshot has no SoC
        assert {v["context"] for v in values} == {"Sample.Periodic"}
    assert stop["transactionId"] == handle.transaction_id
    assert stop["meterStop"] == 1100 and stop["reason"] == "EVDisconnected"
    data = stop["transactionData"]
    assert data[0]["sampledValue"][0]["context"] == "Transaction.Begin"
    assert data[0]["sampledValue"][0]["value"] == "1000.4"
    assert data[-1]["sampledValue"][0]["context"] == "Transaction.End"
    assert any(v["measurand"] == "Power.Active.Import"
               for mv in data[1:-1] for v in mv["sampledValue"])
    assert store.transaction(handle.local_id) is None  # delivered and forgotten


async def test_offline_transactions_delivered_in_order_with_id_swap(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    link = make_link(station, csms.url, store, keys)
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    first = link.start_transaction(1, "TAG-A", 500, t0)
    link.stop_transaction(first, 900, t0 + timedelta(minutes=5), "Local", "TAG-A")
    second = link.start_transaction(2, "TAG-B", 7000, t0 + timedelta(minutes=6))
    assert [m.action for m in store.queue_all()] == [
        "StartTransaction", "StopTransaction", "StartTransaction"
    ]
    async with running(link, station):
        await csms.wait_for(CP, "StartTransaction", count=2)
        await until(lambda: second.transaction_id is not None)
    wire = [(m.direction, m.action, m.payload) for m in csms.messages
            if m.action.startswith(("StartTransaction", "StopTransaction"))]
    assert [a for _, a, _ in wire] == [
        "StartTransaction", "StartTransaction.conf", "StopTransaction", "StopTransaction.conf",
        "StartTransaction", "StartTransaction.conf",
    ]
    first_id = wire[1][2]["transactionId"]
    assert wire[2][2]["transactionId"] == first_id == first.transaction_id
    assert wire[0][2]["timestamp"] == "2026-03-01T12:00:00.000Z"  # the event's time
    assert wire[2][2]["timestamp"] == "2026-03-01T12:05:00.000Z"
    assert wire[5][2]["transactionId"] == second.transaction_id != first_id
    # StopTransaction.conf's idTagInfo goes back to the station (its authorization cache).
    assert [(tag, info.status) for tag, info in station.stop_infos] == [("TAG-A", "Accepted")]


async def test_stop_queued_before_start_answer_waits_for_it(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await until(lambda: link.online)
        handle = link.start_transaction(1, "TAG", 0, datetime.now(UTC))
        link.stop_transaction(handle, 10, datetime.now(UTC), "Local")  # same tick
        stop = (await csms.wait_for(CP, "StopTransaction"))[0]
    start_conf = next(m for m in csms.messages if m.action == "StartTransaction.conf")
    assert stop["transactionId"] == start_conf.payload["transactionId"]
    actions = [m.action for m in csms.messages]
    assert actions.index("StartTransaction.conf") < actions.index("StopTransaction")


async def test_callerror_retried_per_transaction_message_attempts(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    keys.set_initial("TransactionMessageAttempts", "3")
    keys.set_initial("TransactionMessageRetryInterval", "0")
    csms.fail_next("StartTransaction", 2)
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        handle = link.start_transaction(1, "TAG", 0, datetime.now(UTC))
        await until(lambda: handle.transaction_id is not None)
    assert len(csms.received(CP, "StartTransaction")) == 3


async def test_transaction_message_dropped_after_last_attempt(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    keys.set_initial("TransactionMessageAttempts", "2")
    keys.set_initial("TransactionMessageRetryInterval", "0")
    csms.fail_next("StartTransaction", 2)
    link = make_link(station, csms.url, store, keys)
    doomed = link.start_transaction(1, "TAG", 0, datetime.now(UTC))
    link.stop_transaction(doomed, 5, datetime.now(UTC), "Local")
    later = link.start_transaction(2, "TAG2", 0, datetime.now(UTC))
    async with running(link, station):
        await until(lambda: later.transaction_id is not None)
        await until(lambda: store.queue_len() == 0)
    assert len(csms.received(CP, "StartTransaction")) == 3  # 2 failed + the later one
    assert csms.received(CP, "StopTransaction") == []  # never with a placeholder id
    assert doomed.transaction_id is None


async def test_transactions_survive_a_restart(
    tmp_path: Path, csms: DemoCsms, station: StubStation
) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    link = make_link(station, csms.url, store, ConfigKeys(store))
    handle = link.start_transaction(1, "TAG", 250, datetime(2026, 3, 1, tzinfo=UTC))
    store.persist_meter(handle.local_id, 400, datetime(2026, 3, 1, 0, 10, tzinfo=UTC))
    store.close()  # power cut: never connected
    store = Store(path)
    (record,) = store.unfinished_transactions()
    link = make_link(station, csms.url, store, ConfigKeys(store))
    assert record.last_meter_wh is not None and record.last_meter_time is not None
    link.stop_transaction(record.handle(), record.last_meter_wh, record.last_meter_time,
                          "PowerLoss")
    async with running(link, station):
        stop = (await csms.wait_for(CP, "StopTransaction"))[0]
    assert stop["reason"] == "PowerLoss" and stop["meterStop"] == 400
    start_conf = next(m for m in csms.messages if m.action == "StartTransaction.conf")
    assert stop["transactionId"] == start_conf.payload["transactionId"]
    store.close()


# --------------------------------------------------------------------------- remote control


async def test_remote_start_and_stop(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await until(lambda: link.online)
        assert await csms.remote_start(CP, "TAG1", 1) == "Accepted"
        assert await csms.remote_start(CP, "TAG2") == "Accepted"
        assert await csms.remote_start(CP, "TAG3", 0) == "Rejected"
        assert await csms.remote_start(CP, "TAG4", 7) == "Rejected"
        station.accept_remote = False
        assert await csms.remote_start(CP, "TAG5", 2) == "Rejected"
        handle = link.start_transaction(1, "TAG1", 0, datetime.now(UTC), remote=True)
        station.transactions[1] = handle
        await until(lambda: handle.transaction_id is not None)
        assert handle.transaction_id is not None
        assert await csms.remote_stop(CP, handle.transaction_id) == "Accepted"
        assert await csms.remote_stop(CP, handle.transaction_id + 100) == "Rejected"
    assert station.remote_starts == [(1, "TAG1"), (None, "TAG2"), (2, "TAG5")]
    assert station.remote_stops == [1]


async def test_trigger_message(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await until(lambda: link.online)
        await csms.wait_for(CP, "StatusNotification", count=3)
        for message in ("Heartbeat", "StatusNotification", "MeterValues"):
            result = await csms.call(
                CP, call.TriggerMessage(requested_message=message, connector_id=1)
            )
            assert result.status == "Accepted"
        await csms.wait_for(CP, "Heartbeat")
        await csms.wait_for(CP, "StatusNotification", count=4)
        (mv,) = await csms.wait_for(CP, "MeterValues")
        result = await csms.call(
            CP, call.TriggerMessage(requested_message="DiagnosticsStatusNotification")
        )
        assert result.status == "NotImplemented"
        result = await csms.call(CP, call.TriggerMessage(requested_message="Heartbeat",
                                                         connector_id=9))
        assert result.status == "Rejected"
    assert mv["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
    assert "transactionId" not in mv
    conf = next(i for i, m in enumerate(csms.messages) if m.action == "TriggerMessage.conf")
    beat = next(i for i, m in enumerate(csms.messages) if m.action == "Heartbeat")
    assert conf < beat  # the answer first, then the requested message


async def test_minimal_core_answers_without_station_support(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await until(lambda: link.online)
        assert (await csms.call(CP, call.Reset(type="Soft"))).status == "Rejected"
        availability = call.ChangeAvailability(connector_id=1, type="Inoperative")
        assert (await csms.call(CP, availability)).status == "Rejected"
        unlock = await csms.call(CP, call.UnlockConnector(connector_id=1))
        assert unlock.status == "NotSupported"
        assert (await csms.call(CP, call.ClearCache())).status == "Accepted"
        transfer = await csms.call(CP, call.DataTransfer(vendor_id="ACME", data="x"))
        assert transfer.status == "UnknownVendorId"


# --------------------------------------------------------------------------- configuration


async def test_get_and_change_configuration(
    tmp_path: Path, csms: DemoCsms, station: StubStation
) -> None:
    store = Store(tmp_path / "state.db")
    keys = ConfigKeys(store)
    keys.set_initial("AuthorizationKey", "00112233445566778899aabbccddeeff")
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await until(lambda: link.online)
        everything = await csms.get_configuration(CP)
        some = await csms.get_configuration(CP, ["heartbeatinterval", "Nope", "AuthorizationKey"])
        change = csms.change_configuration
        assert await change(CP, "NoSuchKey", "1") == "NotSupported"
        assert await change(CP, "NumberOfConnectors", "5") == "Rejected"
        assert await change(CP, "HeartbeatInterval", "often") == "Rejected"
        assert await change(CP, "WebSocketPingInterval", "-1") == "Rejected"
        assert await change(CP, "MeterValuesSampledData", "Energy.Active.Import.Register,RPM") \
            == "Rejected"
        assert await change(CP, "AuthorizeRemoteTxRequests", "TRUE") == "Accepted"
        assert await change(CP, "MeterValueSampleInterval", "15") == "Accepted"
        assert await change(CP, "AuthorizationKey", "short") == "Rejected"
    by_key = {e["key"]: e for e in everything["configurationKey"]}
    assert "AuthorizationKey" not in by_key
    assert by_key["NumberOfConnectors"] == {"key": "NumberOfConnectors", "readonly": True,
                                            "value": "2"}
    assert by_key["SupportedFeatureProfiles"]["value"] == "Core,RemoteTrigger"
    assert by_key["HeartbeatInterval"]["readonly"] is False
    assert [e["key"] for e in some["configurationKey"]] == ["HeartbeatInterval"]
    assert some["unknownKey"] == ["Nope", "AuthorizationKey"]
    store.close()
    reopened = ConfigKeys(Store(tmp_path / "state.db"))
    assert reopened.get("AuthorizeRemoteTxRequests") == "true"
    assert reopened.get_int("MeterValueSampleInterval") == 15
    assert reopened.get("AuthorizationKey") == "00112233445566778899aabbccddeeff"


async def test_http_basic_auth_with_authorization_key(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    keys.set_initial("AuthorizationKey", "0123456789abcdef0123")
    link = make_link(station, csms.url, store, keys)
    async with running(link, station):
        await until(lambda: link.online)
    expected = base64.b64encode(f"{CP}:0123456789abcdef0123".encode()).decode()
    assert csms.auth[CP] == f"Basic {expected}"


def test_keys_declarations_and_initial_values(store: Store) -> None:
    keys = ConfigKeys(store)
    keys.set_initial("NumberOfConnectors", "4")  # --set-key bypasses accessibility
    assert keys.get_int("NumberOfConnectors") == 4
    keys.set_initial("LocalPreAuthorize", "True")
    assert keys.get("LocalPreAuthorize") == "true" and keys.get_bool("LocalPreAuthorize")
    with pytest.raises(InvalidValue):
        keys.set_initial("HeartbeatInterval", "-5")
    with pytest.raises(KeyError):
        keys.set_initial("Bogus", "1")
    assert keys.change("MeterValueSampleInterval", "0") == ChangeResult.ACCEPTED
    seen: list[str] = []
    keys.on_change("HeartbeatInterval", seen.append)
    keys.change("HeartbeatInterval", "30")
    keys.change("HeartbeatInterval", "30")  # unchanged: no callback
    assert seen == ["30"]
    with pytest.raises(ValueError, match="twice"):
        keys.register(keys.spec("HeartbeatInterval"))


def test_stored_invalid_key_value_falls_back_to_default(store: Store) -> None:
    store.set_key("HeartbeatInterval", "not a number")
    assert ConfigKeys(store).get_int("HeartbeatInterval") == 1800


# --------------------------------------------------------------------------- robustness


def _code(answer: list[Any]) -> str:
    assert answer[0] == 4, answer
    return str(answer[2])


async def test_malformed_calls_get_the_right_callerror(
    csms: DemoCsms, station: StubStation, store: Store, keys: ConfigKeys
) -> None:
    link = make_link(station, csms.url, store, keys)
    cases = [
        ('[2,"u1","FooBar",{}]', "NotImplemented"),
        ('[2,"u2","ReserveNow",{"connectorId":1,"expiryDate":"2026-01-01T00:00:00Z",'
         '"idTag":"T","reservationId":1}]', "NotSupported"),
        ('[2,"u3","RemoteStartTransaction",{"idTag":12}]', "TypeConstraintViolation"),
        ('[2,"u4","ChangeAvailability",{"connectorId":1,"type":"Sideways"}]',
         "PropertyConstraintViolation"),
        ('[2,"u5","RemoteStopTransaction",{"transactionId":1,"extra":true}]',
         "FormationViolation"),
        ('[2,"u6","RemoteStartTransaction",{}]', "OccurenceConstraintViolation"),
        ('[2,"u7","Reset"]', "FormationViolation"),
        ('[2,"u8","ChangeConfiguration",{"key":"K","value":"' + "x" * 501 + '"}]',
         "TypeConstraintViolation"),
    ]
    async with running(link, station):
        await until(lambda: link.online)
        for text, code in cases:
            unique_id = json.loads(text)[1]
            assert _code(await csms.raw_call(CP, text, unique_id)) == code, text
        await csms.send_raw(CP, "this is not json")
        await csms.send_raw(CP, '[3,"nobody-asked",{}]')  # answer with an unknown id: dropped
        station.fail_remote_start = True
        answer = await csms.raw_call(
            CP, '[2,"u9","RemoteStartTransaction",{"idTag":"T"}]', "u9"
        )
        assert _code(answer) == "InternalError"  # a handler exception, not a crash
        assert link.online
        assert await csms.change_configuration(CP, "HeartbeatInterval", "60") == "Accepted"
        assert (await link.authorize("STILL-WORKS")) is not None


class _Pipe:
    """An in-memory transport: what the charge point sends lands in ``sent``."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[str] = asyncio.Queue()
        self.incoming: asyncio.Queue[str] = asyncio.Queue()

    async def send(self, message: str) -> None:
        await self.sent.put(message)

    async def recv(self) -> str:
        return await self.incoming.get()


async def test_rpc_one_call_at_a_time_and_lock_released_on_close() -> None:
    pipe = _Pipe()
    rpc = Rpc(pipe, Router(), name="CP", timeout=30)
    first = asyncio.create_task(rpc.call("Heartbeat", {}))
    second = asyncio.create_task(rpc.call("Heartbeat", {}))
    sent = json.loads(await pipe.sent.get())
    await asyncio.sleep(0.05)
    assert pipe.sent.empty()  # the second waits for the first's answer
    async with asyncio.TaskGroup() as tg:
        serving = tg.create_task(rpc.serve(tg))
        await pipe.incoming.put(json.dumps([3, "unknown-id", {"currentTime": "x"}]))
        await pipe.incoming.put(json.dumps([3, sent[1], {"currentTime": "2026-01-01T00:00:00Z"}]))
        assert (await first)["currentTime"] == "2026-01-01T00:00:00Z"
        json.loads(await pipe.sent.get())  # the second is on the wire now
        rpc.close()  # the connection goes away: the waiting call fails at once
        with pytest.raises(RpcClosed):
            await second
        serving.cancel()
    assert not rpc.busy
    with pytest.raises(RpcClosed):
        await rpc.call("Heartbeat", {})


async def test_rpc_callerror_and_invalid_answer() -> None:
    pipe = _Pipe()
    rpc = Rpc(pipe, Router(), name="CP", timeout=30)
    async with asyncio.TaskGroup() as tg:
        serving = tg.create_task(rpc.serve(tg))
        task = asyncio.create_task(rpc.call("Heartbeat", {}))
        sent = json.loads(await pipe.sent.get())
        await pipe.incoming.put(json.dumps([4, sent[1], "InternalError", "boom", {}]))
        with pytest.raises(CallFailed) as failed:
            await task
        assert failed.value.code == "InternalError"
        serving.cancel()


# --------------------------------------------------------------------------- pure parts


def test_backoff_doubles_with_jitter_and_resets() -> None:
    backoff = Backoff(initial=1, maximum=60, jitter=0.25, rng=random.Random(7))
    delays = [backoff.next() for _ in range(9)]
    nominal = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert all(0.75 * n <= d <= 1.25 * n for d, n in zip(delays, nominal, strict=True))
    assert len(set(delays)) == len(delays)  # jittered
    backoff.reset()
    assert 0.75 <= backoff.next() <= 1.25


def test_sample_times_follow_the_start_of_the_transaction() -> None:
    assert next_sample_time(100.0, 60, 100.0) == 160.0
    assert next_sample_time(100.0, 60, 160.0) == 220.0
    assert next_sample_time(100.0, 60, 161.5) == 220.0
    assert next_sample_time(100.0, 60, 400.0) == 460.0  # late: skip, do not bunch
    assert next_sample_time(100.0, 30, 160.0) == 190.0  # a changed interval applies


def test_sampled_values_units_and_phases() -> None:
    ac = MeterSnapshot(energy_import_wh=5.0, power_w=1.0, current_a=(1.0, 2.0, 3.0),
                       voltage_v=(230.0, 231.0, 232.0), frequency_hz=50.0, soc_percent=None)
    values = sampled_values(ac, ["Voltage", "Frequency", "SoC", "Power.Offered"], "Trigger")
    assert [v.get("phase") for v in values[:3]] == ["L1-N", "L2-N", "L3-N"]
    assert "unit" not in values[3] and values[3]["measurand"] == "Frequency"
    assert len(values) == 4  # SoC and Power.Offered are not measured here
    dc = MeterSnapshot(energy_import_wh=5.0, current_a=(100.0,), voltage_v=(400.0,),
                       soc_percent=55.0, temperature_c=40.0, dc=True)
    values = sampled_values(dc, ["Current.Import", "Voltage", "SoC", "Temperature"], "Trigger")
    assert [v.get("phase") for v in values] == [None] * 4
    assert [v["unit"] for v in values] == ["A", "V", "Percent", "Celsius"]
    assert values[2]["location"] == "EV"

"""The demo central system, driven by a bare WebSocket client (not by our OCPP client)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ocpp.exceptions import OCPPError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from hal_sim.csms_demo import CsmsMessage, DemoCsms, serve
from tests.support.peer_harness import until


@pytest.fixture
async def csms() -> AsyncIterator[DemoCsms]:
    server = await serve()
    yield server
    await server.close()


async def open_cp(csms: DemoCsms, cp_id: str = "CP7", **kw: Any) -> ClientConnection:
    ws = await connect(f"{csms.url}/{cp_id}", subprotocols=[Subprotocol("ocpp1.6")],
                       proxy=None, **kw)
    await csms.wait_connected(cp_id)
    return ws


async def request(ws: ClientConnection, uid: str, action: str, payload: dict[str, Any]) -> Any:
    await ws.send(json.dumps([2, uid, action, payload]))
    return json.loads(await ws.recv())


async def test_boot_is_accepted_logged_and_recorded(
    csms: DemoCsms, caplog: pytest.LogCaptureFixture
) -> None:
    assert csms.url == f"ws://127.0.0.1:{csms.port}/ocpp" and csms.port > 0
    caplog.set_level(logging.INFO, logger="csms")
    ws = await open_cp(csms)
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    answer = await request(ws, "b1", "BootNotification", boot)
    await ws.close()
    assert answer[0] == 3 and answer[1] == "b1"
    assert answer[2]["status"] == "Accepted" and answer[2]["interval"] == 300
    assert answer[2]["currentTime"].endswith("Z")
    assert csms.messages[:2] == [
        CsmsMessage("CP7", "<-", "BootNotification", boot),
        CsmsMessage("CP7", "->", "BootNotification.conf", answer[2]),
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "csms"]
    assert f"CP7 <- BootNotification {json.dumps(boot)}" in lines
    assert any(line.startswith("CP7 -> BootNotification.conf {") for line in lines)


async def test_authorization_rules_and_transaction_ids(csms: DemoCsms) -> None:
    ws = await open_cp(csms)
    statuses = [
        (await request(ws, f"a{i}", "Authorize", {"idTag": tag}))[2]["idTagInfo"]["status"]
        for i, tag in enumerate(["04A2B3", "INVALID-1", "blocked-2"])
    ]
    start = {"connectorId": 1, "idTag": "INVALIDTAG", "meterStart": 0,
             "timestamp": "2026-01-01T00:00:00Z"}
    first = (await request(ws, "s1", "StartTransaction", start))[2]
    second = (await request(ws, "s2", "StartTransaction", {**start, "idTag": "OK"}))[2]
    stop = {"transactionId": 1, "meterStop": 10, "timestamp": "2026-01-01T01:00:00Z"}
    stopped = (await request(ws, "s3", "StopTransaction", stop))[2]
    beat = (await request(ws, "h1", "Heartbeat", {}))[2]
    await ws.close()
    assert statuses == ["Accepted", "Invalid", "Blocked"]
    assert first["idTagInfo"]["status"] == "Invalid"
    assert second["transactionId"] == first["transactionId"] + 1
    assert stopped == {} and "currentTime" in beat
    assert csms.received("CP7", "StartTransaction") == [start, {**start, "idTag": "OK"}]


async def test_calls_to_a_charge_point(csms: DemoCsms) -> None:
    ws = await open_cp(csms)

    async def answer_next(result: dict[str, Any]) -> list[Any]:
        msg = json.loads(await ws.recv())
        await ws.send(json.dumps([3, msg[1], result]))
        return list(msg)

    remote = asyncio.create_task(csms.remote_start("CP7", "TAG9", connector_id=2))
    sent = await answer_next({"status": "Accepted"})
    assert await remote == "Accepted"
    assert sent[2] == "RemoteStartTransaction" and sent[3] == {"idTag": "TAG9", "connectorId": 2}

    stop = asyncio.create_task(csms.remote_stop("CP7", 5))
    await answer_next({"status": "Rejected"})
    assert await stop == "Rejected"

    change = asyncio.create_task(csms.change_configuration("CP7", "HeartbeatInterval", "60"))
    await answer_next({"status": "Accepted"})
    assert await change == "Accepted"

    get = asyncio.create_task(csms.get_configuration("CP7", ["A", "B"]))
    await answer_next({"configurationKey": [{"key": "A", "readonly": True, "value": "1"}],
                       "unknownKey": ["B"]})
    assert await get == {"configurationKey": [{"key": "A", "readonly": True, "value": "1"}],
                         "unknownKey": ["B"]}

    raw = asyncio.create_task(csms.raw_call("CP7", '[2,"r1","Nope",{}]', "r1"))
    msg = json.loads(await ws.recv())
    await ws.send(json.dumps([4, msg[1], "NotImplemented", "no", {}]))
    assert await raw == [4, "r1", "NotImplemented", "no", {}]

    failing = asyncio.create_task(csms.remote_start("CP7", "TAG"))
    msg = json.loads(await ws.recv())
    await ws.send(json.dumps([4, msg[1], "InternalError", "boom", {}]))
    with pytest.raises(OCPPError):
        await failing
    await ws.close()
    actions = [(m.direction, m.action) for m in csms.messages]
    assert ("->", "RemoteStartTransaction") in actions
    assert ("<-", "RemoteStartTransaction.conf") in actions
    assert ("<-", "RemoteStartTransaction.error") in actions


async def test_injected_failures_and_boot_policy(csms: DemoCsms) -> None:
    csms.boot_status, csms.boot_interval = "Pending", 5
    csms.fail_next("StatusNotification")
    ws = await open_cp(csms)
    boot = await request(ws, "b", "BootNotification",
                         {"chargePointVendor": "V", "chargePointModel": "M"})
    status = {"connectorId": 0, "errorCode": "NoError", "status": "Available"}
    failed = await request(ws, "s1", "StatusNotification", status)
    ok = await request(ws, "s2", "StatusNotification", status)
    await ws.close()
    assert boot[2]["status"] == "Pending" and boot[2]["interval"] == 5
    assert failed[0] == 4 and failed[2] == "InternalError"
    assert ok == [3, "s2", {}]


async def test_connection_rules(csms: DemoCsms) -> None:
    key = base64.b64encode(b"CP8:secret-secret-123").decode()
    ws = await open_cp(csms, "CP8", additional_headers={"Authorization": f"Basic {key}"})
    assert csms.auth["CP8"] == f"Basic {key}"
    await csms.disconnect("CP8")
    with pytest.raises(ConnectionClosed):
        await ws.recv()
    await until(lambda: not csms.connected("CP8"))
    # Without the ocpp1.6 subprotocol the connection is refused.
    with pytest.raises(InvalidHandshake):
        await connect(f"{csms.url}/CP9", proxy=None)
    assert not csms.connected("CP9")

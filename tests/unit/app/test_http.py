"""The station's HTTP server: /api/status, the page and its assets, serve()/close()."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from firmware.http import make_app, serve
from firmware.safety.fault_book import FaultState
from firmware.station.snapshot import ConnectorState, StationState

Client = TestClient[web.Request, web.Application]


class FakeStation:
    """A station stand-in: ``state()`` and ``fault_events()``, all the server uses."""

    def __init__(self) -> None:
        self.calls = 0
        self.event_limits: list[int] = []  # the limit of every fault_events() call

    def fault_events(self, limit: int = 200) -> list[dict[str, Any]]:
        self.event_limits.append(limit)
        events = [{"seq": seq, "code": "106", "event": "raised"} for seq in range(3, 0, -1)]
        return events[:limit]

    def state(self) -> StationState:
        self.calls += 1
        return StationState(
            charge_point_id="EVSE-TEST-1",
            csms_online=True,
            csms_url="ws://127.0.0.1:9000/ocpp",
            connectors=(
                ConnectorState(
                    id=1,
                    name="Left",
                    kind="type2_socket",
                    status="Charging",
                    pilot="C",
                    contactor_closed=True,
                    locked=True,
                    energy_wh=1234.5,
                    power_w=11040.0,
                    current_a=(16.0, 16.0, 16.0),
                    transaction_id=42,
                    id_tag="04A2B3C4D5",
                    display="Charging 11 kW",
                ),
                ConnectorState(
                    id=2,
                    name="Right",
                    kind="type2_socket",
                    status="Faulted",
                    error_code="GroundFailure",
                    faults=(FaultState("106", "GroundFailure", "RCD AC tripped"),),
                ),
            ),
        )


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with TestClient(TestServer(make_app(FakeStation()))) as c:
        yield c


async def test_status_is_the_station_snapshot(client: Client) -> None:
    r = await client.get("/api/status")
    assert r.status == 200
    assert r.content_type == "application/json"
    data = await r.json()
    assert data["charge_point_id"] == "EVSE-TEST-1"
    assert data["csms_online"] is True
    c1, c2 = data["connectors"]
    assert c1["status"] == "Charging"
    assert c1["current_a"] == [16.0, 16.0, 16.0]
    assert c1["transaction_id"] == 42
    assert c2["faults"] == [
        {"code": "106", "error_code": "GroundFailure", "info": "RCD AC tripped", "since": ""}
    ]


async def test_events_are_the_station_fault_event_log() -> None:
    station = FakeStation()
    async with TestClient(TestServer(make_app(station))) as client:
        r = await client.get("/api/events")
        assert r.status == 200
        assert [e["seq"] for e in (await r.json())["events"]] == [3, 2, 1]
        assert [e["seq"] for e in (await (await client.get("/api/events?limit=2")).json())[
            "events"]] == [3, 2]
        for limit in ("0", "99999"):
            assert (await client.get(f"/api/events?limit={limit}")).status == 200
        bad = await client.get("/api/events?limit=many")
        assert bad.status == 400 and "limit" in (await bad.json())["error"]
    # The default, the asked limit, and the two clamped to 1..10000; "many" never asked.
    assert station.event_limits == [200, 2, 1, 10_000]


async def test_page_and_assets_are_served(client: Client) -> None:
    r = await client.get("/")
    assert r.status == 200
    html = await r.text()
    assert "/static/app.js" in html and "/static/style.css" in html
    assert "http://" not in html and "https://" not in html  # no CDN: works offline
    js = await client.get("/static/app.js")
    assert js.status == 200
    script = await js.text()
    assert "/api/status" in script and "/api/sim/state" in script
    css = await client.get("/static/style.css")
    assert css.status == 200


async def test_sim_routes_absent_without_simulator(client: Client) -> None:
    # The page decides whether to show simulator buttons from this answer.
    r = await client.get("/api/sim/state")
    assert r.status == 404


async def test_unknown_path_is_404(client: Client) -> None:
    assert (await client.get("/static/../server.py")).status in (403, 404)
    assert (await client.get("/nope")).status == 404


async def test_serve_and_close() -> None:
    station = FakeStation()
    server = await serve(make_app(station), "127.0.0.1", 0)
    host, port = server.address
    try:

        def fetch() -> bytes:
            with urllib.request.urlopen(f"http://{host}:{port}/api/status", timeout=5) as r:
                return bytes(r.read())

        body = await asyncio.to_thread(fetch)
        assert b"EVSE-TEST-1" in body
        assert station.calls == 1
    finally:
        await server.close()
    with pytest.raises(RuntimeError):
        _ = server.address

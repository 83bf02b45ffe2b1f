"""The runtime hook the simulator plugs into: ``serve_until_signal(..., extensions=[...])``
serves each extension's routes from the station's HTTP server and runs its task beside
the station until the station stops. The simulation is one; a probe is another."""

from __future__ import annotations

import asyncio
import re
import signal
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from firmware.app.assembly import StationRuntime
from firmware.app.extension import RuntimeExtension
from firmware.app.runtime import serve_until_signal
from firmware.config import load_station
from firmware.http.server import StationView, json_response
from hal_sim.simulator import Simulation
from tests.support.paths import TEST_STATIONS

ADDRESS = re.compile(r"^station \S+: (http://127\.0\.0\.1:\d+)/", re.MULTILINE)


class Probe:
    """An extension that answers ``GET /api/probe`` from the station's view and records
    the life of its task."""

    name = "probe"

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.cancelled = False

    def add_routes(self, app: web.Application, station: StationView) -> None:
        async def probe(request: web.Request) -> web.Response:
            return json_response({"charge_point_id": station.state().charge_point_id})

        app.router.add_get("/api/probe", probe)

    async def run(self) -> None:
        self.running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def _served_at(capsys: pytest.CaptureFixture[str], timeout: float = 15.0) -> str:
    """The station's HTTP address, from the line serve_until_signal prints when it serves."""
    seen = ""
    async with asyncio.timeout(timeout):
        while True:
            seen += capsys.readouterr().out
            found = ADDRESS.search(seen)
            if found:
                return found.group(1)
            await asyncio.sleep(0.02)


async def test_extensions_serve_their_routes_and_run_beside_the_station(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    config = replace(load_station(TEST_STATIONS / "ac_test.toml"), csms_url=None)
    sim = await Simulation.create(config)
    probe = Probe()
    extensions: list[RuntimeExtension] = [sim, probe]
    runtime = StationRuntime(config, sim.wiring, state_dir=tmp_path, csms_url=None)
    try:
        serving = asyncio.create_task(
            serve_until_signal(runtime, "127.0.0.1", 0, extensions=extensions)
        )
        url = await _served_at(capsys)
        await asyncio.wait_for(probe.running.wait(), 5)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/api/probe") as answer:
                assert await answer.json() == {"charge_point_id": "EVSE-AC-0001"}
            # The simulation's control API, on the station's state: the world ticks.
            async with http.post(f"{url}/api/sim/connectors/1/plug", json={}) as answer:
                assert answer.status == 200, await answer.text()
            async with asyncio.timeout(10):
                while True:
                    async with http.get(f"{url}/api/sim/state") as answer:
                        state = await answer.json()
                    connector = state["connectors"][0]
                    if connector["pilot"] == "B" and connector["status"] == "Preparing":
                        break
                    await asyncio.sleep(0.05)
        assert not probe.cancelled
        signal.raise_signal(signal.SIGTERM)  # as systemd stops the service
        assert await asyncio.wait_for(serving, 15) is None
        assert probe.cancelled  # its task ended with the station's
    finally:
        runtime.close()
        await sim.close()

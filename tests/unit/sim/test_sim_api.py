"""The simulator control API (/api/sim/...) and the `evse sim ctl` client against it."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from firmware.clock import ManualClock
from firmware.config import load_station
from firmware.http import make_app
from firmware.station.snapshot import ConnectorState, StationState
from hal_sim import ctl
from hal_sim.nfc_sim import FakeTag
from hal_sim.simulator import Simulation, csms_endpoint
from tests.support.paths import SIM_STATIONS

STATIONS = SIM_STATIONS

Client = TestClient[web.Request, web.Application]


class FakeStation:
    """A station stand-in: ``state()`` is all the API asks of the station (and
    ``fault_events()``, which the station's own server asks, an empty log here)."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    def fault_events(self, limit: int = 200) -> list[dict[str, Any]]:
        return []

    def state(self) -> StationState:
        return StationState(
            charge_point_id="EVSE-AC-0001",
            csms_online=False,
            csms_url=self.sim.csms_url,
            connectors=tuple(
                ConnectorState(id=c.id, name=c.name, kind=str(c.kind), status="Available",
                               pilot="A", display="Welcome")
                for c in self.sim.config.connectors
            ),
        )


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class ApiRig:
    def __init__(self, sim: Simulation, client: Client, csms: asyncio.Server) -> None:
        self.sim = sim
        self.client = client
        self.csms = csms

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    async def post(self, path: str, body: Any = None, status: int = 200) -> Any:
        r = await self.client.post(path, json=body)
        assert r.status == status, await r.text()
        return await r.json()

    async def state(self) -> Any:
        r = await self.client.get("/api/sim/state")
        assert r.status == 200
        return await r.json()

    async def ctl(self, *argv: str) -> tuple[int, str, str]:
        """Run `evse sim ctl` in a thread (it blocks on urllib) against this server."""
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.to_thread(ctl.main, ["--url", self.url, *argv], out, err)
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
async def api() -> AsyncIterator[ApiRig]:
    # A stand-in central system (an echo server) so the network proxy has a target.
    csms = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = csms.sockets[0].getsockname()[1]
    config = load_station(STATIONS / "ac.toml")
    clock = ManualClock()
    sim = await Simulation.create(config, f"ws://127.0.0.1:{port}/ocpp", clock.monotonic)
    station = FakeStation(sim)
    app = make_app(station)
    sim.add_routes(app, station)
    try:
        async with TestClient(TestServer(app)) as client:
            yield ApiRig(sim, client, csms)
    finally:
        await sim.close()
        csms.close()
        await csms.wait_closed()


# ---------------------------------------------------------------------- state


async def test_state_merges_station_and_world(api: ApiRig) -> None:
    state = await api.state()
    assert state["charge_point_id"] == "EVSE-AC-0001"
    assert state["csms_online"] is False
    assert state["network_online"] is True
    assert state["doors_open"] is False
    assert state["injected_faults"] == []
    c1 = state["connectors"][0]
    assert c1["id"] == 1 and c1["kind"] == "type2_socket"
    assert c1["status"] == "Available" and c1["display"] == "Welcome"  # the station's view
    assert c1["ev"] is None
    world = c1["world"]
    assert world["contactor_closed"] is False
    assert world["meter"]["energy_wh"] == 0.0
    assert world["pp_ohm"] is None


async def test_state_without_a_station(api: ApiRig) -> None:
    app = web.Application()
    api.sim.add_routes(app, None)
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/api/sim/state")
        state = await r.json()
    assert state["charge_point_id"] == "EVSE-AC-0001"
    assert state["csms_online"] is None
    assert "status" not in state["connectors"][0]


# ---------------------------------------------------------------------- EV


async def test_plug_pause_resume_unplug(api: ApiRig) -> None:
    answer = await api.post("/api/sim/connectors/1/plug", {"ev": {"soc": 50, "phases": 1}})
    ev = answer["connector"]["ev"]
    assert ev["type"] == "ac" and ev["state"] == "B"
    assert ev["soc_percent"] == 50.0 and ev["phases"] == 1
    assert answer["connector"]["world"]["pp_ohm"] == 220.0
    answer = await api.post("/api/sim/connectors/1/pause")
    assert answer["connector"]["ev"]["paused"] is True
    answer = await api.post("/api/sim/connectors/1/resume")
    assert answer["connector"]["ev"]["paused"] is False
    answer = await api.post("/api/sim/connectors/1/unplug")
    assert answer["connector"]["ev"] is None


async def test_plug_without_body_uses_defaults(api: ApiRig) -> None:
    r = await api.client.post("/api/sim/connectors/2/plug")
    assert r.status == 200
    ev = (await r.json())["connector"]["ev"]
    assert (ev["max_current_a"], ev["phases"], ev["soc_percent"]) == (32.0, 3, 20.0)
    assert ev["target_soc"] == 100.0 and ev["battery_kwh"] == 60.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"ev": {"wheels": 4}}, "unknown EV field"),
        ({"ev": {"soc": 150}}, "out of range"),
        ({"ev": {"soc": "lots"}}, "must be a number"),
        ({"ev": {"soc": True}}, "must be a number"),
        ({"ev": {"ventilation": "maybe"}}, "true or false"),
        ({"ev": [1, 2]}, "must be an object"),
        ([1], "JSON object"),
    ],
)
async def test_plug_bad_input_is_400(api: ApiRig, body: Any, message: str) -> None:
    answer = await api.post("/api/sim/connectors/1/plug", body, status=400)
    assert message in answer["error"]


async def test_plug_errors(api: ApiRig) -> None:
    r = await api.client.post("/api/sim/connectors/1/plug", data="{not json")
    assert r.status == 400 and "not JSON" in (await r.json())["error"]
    answer = await api.post("/api/sim/connectors/9/plug", status=404)
    assert "unknown connector 9" in answer["error"]
    answer = await api.post("/api/sim/connectors/one/plug", status=400)
    assert "connector" in answer["error"]
    await api.post("/api/sim/connectors/1/plug")
    answer = await api.post("/api/sim/connectors/1/plug", status=409)
    assert "already" in answer["error"]
    answer = await api.post("/api/sim/connectors/2/pause", status=409)
    assert "no EV" in answer["error"]
    await api.post("/api/sim/connectors/2/unplug", status=409)
    await api.post("/api/sim/connectors/9/resume", status=404)
    r = await api.client.post("/api/sim/connectors/1/explode")
    assert r.status == 404


# ---------------------------------------------------------------------- tokens


async def test_token_reaches_the_reader(api: ApiRig) -> None:
    clf = api.sim.reader
    assert clf is not None
    clf.open("tty:AMA0:pn532")

    def read_card() -> Any:
        return clf.connect(rdwr={"on-connect": lambda tag: False})

    reading = asyncio.create_task(asyncio.to_thread(read_card))
    answer = await api.post("/api/sim/tokens", {"id_tag": "04a2b3c4d5", "reader": 1})
    assert answer["id_tag"] == "04A2B3C4D5"
    tag = await asyncio.wait_for(reading, 5)
    assert isinstance(tag, FakeTag) and tag.identifier == bytes.fromhex("04A2B3C4D5")
    clf.close()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"id_tag": "TAG 1"}, 400),  # a space: not an idTag a card could carry
        ({"id_tag": ""}, 400),
        ({"id_tag": "X" * 21}, 400),  # longer than an idTag (CiString20)
        ({"id_tag": 1234}, 400),
        ({"id_tag": "04A2B3C4", "reader": 2}, 404),
    ],
)
async def test_token_errors(api: ApiRig, body: Any, status: int) -> None:
    answer = await api.post("/api/sim/tokens", body, status=status)
    assert answer["error"]


async def test_token_without_a_reader_is_409(api: ApiRig) -> None:
    sim = api.sim
    config = dataclasses.replace(sim.config, devices={})
    readerless = Simulation(config, sim.wiring, sim.hw, sim.world, sim.proxy)
    app = web.Application()
    readerless.add_routes(app, None)
    async with TestClient(TestServer(app)) as client:
        r = await client.post("/api/sim/tokens", json={"id_tag": "04A2B3C4"})
        assert r.status == 409
        assert "no token reader" in (await r.json())["error"]


# ---------------------------------------------------------------------- faults


async def test_fault_inject_list_and_clear(api: ApiRig) -> None:
    r = await api.client.get("/api/sim/faults")
    catalogue = await r.json()
    assert {"406", "105", "1001"} <= {f["code"] for f in catalogue["faults"]}
    circuit = api.sim.hw.connector(1).pilot
    assert circuit is not None
    before = circuit.levels
    answer = await api.post("/api/sim/faults", {"code": "406", "connector": 1})
    assert answer["active"] == [{"code": "406", "connector": 1}]
    assert circuit.levels[0] == -9.8
    state = await api.state()
    assert state["connectors"][0]["world"]["injected_faults"] == ["406"]
    assert state["connectors"][0]["world"]["cp_high_v"] == -9.8
    r = await api.client.delete("/api/sim/faults", json={"code": "406", "connector": 1})
    assert r.status == 200 and (await r.json())["active"] == []
    assert circuit.levels == before


async def test_fault_number_code_and_query_string_delete(api: ApiRig) -> None:
    await api.post("/api/sim/faults", {"code": 105, "connector": 2})
    meter = api.sim.hw.connector(2).meter
    assert meter is not None and meter.silent
    r = await api.client.delete("/api/sim/faults", params={"code": "105", "connector": "2"})
    assert r.status == 200
    assert not meter.silent


async def test_fault_errors(api: ApiRig) -> None:
    answer = await api.post("/api/sim/faults", {"code": "999"}, status=400)
    assert "unknown fault code" in answer["error"]
    assert "406" in answer["known"] and "1001" in answer["known"]
    answer = await api.post("/api/sim/faults", {"code": "19", "connector": 1}, status=400)
    assert "not a DC connector" in answer["error"]
    await api.post("/api/sim/faults", {"code": "406", "connector": 5}, status=404)
    await api.post("/api/sim/faults", {"connector": 1}, status=400)
    await api.post("/api/sim/faults", {"code": "406", "connector": "x"}, status=400)
    r = await api.client.delete("/api/sim/faults", json={"code": "nope"})
    assert r.status == 400


# ---------------------------------------------------------------------- network, doors


async def test_network_cut_drops_the_csms_link_and_restores(api: ApiRig) -> None:
    host, port = csms_endpoint(api.sim.csms_url or "")
    # The OCPP client resolves its endpoint through the wiring: it gets the proxy.
    target = api.sim.wiring.tcp_endpoint(host, port)
    assert target != (host, port)
    reader, writer = await asyncio.open_connection(*target)
    writer.write(b"BootNotification")
    assert await asyncio.wait_for(reader.readexactly(16), 5) == b"BootNotification"

    answer = await api.post("/api/sim/network", {"online": False})
    assert answer["online"] is False
    with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
        await asyncio.wait_for(reader.readexactly(1), 5)
    writer.close()
    assert (await api.state())["network_online"] is False

    await api.post("/api/sim/network", {"online": True})
    reader, writer = await asyncio.open_connection(*target)
    writer.write(b"Heartbeat")
    assert await asyncio.wait_for(reader.readexactly(9), 5) == b"Heartbeat"
    writer.close()


async def test_network_errors(api: ApiRig) -> None:
    await api.post("/api/sim/network", {}, status=400)
    await api.post("/api/sim/network", {"online": "no"}, status=400)
    sim = api.sim
    no_link = Simulation(sim.config, sim.wiring, sim.hw, sim.world, proxy=None)
    app = web.Application()
    no_link.add_routes(app, None)
    async with TestClient(TestServer(app)) as client:
        r = await client.post("/api/sim/network", json={"online": False})
        assert r.status == 409


async def test_doors(api: ApiRig) -> None:
    answer = await api.post("/api/sim/doors", {"open": True})
    assert answer["open"] is True
    state = await api.state()
    assert state["doors_open"] is True
    assert {"code": "1001", "connector": 0} in state["injected_faults"]
    await api.post("/api/sim/doors", {"open": False})
    assert (await api.state())["doors_open"] is False
    await api.post("/api/sim/doors", {"open": 1}, status=400)


async def test_run_ticks_the_world(api: ApiRig) -> None:
    meter = api.sim.hw.connector(1).meter
    assert meter is not None
    assert meter.state.voltage_v == (230.0, 230.0, 230.0)  # written once, before any tick
    task = asyncio.create_task(api.sim.run())
    try:
        async with asyncio.timeout(3):
            while meter.state.voltage_v == (230.0, 230.0, 230.0):
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    # Ticking writes the grid's (slightly noisy) voltage to the meter's registers.
    assert all(229.0 < v < 231.0 for v in meter.state.voltage_v)


# ---------------------------------------------------------------------- the ctl client


async def test_ctl_drives_the_simulation(api: ApiRig) -> None:
    code, out, _ = await api.ctl("plug", "1", "--ev", "soc=55", "--ev", "max_current_a=16")
    assert code == 0
    assert json.loads(out)["connector"]["ev"]["soc_percent"] == 55.0
    assert (await api.ctl("pause", "1"))[0] == 0
    assert (await api.ctl("resume", "1"))[0] == 0
    code, out, _ = await api.ctl("state")
    assert code == 0
    assert "EVSE-AC-0001" in out and "55.0" in out and "Available" in out
    code, out, _ = await api.ctl("state", "--json")
    assert json.loads(out)["connectors"][0]["ev"]["max_current_a"] == 16.0
    assert (await api.ctl("unplug", "1"))[0] == 0
    assert api.sim.world.connector(1).ev is None


async def test_ctl_faults_network_doors_swipe(api: ApiRig) -> None:
    code, out, _ = await api.ctl("faults")
    assert code == 0 and "406" in out and "1001" in out
    assert (await api.ctl("fault", "106", "--connector", "2"))[0] == 0
    rcd = api.sim.hw.connector(2).rcd
    assert rcd is not None and rcd.tripped
    code, out, _ = await api.ctl("state")
    assert "injected: 106 (connector 2)" in out
    assert (await api.ctl("clear", "106", "--connector", "2"))[0] == 0
    assert not rcd.tripped
    assert (await api.ctl("network", "offline"))[0] == 0
    assert api.sim.proxy is not None and not api.sim.proxy.online
    assert (await api.ctl("network", "online"))[0] == 0
    assert api.sim.proxy.online
    assert (await api.ctl("door", "open"))[0] == 0
    assert api.sim.world.doors_open
    assert (await api.ctl("door", "close"))[0] == 0
    assert not api.sim.world.doors_open
    code, out, _ = await api.ctl("swipe", "04A2B3C4D5")
    assert code == 0 and json.loads(out)["id_tag"] == "04A2B3C4D5"


async def test_ctl_reports_errors(api: ApiRig) -> None:
    code, _, err = await api.ctl("fault", "999")
    assert code == 1 and "unknown fault code" in err and "406" in err
    code, _, err = await api.ctl("plug", "1", "--ev", "soc")
    assert code == 1 and "KEY=VALUE" in err
    code, _, err = await api.ctl("pause", "7")
    assert code == 1 and "404" in err


async def test_ctl_without_a_running_station() -> None:
    probe = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    out, err = io.StringIO(), io.StringIO()
    argv = ["--url", f"http://127.0.0.1:{port}", "state"]
    code = await asyncio.to_thread(ctl.main, argv, out, err)
    assert code == 1
    assert "is `evse sim` running" in err.getvalue()


async def test_ctl_against_a_station_that_is_not_simulated() -> None:
    app = web.Application()
    async with TestClient(TestServer(app)) as client:
        url = str(client.make_url("")).rstrip("/")
        out, err = io.StringIO(), io.StringIO()
        code = await asyncio.to_thread(ctl.main, ["--url", url, "state"], out, err)
    assert code == 1 and "not simulated" in err.getvalue()


def test_ctl_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVSE_SIM_URL", "http://127.0.0.1:1")
    err = io.StringIO()
    assert ctl.main(["faults"], io.StringIO(), err) == 1
    assert "http://127.0.0.1:1" in err.getvalue()


def test_csms_endpoint() -> None:
    assert csms_endpoint("ws://127.0.0.1:9000/ocpp") == ("127.0.0.1", 9000)
    assert csms_endpoint("wss://csms.example/ocpp") == ("csms.example", 443)
    assert csms_endpoint("ws://csms.example/") == ("csms.example", 80)
    with pytest.raises(ValueError):
        csms_endpoint("ws:///nohost")

"""Running a simulated station: the ``evse sim`` command and the harness tests use.

A simulated station is the real :class:`firmware.app.runtime.StationRuntime` on the simulator's
wiring, with the control API added to its HTTP server. Tests drive it only through that
API (``SimulatedStation.api``) and watch the central system over a real WebSocket.

A Reset restarts the station in-process: a new :class:`~firmware.app.runtime.StationRuntime` on the
same state directory and the same simulated world (plugged EVs stay plugged), as a board
would come back after ``evse run`` exits or reboots.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from firmware.app.assembly import StationRuntime
from firmware.app.runtime import serve_until_signal
from firmware.config import StationConfig, load_station
from firmware.http import make_app, serve
from firmware.http.server import StationView
from firmware.ports import AvailabilityControl
from firmware.station.snapshot import StationState
from hal_sim.simulator import Simulation

log = logging.getLogger(__name__)

STATIONS = Path(__file__).parent / "stations"


def default_station() -> Path:
    return STATIONS / "ac.toml"


def _with_id(config: StationConfig, charge_point_id: str | None) -> StationConfig:
    if not charge_point_id:
        return config
    return replace(config, identity=replace(config.identity, charge_point_id=charge_point_id))


async def sim_main(config: StationConfig, args: argparse.Namespace) -> int:
    """``evse sim``: the station, its simulated world and (by default) a demo CSMS."""
    config = _with_id(config, args.charge_point_id)
    csms = None
    url: str | None
    if args.no_csms:
        url = None
    elif args.csms:
        url = args.csms
    else:
        from hal_sim.csms_demo import serve as serve_csms

        csms = await serve_csms()
        url = csms.url
        print(f"demo central system: {url}", flush=True)
    config = replace(config, csms_url=url)
    with contextlib.ExitStack() as stack:
        state_dir = args.state_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sim = await Simulation.create(config, csms_url=url)
        set_keys = args.set_key
        try:
            while True:
                runtime = StationRuntime(
                    config, sim.wiring, state_dir=state_dir, csms_url=url, set_keys=set_keys
                )
                set_keys = ()  # initial values: the first start only
                station = runtime.station
                sim.world.cpo_availability = cpo_availability(station.ops, station.spawn)
                try:
                    restart = await serve_until_signal(runtime, *args.http, extensions=[sim])
                finally:
                    runtime.close()
                if restart is None:
                    break
                log.warning("%s reset: restarting the station", "hard" if restart else "soft")
        finally:
            await sim.close()
            if csms is not None:
                await csms.close()
    return 0


Spawn = Callable[[Coroutine[Any, Any, None], str], None]
"""Runs a coroutine as a task of the station's own TaskGroup (``Station.spawn``)."""


def cpo_availability(
    availability: AvailabilityControl, spawn: Spawn
) -> Callable[[int, bool], None]:
    """The CPO's ChangeAvailability as the simulator injects it (fault 206): the request
    the station's OCPP handler would carry out (its availability port), on the station's
    own task group."""

    def request(connector_id: int, operative: bool) -> None:
        async def change() -> None:
            await availability.change_availability(connector_id, operative)

        spawn(change(), f"ChangeAvailability {connector_id}")

    return request


async def cancel_and_wait(task: asyncio.Task[None], grace: float = 1.0) -> None:
    """Cancel ``task`` and wait until it ended.

    A safety net: on Python 3.11, ``asyncio.wait_for`` / ``asyncio.timeout`` can swallow a
    cancellation that arrives together with a result (fixed in 3.12); a loop around such an
    await (a meter poll) then runs on and its TaskGroup never ends. Tasks still cancelling
    after ``grace`` seconds are cancelled again."""
    task.cancel()
    while not task.done():
        await asyncio.wait({task}, timeout=grace)
        if task.done():
            break
        me = asyncio.current_task()
        stuck = [t for t in asyncio.all_tasks() if t is not me and t.cancelling() and not t.done()]
        log.error("%d tasks ignored their cancellation; cancelling them again: %s",
                  len(stuck), ", ".join(t.get_name() for t in stuck))
        for t in stuck:
            t.cancel()
    if not task.cancelled():
        task.result()  # an error of the station's shows here


class _CurrentStation:
    """The HTTP server's view of a station that a Reset may replace: the server keeps
    this view, and a restart hands it the new station."""

    def __init__(self, station: StationView) -> None:
        self._station = station

    def replace(self, station: StationView) -> None:
        self._station = station

    def state(self) -> StationState:
        return self._station.state()

    def fault_events(self, limit: int = 200) -> list[dict[str, Any]]:
        return self._station.fault_events(limit)


class SimulatedStation:
    """A whole simulated station in this process, for tests and benchmarks.

    ``async with SimulatedStation(csms_url=...) as s:`` starts it; ``await s.api("POST",
    "/api/sim/connectors/1/plug")`` drives it; ``await s.wait(lambda st: ...)`` waits for a
    state of ``GET /api/sim/state``.
    """

    def __init__(
        self,
        station: Path | str | None = None,
        *,
        csms_url: str | None = None,
        state_dir: Path | None = None,
        set_keys: Iterable[tuple[str, str]] = (),
        charge_point_id: str | None = None,
    ) -> None:
        config = load_station(Path(station) if station else default_station())
        self.config = replace(_with_id(config, charge_point_id), csms_url=csms_url)
        self.csms_url = csms_url
        self.state_dir = state_dir
        self.set_keys = list(set_keys)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.restarts: list[bool] = []  # every Reset carried out: True = hard
        self.http_url = ""

    def _build(self, set_keys: Iterable[tuple[str, str]]) -> None:
        self.runtime = StationRuntime(
            self.config, self.sim.wiring, state_dir=self.state_dir,
            csms_url=self.csms_url, set_keys=set_keys,
        )
        self.station = self.runtime.station
        self.sim.world.cpo_availability = cpo_availability(self.station.ops, self.station.spawn)
        self.runtime.recover_power_loss()

    async def __aenter__(self) -> SimulatedStation:
        if self.state_dir is None:  # a Reset restarts on the same state: keep it on disk
            self._tmp = tempfile.TemporaryDirectory()
            self.state_dir = Path(self._tmp.name)
        self.sim = await Simulation.create(self.config, csms_url=self.csms_url)
        self._build(self.set_keys)
        self._view = _CurrentStation(self.station)
        app = make_app(self._view)
        self.sim.add_routes(app, self._view)
        self._server = await serve(app, "127.0.0.1", 0)
        host, port = self._server.address
        self.http_url = f"http://{host}:{port}"
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="simulated-station")
        await asyncio.wait_for(self.runtime.started.wait(), 10)
        return self

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.sim.run())
            while True:
                running = tg.create_task(self.runtime.run(), name="station")
                hard = await self.runtime.restart.wait()
                log.warning("%s reset: restarting the station in-process",
                            "hard" if hard else "soft")
                await self.runtime.drain()
                await cancel_and_wait(running)
                self.runtime.close()
                self._build(())
                self._view.replace(self.station)
                self.restarts.append(hard)

    async def wait_restarted(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``count`` Resets were carried out and the new station runs."""
        async with asyncio.timeout(timeout):
            while len(self.restarts) < count or not self.runtime.started.is_set():
                await asyncio.sleep(0.02)

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self, drain: bool = False) -> None:
        """Stop as on SIGTERM (``drain``: stop transactions and deliver them first)."""
        if self._task is None:
            return
        if drain:
            self.station.stop_all("Reboot")
            await self.runtime.drain()
        await cancel_and_wait(self._task)
        self._task = None
        if self._session is not None:
            await self._session.close()
        await self._server.close()
        await self.sim.close()
        self.runtime.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ------------------------------------------------------------------ driving
    async def api(self, method: str, path: str, body: Any = None) -> Any:
        assert self._session is not None
        async with self._session.request(method, self.http_url + path, json=body) as resp:
            data = await resp.json()
            if resp.status >= 400:
                raise AssertionError(f"{method} {path} -> {resp.status}: {data}")
            return data

    async def state(self) -> Any:
        return await self.api("GET", "/api/sim/state")

    async def connector(self, connector_id: int) -> Any:
        state = await self.state()
        return next(c for c in state["connectors"] if c["id"] == connector_id)

    async def wait(
        self, predicate: Callable[[Any], bool], timeout: float = 10.0, what: str = ""
    ) -> Any:
        """Poll ``/api/sim/state`` until ``predicate(state)`` holds."""
        deadline = asyncio.get_running_loop().time() + timeout
        state = None
        while asyncio.get_running_loop().time() < deadline:
            state = await self.state()
            if predicate(state):
                return state
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what or predicate}: {state}")

    async def wait_connector(
        self, connector_id: int, predicate: Callable[[Any], bool], timeout: float = 10.0,
        what: str = "",
    ) -> Any:
        state = await self.wait(
            lambda st: predicate(next(c for c in st["connectors"] if c["id"] == connector_id)),
            timeout, what,
        )
        return next(c for c in state["connectors"] if c["id"] == connector_id)

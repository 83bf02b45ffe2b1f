"""The station's HTTP server: ``GET /api/status`` and the first web page.

The page (``static/index.html`` + ``app.js`` + ``style.css``) polls ``/api/status`` about
once a second. When ``/api/sim/state`` answers (the simulator adds those routes to the same
application, see ``hal_sim.api``), it also shows buttons that drive the simulated EV.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from firmware.station.snapshot import StationState

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")

class StationView(Protocol):
    """What the HTTP server needs of the station: a snapshot of its state and its fault
    event log."""

    def state(self) -> StationState: ...

    def fault_events(self, limit: int = 200) -> list[dict[str, Any]]:
        """The fault event log, newest first, at most ``limit`` events (JSON-ready)."""
        ...


STATION_KEY = web.AppKey("station", StationView)


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response; values JSON does not know (datetimes, enums) become strings."""
    return web.Response(
        text=json.dumps(data, default=str),
        status=status,
        content_type="application/json",
    )


def state_dict(station: StationView) -> dict[str, Any]:
    """``station.state()`` as plain JSON-ready data."""
    return dataclasses.asdict(station.state())


async def _status(request: web.Request) -> web.Response:
    return json_response(state_dict(request.app[STATION_KEY]))


async def _events(request: web.Request) -> web.Response:
    """The fault event log, newest first (``?limit=N``, default 200, at most 10000)."""
    try:
        limit = max(1, min(10_000, int(request.query.get("limit", "200"))))
    except ValueError:
        return json_response({"error": "limit must be a whole number"}, status=400)
    return json_response({"events": request.app[STATION_KEY].fault_events(limit)})


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


def make_app(station: StationView) -> web.Application:
    """The station's aiohttp application.

    Routes: ``GET /`` (the web page), ``GET /static/...`` (its script and style sheet),
    ``GET /api/status`` (``station.state()`` as JSON), ``GET /api/events`` (the fault event
    log, ``station.fault_events(limit)``). Other parts add their routes to the returned
    application before it is served.
    """
    app = web.Application()
    app[STATION_KEY] = station
    app.router.add_get("/", _index)
    app.router.add_get("/api/status", _status)
    app.router.add_get("/api/events", _events)
    app.router.add_static("/static/", STATIC_DIR)
    return app


@dataclass
class RunningServer:
    """A served application; ``await close()`` stops it."""

    runner: web.AppRunner
    site: web.TCPSite

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): useful when started on port 0."""
        addresses = self.runner.addresses
        if not addresses:
            raise RuntimeError("server not started")
        host, port = addresses[0][:2]
        return str(host), int(port)

    async def close(self) -> None:
        await self.runner.cleanup()


async def serve(app: web.Application, host: str, port: int) -> RunningServer:
    """Serve ``app`` on ``host:port`` until ``close()`` is awaited on the result."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = RunningServer(runner, site)
    log.info("HTTP server on http://%s:%d/", *server.address)
    return server

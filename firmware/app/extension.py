"""The hook through which another part runs beside the station in the same process.

The simulator is one (``hal_sim.simulator.Simulation``): it adds its control API to the
station's HTTP application and ticks its world in the station's TaskGroup. Extensions
are handed to :func:`firmware.app.runtime.serve_until_signal` explicitly; the runtime
knows them only through :class:`RuntimeExtension`.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from firmware.http.server import StationView


class RuntimeExtension(Protocol):
    """A part that serves routes from the station's HTTP server and runs one task."""

    @property
    def name(self) -> str:
        """A short name for its task and the log (``simulation``)."""
        ...

    def add_routes(self, app: web.Application, station: StationView) -> None:
        """Add routes to the station's application before it is served; ``station`` is
        what the station's own routes show."""
        ...

    async def run(self) -> None:
        """Run beside the station until cancelled (when the station stops). An exception
        ends the station's TaskGroup: an extension is part of the process it runs in."""
        ...

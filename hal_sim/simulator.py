"""Assembly of a simulated station's surroundings: wires, circuits, world, network proxy.

``sim = await Simulation.create(config)`` builds and starts the simulated wiring, the
circuits behind it, the world (EVs, grid) and, when the station has a central system
URL, the proxy that can cut that link. The station is then built on ``sim.wiring`` like
on a board's wiring; ``sim.add_routes(app, station)`` adds the control API to the
station's HTTP application, and ``await sim.run()`` (in the station's TaskGroup) ticks
the world until cancelled. ``await sim.close()`` releases everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from aiohttp import web

from firmware.config import StationConfig
from firmware.http.server import StationView
from hal_sim.circuits import SimHardware
from hal_sim.netproxy import NetworkProxy
from hal_sim.nfc_sim import FakeClf
from hal_sim.sim_wiring import SimWiring
from hal_sim.world import World

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"ws": 80, "wss": 443, "http": 80, "https": 443}


def csms_endpoint(url: str) -> tuple[str, int]:
    """The (host, port) a central-system URL connects to."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"central system URL without a host: {url!r}")
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    if port is None:
        raise ValueError(f"central system URL without a port: {url!r}")
    return parts.hostname, port


class Simulation:
    """The simulated surroundings of one station.

    ``wiring`` is a ``hal_sim.sim_wiring.SimWiring``, ``hw`` the ``hal_sim.circuits``
    hardware built on it, ``world`` the EV and grid model, ``proxy`` the CSMS link's
    :class:`NetworkProxy` (None without a central system).

    A :class:`firmware.app.extension.RuntimeExtension`: ``evse sim`` hands it to
    ``serve_until_signal``, which adds its routes and runs its world beside the station.
    """

    name = "simulation"

    def __init__(
        self,
        config: StationConfig,
        wiring: SimWiring,
        hw: SimHardware,
        world: World,
        proxy: NetworkProxy | None = None,
        csms_url: str | None = None,
    ) -> None:
        self.config = config
        self.wiring = wiring
        self.hw = hw
        self.world = world
        self.proxy = proxy
        self.csms_url = csms_url

    @classmethod
    async def create(
        cls,
        config: StationConfig,
        csms_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Simulation:
        """Build and start everything. ``csms_url`` overrides the station file's URL
        (``evse sim --csms``); with neither, no proxy is started."""
        wiring = SimWiring(config)
        await wiring.start()
        proxy: NetworkProxy | None = None
        try:
            hw = SimHardware.build(config, wiring)
            world = World(config, hw, wiring, clock)
            hw.attach_world(world)
            url = csms_url or config.csms_url
            if url:
                host, port = csms_endpoint(url)
                proxy = NetworkProxy(host, port)
                await proxy.start()
                wiring.set_tcp_override(host, port, proxy.address)
        except BaseException:
            if proxy is not None:
                await proxy.close()
            await wiring.stop()
            raise
        return cls(config, wiring, hw, world, proxy, url)

    @property
    def reader(self) -> FakeClf | None:
        """The simulated NFC reader (``present(uid_hex)``), None when the station has no
        token reader configured."""
        if "token_reader" not in self.config.devices:
            return None
        return self.hw.reader

    def add_routes(self, app: web.Application, station: StationView | None) -> None:
        """Add the ``/api/sim/`` control routes to the station's HTTP application."""
        from hal_sim.api import add_routes

        add_routes(app, self, station)

    async def run(self) -> None:
        """Tick the world until cancelled."""
        await self.world.run()

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
        await self.wiring.stop()

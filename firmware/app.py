"""Assembly: a station, its persistence, its central-system link and its HTTP server.

:class:`StationRuntime` is the same on a board and in simulation; only the wiring differs
(``BoardWiring`` or the simulator's ``SimWiring``). ``run_board`` and ``run_sim`` are the
``evse run`` / ``evse sim`` commands; tests use ``hal_sim.runner.SimulatedStation``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

from drivers.wiring import BoardWiring, Wiring
from firmware.clock import SystemClock
from firmware.config import ConfigError, StationConfig, load_station
from firmware.http import make_app, serve
from firmware.ocpp.keys import ConfigKeys, InvalidValue
from firmware.ocpp.link import OcppLink
from firmware.ports import CentralSystemLink
from firmware.station import Station
from firmware.store import Store

log = logging.getLogger(__name__)

DRAIN_S = 5.0  # on SIGTERM: how long to wait for queued transaction messages


class StationRuntime:
    """Everything a running station is made of, except the wiring and the HTTP server."""

    def __init__(
        self,
        config: StationConfig,
        wiring: Wiring,
        *,
        state_dir: Path | None,
        csms_url: str | None,
        set_keys: Iterable[tuple[str, str]] = (),
        clock: SystemClock | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        if state_dir is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(state_dir / "station.sqlite" if state_dir is not None else None)
        self.keys = ConfigKeys(self.store)
        for name, value in set_keys:
            self.keys.set_initial(name, value)
        self.csms_url = csms_url
        clock_ = self.clock

        def link_factory(station: Station) -> CentralSystemLink:
            assert csms_url is not None
            return OcppLink(
                station,
                config.identity,
                csms_url,
                self.store,
                self.keys,
                clock_,
                endpoint=wiring.tcp_endpoint,
                connector_count=len(config.connectors),
            )

        self.station = Station(
            config,
            wiring,
            clock=self.clock,
            link_factory=link_factory if csms_url else None,
            key=self.keys.get,
            persist_meter=lambda tx, wh: self.store.persist_meter(tx.local_id, wh, clock_.now()),
        )

    def recover_power_loss(self) -> None:
        """Transactions that were running when the power went: stop them now with reason
        PowerLoss and the last persisted meter reading; the queue delivers them."""
        for record in self.store.unfinished_transactions():
            if record.stopped:
                continue
            handle = record.handle()
            meter = record.last_meter_wh
            if meter is None:
                meter = handle.meter_start_wh
            when = record.last_meter_time or handle.started
            log.warning(
                "connector %d: transaction %d interrupted by power loss: stopping at %.0f Wh",
                handle.connector_id, handle.local_id, meter,
            )
            self.station.link.stop_transaction(handle, meter, when, "PowerLoss", handle.id_tag)

    async def drain(self, timeout: float = DRAIN_S) -> None:
        """Wait (bounded) until queued transaction messages are delivered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connectors = self.station.connectors.values()
        while any(c.stopping for c in connectors) and loop.time() < deadline:
            await asyncio.sleep(0.01)  # stops are recorded (persistently) before we go
        while (
            self.station.link.online and self.store.queue_len() and loop.time() < deadline
        ):
            await asyncio.sleep(0.05)

    def close(self) -> None:
        self.store.close()


def _load(path: Path) -> StationConfig | None:
    try:
        return load_station(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None


async def serve_until_signal(runtime: StationRuntime, host: str, port: int) -> None:
    """Run the station and its HTTP server until SIGTERM/SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime.recover_power_loss()
    app = make_app(runtime.station)
    sim = getattr(runtime, "simulation", None)
    if sim is not None:
        sim.add_routes(app, runtime.station)
    server = await serve(app, host, port)
    address = server.address
    print(f"station {runtime.config.identity.charge_point_id}: "
          f"http://{address[0]}:{address[1]}/  csms: {runtime.csms_url or 'none'}", flush=True)
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(runtime.station.run(), name="station")]
            if sim is not None:
                tasks.append(tg.create_task(sim.run(), name="simulation"))
            await stop.wait()
            log.info("stopping: closing transactions")
            runtime.station.stop_all("Reboot")
            await runtime.drain()
            for task in tasks:  # cancelled children end the group without an error
                task.cancel()
    finally:
        await server.close()


def run_board(args: argparse.Namespace) -> int:
    config = _load(args.station)
    if config is None:
        return 2
    url = args.csms or config.csms_url

    async def main() -> None:
        runtime = StationRuntime(config, BoardWiring(), state_dir=args.state_dir, csms_url=url)
        try:
            await serve_until_signal(runtime, *args.http)
        finally:
            runtime.close()

    asyncio.run(main())
    return 0


def run_sim(args: argparse.Namespace) -> int:
    from hal_sim.runner import default_station, sim_main

    path = args.station or default_station()
    config = _load(path)
    if config is None:
        return 2
    try:
        return asyncio.run(sim_main(config, args))
    except InvalidValue as exc:
        print(f"--set-key: {exc}", file=sys.stderr)
        return 2
    finally:
        with contextlib.suppress(Exception):
            logging.shutdown()

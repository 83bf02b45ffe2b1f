"""Serving a station: its HTTP server, signals and Resets around a
:class:`~firmware.app.assembly.StationRuntime` (the one assembly).

``run_board`` is the ``evse run`` command;
:func:`serve_until_signal` serves a runtime with the :class:`RuntimeExtension` parts
handed to it, which is how the simulator (``evse sim``, outside this package) adds its
control API and world.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from drivers.wiring import BoardWiring
from firmware.app.assembly import StationRuntime
from firmware.app.extension import RuntimeExtension
from firmware.app.gc_policy import settle_heap
from firmware.config import ConfigError, StationConfig, load_station
from firmware.http import make_app, serve
from firmware.http.server import RunningServer

log = logging.getLogger(__name__)

# ``evse run`` exits with this after a soft Reset: systemd (Restart=always) starts it again.
RESTART_EXIT_CODE = 75


def load_or_report(path: Path) -> StationConfig | None:
    """The station file's configuration, or None after printing why it is refused."""
    try:
        return load_station(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None


async def serve_until_signal(
    runtime: StationRuntime,
    host: str,
    port: int,
    *,
    extensions: Sequence[RuntimeExtension] = (),
) -> bool | None:
    """Run the station and its HTTP server until SIGTERM/SIGINT, then stop cleanly.

    Each of ``extensions`` adds its routes to the station's application and runs its task
    beside the station, in the same TaskGroup, until the station stops.

    Returns None after a signal; after a Reset the station asked for, whether it was hard
    (the caller restarts: in-process in simulation, by exiting or rebooting on a board)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime.recover_power_loss()
    app = make_app(runtime.station)
    for extension in extensions:
        extension.add_routes(app, runtime.station)
    server: RunningServer | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(runtime.run(), name="station")]
            tasks.extend(tg.create_task(extension.run(), name=extension.name)
                         for extension in extensions)
            # Serve only once the drivers are started: before that there is no state to show.
            await runtime.started.wait()
            settle_heap()  # no 50 ms collections of start-up objects from here on
            server = await serve(app, host, port)
            address = server.address
            print(f"station {runtime.config.identity.charge_point_id}: "
                  f"http://{address[0]}:{address[1]}/  csms: {runtime.csms_url or 'none'}",
                  flush=True)
            reset = asyncio.ensure_future(runtime.restart.wait())
            signalled = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait((reset, signalled), return_when=asyncio.FIRST_COMPLETED)
            finally:
                reset.cancel()
                signalled.cancel()
            log.info("stopping: closing transactions")
            runtime.station.stop_all("Reboot")  # after a Reset: already stopped
            await runtime.drain()
            for task in tasks:  # cancelled children end the group without an error
                task.cancel()
    finally:
        if server is not None:
            await server.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    if runtime.restart.requested:
        return await runtime.restart.wait()
    return None


async def reboot_board() -> None:
    """Hard reset on a board: reboot the machine (the unit's user needs the right to)."""
    log.warning("hard reset: rebooting")
    proc = await asyncio.create_subprocess_exec("systemctl", "reboot")
    await proc.wait()


def run_board(args: argparse.Namespace) -> int:
    """``evse run``: the station on the board's wiring until a signal or a Reset."""
    config = load_or_report(args.station)
    if config is None:
        return 2
    url = args.csms or config.csms_url

    async def main() -> int:
        runtime = StationRuntime(config, BoardWiring(), state_dir=args.state_dir, csms_url=url)
        try:
            restart = await serve_until_signal(runtime, *args.http)
        finally:
            runtime.close()
        if restart is None:
            return 0
        if restart:
            await reboot_board()
            return 0
        log.info("soft reset: exiting with %d for systemd to start us again", RESTART_EXIT_CODE)
        return RESTART_EXIT_CODE

    return asyncio.run(main())


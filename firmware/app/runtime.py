"""Assembly: a station, its persistence, its central-system link and its HTTP server.

:class:`StationRuntime` is the same on a board and in simulation; only the wiring differs
(``BoardWiring`` or the simulator's). ``run_board`` is the ``evse run`` command;
:func:`serve_until_signal` serves a runtime with the :class:`RuntimeExtension` parts
handed to it, which is how the simulator (``evse sim``, outside this package) adds its
control API and world.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from drivers.wiring import BoardWiring, Wiring
from firmware.app.extension import RuntimeExtension
from firmware.app.gc_policy import settle_heap
from firmware.clock import SystemClock
from firmware.config import ConfigError, StationConfig, load_station
from firmware.http import make_app, serve
from firmware.http.server import RunningServer
from firmware.ocpp.core_profile import CoreProfile
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.keys_catalog import apply_station
from firmware.ocpp.link import OcppLink
from firmware.ocpp.local_list_profile import LocalListProfile
from firmware.ocpp.reservation_profile import ReservationProfile
from firmware.ocpp.trigger_profile import RemoteTriggerProfile
from firmware.station.station import Station
from firmware.storage.store import Store

log = logging.getLogger(__name__)

DRAIN_S = 5.0  # on SIGTERM: how long to wait for queued transaction messages
# ``evse run`` exits with this after a soft Reset: systemd (Restart=always) starts it again.
RESTART_EXIT_CODE = 75


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
        apply_station(self.keys, config, csms_url)
        for name, value in set_keys:
            self.keys.set_initial(name, value)
        config, csms_url = persisted_identity(self.keys, config, csms_url)
        self.config = config
        self.csms_url = csms_url
        clock_ = self.clock
        # The link is complete before the station gets it; it learns the station only
        # when the station runs it (``link.run(station)``).
        link = OcppLink(
            config.identity,
            csms_url,
            self.store,
            self.keys,
            clock_,
            endpoint=wiring.tcp_endpoint,
            connector_count=len(config.connectors),
        ) if csms_url else None
        self.station = Station(
            config,
            wiring,
            clock=self.clock,
            link=link,
            key=self.keys.get,
            persist_meter=lambda tx, wh: self.store.persist_meter(tx.local_id, wh, clock_.now()),
            store=self.store,
            watch_key=self.keys.on_change,
        )
        if link is not None:
            install_profiles(link, self.station)

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
        """Wait (bounded) until queued transaction messages are delivered, then close the
        central-system connection politely (no answer of ours left in flight)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connectors = self.station.connectors.values()
        while any(c.stopping for c in connectors) and loop.time() < deadline:
            await asyncio.sleep(0.01)  # stops are recorded (persistently) before we go
        while (
            self.station.link.online and self.store.queue_len() and loop.time() < deadline
        ):
            await asyncio.sleep(0.05)
        await self.station.link.shutdown(max(0.1, deadline - loop.time()))

    def close(self) -> None:
        self.store.close()


def install_profiles(link: OcppLink, station: Station) -> None:
    """The OCPP feature profiles of a station, each with the parts of the station that
    provide its ports. SupportedFeatureProfiles lists them in this order. A profile whose
    capability the station lacks is not installed; a Core operation it lacks is ``None``
    (see :mod:`firmware.ocpp.core_profile`)."""
    link.install(CoreProfile(
        link,
        station,
        remote=station,
        reset=station,
        availability=station.ops,
        unlock=station.ops,
        cache=station.auth,
        data_transfer=station.ops,
    ))
    link.install(LocalListProfile(station.auth.local_list))
    link.install(ReservationProfile(station.reservations))
    # No FirmwareManagement yet: FirmwareStatusNotification / DiagnosticsStatusNotification
    # triggers answer NotImplemented.
    link.install(RemoteTriggerProfile(link, station, firmware=None, diagnostics=None))


def persisted_identity(
    keys: ConfigKeys, config: StationConfig, csms_url: str | None
) -> tuple[StationConfig, str | None]:
    """The charge point id and central system URL to use: chargePointIdentity and
    WebSocketUrl when the central system (or ``--set-key``) changed them, which takes
    effect at the next start (both keys answer RebootRequired); the station file's and
    the command line's otherwise. A station without a central system stays without."""
    cp_id = keys.get("chargePointIdentity")
    if cp_id and keys.persisted("chargePointIdentity") and cp_id != config.identity.charge_point_id:
        log.info("charge point id %s (chargePointIdentity; the station file says %s)",
                 cp_id, config.identity.charge_point_id)
        config = replace(config, identity=replace(config.identity, charge_point_id=cp_id))
    url = keys.get("WebSocketUrl")
    if csms_url is not None and url and keys.persisted("WebSocketUrl") and url != csms_url:
        log.info("central system %s (WebSocketUrl; configured: %s)", url, csms_url)
        csms_url = url
    return config, csms_url


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
    restart: list[bool] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def on_restart(hard: bool) -> None:
        restart.append(hard)
        stop.set()

    runtime.station.on_restart = on_restart
    runtime.recover_power_loss()
    app = make_app(runtime.station)
    for extension in extensions:
        extension.add_routes(app, runtime.station)
    server: RunningServer | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(runtime.station.run(), name="station")]
            tasks.extend(tg.create_task(extension.run(), name=extension.name)
                         for extension in extensions)
            # Serve only once the drivers are started: before that there is no state to show.
            await runtime.station.started.wait()
            settle_heap()  # no 50 ms collections of start-up objects from here on
            server = await serve(app, host, port)
            address = server.address
            print(f"station {runtime.config.identity.charge_point_id}: "
                  f"http://{address[0]}:{address[1]}/  csms: {runtime.csms_url or 'none'}",
                  flush=True)
            await stop.wait()
            log.info("stopping: closing transactions")
            runtime.station.stop_all("Reboot")  # after a Reset: already stopped
            await runtime.drain()
            for task in tasks:  # cancelled children end the group without an error
                task.cancel()
    finally:
        if server is not None:
            await server.close()
    return restart[0] if restart else None


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


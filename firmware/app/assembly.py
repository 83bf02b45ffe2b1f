"""The one assembly: a station built from its configuration in a fixed order, and run in
one TaskGroup.

:class:`StationRuntime` is the same on a board and in simulation; only the wiring differs
(``BoardWiring`` or the simulator's). It builds every part complete before handing it to
the next, in this order:

1. configuration: the store, the configuration keys (with the station file's identity and
   the persisted changes), the connector and station fault books;
2. drivers on the wiring (:class:`~firmware.station.hardware.StationHardware`), the safety
   gate;
3. the central-system link (OCPP, or the local one of a station without a central system),
   the authorizer and the reservation book, which the connectors' link needs;
4. connectors, 5. the power budget, 6. supervision, reservations, operations and the
   authorization flow, 7. the station;
8. the wiring between them: who hears which connector's changes (the budget, the flow,
   the display, connector 0's status), the cable derating into the budget, the AC meters
   into grid supervision, the configuration keys the sessions and the budget follow;
9. the OCPP feature profiles, each with the ports that provide it;
10. the persisted state applied: availability and reservations.

Nothing runs and no listener fires before the last step, so no callback reaches a part
that is not built yet. HTTP comes last, from :func:`firmware.app.runtime.serve_until_signal`.
:meth:`StationRuntime.run` owns the TaskGroup of everything the station runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from drivers.interfaces import DcResidualCurrentMonitor
from drivers.interfaces_station import LedRing
from drivers.wiring import Wiring
from firmware.app import sdnotify
from firmware.auth.authorizer import Authorizer
from firmware.auth.reservations import ReservationBook, Reservations
from firmware.clock import Clock, SystemClock
from firmware.config import StationConfig
from firmware.connector.controller import ConnectorController
from firmware.ocpp.core_profile import CoreProfile
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.keys_catalog import apply_station
from firmware.ocpp.link import OcppLink
from firmware.ocpp.local_list_profile import LocalListProfile
from firmware.ocpp.reservation_profile import ReservationProfile
from firmware.ocpp.trigger_profile import RemoteTriggerProfile
from firmware.ports import CentralSystemLink, TxHandle
from firmware.power.budget import CABLE_TEMPERATURE
from firmware.power.manager import PowerManager
from firmware.safety.fault_book import FaultBook
from firmware.safety.fault_catalogue import default_catalogue
from firmware.safety.fault_events import EventLog
from firmware.safety.gate import Safety
from firmware.session.events import SessionSettings, SessionTimers
from firmware.station.authorization_flow import AuthorizationFlow
from firmware.station.hardware import StationHardware
from firmware.station.local_link import LocalLink
from firmware.station.operations import ConnectorLink, StationOps
from firmware.station.station import Station, stop_all_transactions
from firmware.station.station_status import StationStatus
from firmware.station.supervision import Supervision, language_code
from firmware.storage.counter import StoredCounter
from firmware.storage.store import Store
from firmware.tasks import TaskHost

log = logging.getLogger(__name__)

DRAIN_S = 5.0  # on SIGTERM: how long to wait for queued transaction messages
# Keys whose value the sessions hold: applied again when the central system changes them.
SESSION_KEYS = (
    "ConnectionTimeOut", "StopTransactionOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect",
    "AutochargeEnabled",
)
# Keys the power budget follows: applied at once (the manual asks for a reboot; nothing
# requires one).
BUDGET_KEYS = ("MaxGridPower", "ChargingStrategy", "ConnectorsPowerLimit")


class RestartRequest:
    """A Reset the station carried out, for whoever runs the runtime to act on (exit for
    systemd, reboot, or restart in-process in simulation)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._hard = False

    def request(self, hard: bool) -> None:
        self._hard = hard
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> bool:
        """Until a Reset was carried out; whether it was hard."""
        await self._event.wait()
        return self._hard


class StationRuntime:
    """Everything a running station is made of, except the wiring and the HTTP server
    (see the module docstring for the order it is built in)."""

    def __init__(
        self,
        config: StationConfig,
        wiring: Wiring,
        *,
        state_dir: Path | None,
        csms_url: str | None,
        set_keys: Iterable[tuple[str, str]] = (),
        clock: Clock | None = None,
    ) -> None:
        # 1. configuration
        self.clock: Clock = clock or SystemClock()
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
        self.restart = RestartRequest()
        self.started = asyncio.Event()
        clock_ = self.clock
        catalogue = default_catalogue().with_thresholds(config.thresholds)
        language = language_code(self.key("GUIprimaryLanguage"))
        has_dc = any(c.is_dc for c in config.connectors)
        station_faults = FaultBook(catalogue, 0, has_dc, clock_.now, language)

        # 2. drivers, the safety gate
        self.hardware = StationHardware(config, wiring, clock_.monotonic)
        self.safety = Safety()

        # 3. the central-system link, authorization, the reservation book
        ocpp = OcppLink(
            config.identity,
            csms_url,
            self.store,
            self.keys,
            clock_,
            endpoint=wiring.tcp_endpoint,
            connector_count=len(config.connectors),
        ) if csms_url else None
        self.link: CentralSystemLink = ocpp if ocpp is not None else LocalLink(clock_)
        self.auth = Authorizer(ocpp, self.key, self.store, clock_)
        book = ReservationBook(self.store)
        self.connector_link = ConnectorLink(self.link, book, self.auth.parent_of)

        # 4. connectors
        timers = SessionTimers(connection_timeout_s=self._settings().connection_timeout_s)
        self.connectors: dict[int, ConnectorController] = {
            c.id: ConnectorController(
                c,
                self.hardware.connectors[c.id],
                safety=self.safety,
                link=self.connector_link,
                catalogue=catalogue,
                clock=clock_,
                timers=timers,
                persist_meter=self._persist_meter,
                station_faults=station_faults,
                language=language,
                plug_cycles=StoredCounter(self.store, f"plug_cycles.{c.id}"),
            )
            for c in config.connectors
        }

        # 5. the one power budget (MaxGridPower, ConnectorsPowerLimit, stacks, strategy)
        self.power = PowerManager(config, self.connectors, self.hardware.power_modules,
                                  self.key)

        # 6. connector 0, supervision, reservations, operations, the authorization flow
        self.station_status = StationStatus(self.connectors, station_faults, self.link)
        stop_all = functools.partial(stop_all_transactions, self.connectors)
        devices = self.hardware.connectors
        leds: dict[int, LedRing] = {cid: d.led for cid, d in devices.items() if d.led}
        rdcs: dict[int, DcResidualCurrentMonitor] = {}
        for cid, d in devices.items():
            rdc = d.rcd.dc_monitor() if d.rcd is not None else None
            if rdc is not None:
                rdcs[cid] = rdc
        self.supervision = Supervision(
            self.hardware.station_devices,
            station_faults,
            self.safety,
            catalogue.thresholds,
            clock_,
            self.connectors,
            stop_all=stop_all,
            station_status_changed=self.station_status.report,
            door_interlock=has_dc,
            leds=leds,
            rcd_monitors=rdcs,
            holder_colors=self.key("GUIConnectorHolderColors") or "",
            language=language,
        )
        # A station task failing unexpectedly is 001 on connector 0 (the link stays up).
        self.tasks = TaskHost(self.supervision.monitor.internal_error)
        self.reservations = Reservations(
            book, self.connectors, clock_, lambda: self._flag("ReserveConnectorZeroSupported")
        )
        self.ops = StationOps(
            self.connectors,
            self.store,
            availability_changed=self.station_status.report,
            stop_all=stop_all,
            restart=self.restart.request,
            tasks=self.tasks,
        )
        self.flow = AuthorizationFlow(
            self.connectors, self.auth, self.reservations, self.connector_link,
            key=self.key, clock=clock_, tasks=self.tasks,
        )
        events = EventLog(self.store, clock_.now)
        for book_ in (station_faults, *(c.faults for c in self.connectors.values())):
            events.attach(book_)
            book_.vendor_id = config.identity.vendor  # vendorId with every vendorErrorCode

        # 7. the station
        self.station = Station(
            config,
            link=self.link,
            hardware=self.hardware,
            safety=self.safety,
            connectors=self.connectors,
            power=self.power,
            supervision=self.supervision,
            auth=self.auth,
            reservations=self.reservations,
            flow=self.flow,
            ops=self.ops,
            events=events,
            tasks=self.tasks,
            status=self.station_status,
            store=self.store,
        )

        # 8. who hears what
        for connector in self.connectors.values():
            connector.subscribe_changes(self._connector_changed)
            if not connector.cfg.is_dc:  # the AC meters see the grid
                connector.subscribe_meter(functools.partial(
                    self.supervision.monitor.on_meter_reading, connector.id,
                    connector.cfg.phases))
            if connector.dc is not None:  # the cable's derating is a limit of the budget
                connector.dc.cable.subscribe_limit(functools.partial(
                    self.power.set_connector_limit, connector.id, CABLE_TEMPERATURE))
        self._apply_session_keys()
        for name in SESSION_KEYS:
            try:
                self.keys.on_change(name, lambda _v: self._apply_session_keys())
            except KeyError:
                log.warning("configuration key %s is not declared", name)
        for name in BUDGET_KEYS:
            with contextlib.suppress(KeyError):
                self.keys.on_change(name, lambda _v: self.power.reconfigure())

        # 9. the OCPP feature profiles
        if ocpp is not None:
            install_profiles(ocpp, self.station)

        # 10. the persisted state
        self.ops.restore_availability()
        self.reservations.restore()
        self.station_status.report()

    # ------------------------------------------------------------------ keys
    def key(self, name: str) -> str | None:
        """A configuration key's value (None: not declared or not set)."""
        try:
            return self.keys.get(name)
        except KeyError:
            return None

    def _flag(self, name: str, default: bool = False) -> bool:
        value = self.key(name)
        return default if value is None else value == "true"

    def _settings(self) -> SessionSettings:
        timeout = self.key("ConnectionTimeOut")
        return SessionSettings(
            connection_timeout_s=(float(timeout) if timeout is not None and timeout.isdigit()
                                  else SessionTimers().connection_timeout_s),
            stop_on_ev_disconnect=self._flag("StopTransactionOnEVSideDisconnect", True),
            unlock_on_ev_disconnect=self._flag("UnlockConnectorOnEVSideDisconnect", True),
            autocharge=self._flag("AutochargeEnabled"),
        )

    def _apply_session_keys(self) -> None:
        """Hand the session-level configuration keys to every connector's session."""
        settings = self._settings()
        for connector in self.connectors.values():  # each kind takes what applies to it
            connector.session.apply_settings(settings)

    # ------------------------------------------------------------------ the wiring's ends
    def _persist_meter(self, tx: TxHandle, energy_wh: float) -> None:
        self.store.persist_meter(tx.local_id, energy_wh, self.clock.now())

    def _connector_changed(self, connector: ConnectorController) -> None:
        """A connector changed: the budget, the flow, its display and connector 0."""
        self.power.refresh()
        self.supervision.show(connector.id)
        self.flow.connector_changed(connector)
        self.station_status.report()

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Start the hardware and run every part of the station, in one TaskGroup, until
        cancelled; the power path is left safe and the hardware released at the end."""
        await self.hardware.start()
        self.station.report_start_failures()
        try:
            async with asyncio.TaskGroup() as tg:
                self.tasks.bind(tg)
                for connector in self.connectors.values():
                    tg.create_task(connector.run(), name=f"connector-{connector.id}")
                reader = self.hardware.token_reader
                if reader is not None:
                    reader.subscribe(self.flow.present_token)
                    self.tasks.spawn(reader.run(), "token reader")
                tg.create_task(self.link.run(self.station), name="ocpp-link")
                self.tasks.spawn(self.reservations.run(), "reservations")
                self.tasks.spawn(self.supervision.run(), "supervision")
                self.tasks.spawn(self.power.run(), "power modules")
                tg.create_task(sdnotify.watchdog(), name="watchdog")
                sdnotify.notify("READY=1")
                self.started.set()
        finally:
            self.tasks.bind(None)
            self.safety.make_all_safe("station stopping")
            await self.hardware.close()

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
            self.link.stop_transaction(handle, meter, when, "PowerLoss", handle.id_tag)

    async def drain(self, timeout: float = DRAIN_S) -> None:
        """Wait (bounded) until queued transaction messages are delivered, then close the
        central-system connection politely (no answer of ours left in flight)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connectors = self.connectors.values()
        while any(c.stopping for c in connectors) and loop.time() < deadline:
            await asyncio.sleep(0.01)  # stops are recorded (persistently) before we go
        while self.link.online and self.store.queue_len() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await self.link.shutdown(max(0.1, deadline - loop.time()))

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
        remote=station.flow,
        reset=station.ops,
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

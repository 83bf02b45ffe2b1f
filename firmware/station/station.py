"""The station: every connector, the token reader and the central-system link, in one
TaskGroup; the :class:`~firmware.ports.StationPort` the central-system link runs for.

Authorization decisions live in :mod:`firmware.auth.authorizer`, reservations in
:mod:`firmware.auth.reservations`, the operations the central system triggers (availability,
unlock, data transfer, the reset procedure) in :mod:`firmware.station.operations`. Those
parts are the capability ports of :mod:`firmware.ports` themselves (the assembly hands
``station.reservations``, ``station.auth.local_list``, ``station.ops``... to the OCPP
profiles); the station itself provides the ports that need all of it: remote start/stop
and reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from drivers.wiring import Wiring
from firmware.app import sdnotify
from firmware.auth.authorizer import Authorizer
from firmware.auth.reservations import Reservations
from firmware.clock import Clock
from firmware.config import StationConfig
from firmware.connector.controller import ConnectorController
from firmware.ports import (
    CentralSystemLink,
    IdTagInfo,
    MeterSnapshot,
    StationPort,
    StatusReport,
    TxHandle,
)
from firmware.power.budget import CABLE_TEMPERATURE
from firmware.power.manager import PowerManager
from firmware.safety.fault_catalogue import Catalogue, Condition, default_catalogue
from firmware.safety.fault_events import EventLog
from firmware.safety.gate import Safety
from firmware.session.events import (
    ChargePointStatus,
    SessionSettings,
    SessionTimers,
    StopReason,
    TransactionRejected,
)
from firmware.station.hardware import StationHardware
from firmware.station.operations import ConnectorLink, StationOps
from firmware.station.snapshot import ConnectorState, StationState
from firmware.station.supervision import Supervision
from firmware.storage.store import Store

log = logging.getLogger(__name__)

_UNUSABLE = (ChargePointStatus.FAULTED, ChargePointStatus.UNAVAILABLE)
# Keys whose value the sessions hold: applied again when the central system changes them.
_SESSION_KEYS = (
    "ConnectionTimeOut", "StopTransactionOnEVSideDisconnect", "UnlockConnectorOnEVSideDisconnect",
    "AutochargeEnabled",
)


@dataclass
class _PendingAuth:
    id_tag: str
    parent: str | None
    remote: bool
    expires: float


class Station:
    """One charging station. Build it, then ``await run()`` inside a TaskGroup."""

    def __init__(
        self,
        config: StationConfig,
        wiring: Wiring,
        *,
        clock: Clock,
        link: CentralSystemLink | None,
        key: Callable[[str], str | None] = lambda _name: None,
        persist_meter: Callable[[TxHandle, float], None] | None = None,
        catalogue: Catalogue | None = None,
        store: Store | None = None,
        watch_key: Callable[[str, Callable[[str], None]], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self._raw_key = key
        self.store = store if store is not None else Store(None)
        # Set by the runtime: restart the station (True: hard, reboot the board).
        self.on_restart: Callable[[bool], None] | None = None
        self._built = False  # connectors report changes while the station is being built
        self.hardware = StationHardware(config, wiring, clock.monotonic)
        self.safety = Safety()
        self.catalogue = (catalogue or default_catalogue()).with_thresholds(config.thresholds)
        # No link: a station without a central system (authorization decided locally).
        self.link: CentralSystemLink = link if link is not None else LocalLink(clock)
        self.standalone = link is None
        self.auth = Authorizer(None if self.standalone else self.link, self.key, self.store,
                               clock)
        self._pending: _PendingAuth | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._kiosk_busy: set[int] = set()  # connectors whose kiosk authorization runs
        self._energy_limits: dict[int, float] = {}  # local tx id -> MaxEnergyOnInvalidId
        self._station_status: StatusReport | None = None
        self.connector_link = ConnectorLink(self.link, self._reservation_for)
        self.connectors: dict[int, ConnectorController] = {
            c.id: ConnectorController(
                c,
                self.hardware.connectors[c.id],
                safety=self.safety,
                link=self.connector_link,
                catalogue=self.catalogue,
                clock=clock,
                timers=self._timers(),
                persist_meter=persist_meter,
                on_change=self._connector_changed,
            )
            for c in config.connectors
        }
        self.started = asyncio.Event()
        for connector in self.connectors.values():  # plug cycles survive restarts
            name = f"plug_cycles.{connector.id}"
            connector.plug_cycles = self.store.counter(name)
            connector.on_plug_cycle = lambda _n, name=name: self._count(name)
        # The one power budget (MaxGridPower, ConnectorsPowerLimit, stacks, strategy).
        self.power = PowerManager(
            config, self.connectors, self.hardware.power_modules, self.key, self._spawn
        )
        for connector in self.connectors.values():
            if connector.dc is not None:
                connector.dc.cable.on_limit = functools.partial(
                    self.power.set_connector_limit, connector.id, CABLE_TEMPERATURE)
        self.supervision = Supervision(self, self.key)
        self.events = EventLog(self.store, clock.now)
        for book in (self.supervision.faults, *(c.faults for c in self.connectors.values())):
            self.events.attach(book)
            book.vendor_id = config.identity.vendor  # vendorId with every vendorErrorCode
        self.reservations = Reservations(
            self.connectors, self.store, clock, lambda: self._flag("ReserveConnectorZeroSupported")
        )
        self.ops = StationOps(self, self.store)
        self._apply_session_keys()
        if watch_key is not None:
            for name in _SESSION_KEYS:
                try:
                    watch_key(name, lambda _v: self._apply_session_keys())
                except KeyError:
                    log.warning("configuration key %s is not declared", name)
        if watch_key is not None:
            for name in ("MaxGridPower", "ChargingStrategy", "ConnectorsPowerLimit"):
                # Applied at once (the manual asks for a reboot; nothing requires one).
                with contextlib.suppress(KeyError):
                    watch_key(name, lambda _v: self.power.reconfigure())
        self.ops.restore_availability()
        self.reservations.restore()
        self._station_status = self.status_of(0)
        self._built = True

    def key(self, name: str) -> str | None:
        """A configuration key's value (None: not declared or not set)."""
        try:
            return self._raw_key(name)
        except KeyError:
            return None

    def _flag(self, name: str, default: bool = False) -> bool:
        value = self.key(name)
        return default if value is None else value == "true"

    def _timers(self) -> SessionTimers:
        timeout = self.key("ConnectionTimeOut")
        if timeout is not None and timeout.isdigit():
            return SessionTimers(connection_timeout_s=float(timeout))
        return SessionTimers()

    def _apply_session_keys(self) -> None:
        """Hand the session-level configuration keys to every connector's session."""
        settings = SessionSettings(
            connection_timeout_s=self._timers().connection_timeout_s,
            stop_on_ev_disconnect=self._flag("StopTransactionOnEVSideDisconnect", True),
            unlock_on_ev_disconnect=self._flag("UnlockConnectorOnEVSideDisconnect", True),
            autocharge=self._flag("AutochargeEnabled"),
        )
        for connector in self.connectors.values():  # each kind takes what applies to it
            connector.session.apply_settings(settings)

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Start the hardware and run every part of the station until cancelled."""
        await self.hardware.start()
        self._report_start_failures()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                for connector in self.connectors.values():
                    tg.create_task(connector.run(), name=f"connector-{connector.id}")
                reader = self.hardware.token_reader
                if reader is not None:
                    reader.subscribe(self.present_token)
                    tg.create_task(self._supervised(reader.run(), "token reader"),
                                   name="token-reader")
                tg.create_task(self.link.run(self), name="ocpp-link")
                tg.create_task(self._supervised(self.reservations.run(), "reservations"),
                               name="reservations")
                tg.create_task(self._supervised(self.supervision.run(), "supervision"),
                               name="supervision")
                tg.create_task(sdnotify.watchdog(), name="watchdog")
                sdnotify.notify("READY=1")
                self.started.set()
        finally:
            self.safety.make_all_safe("station stopping")
            await self.hardware.close()

    def stop_all(self, reason: str) -> None:
        """Stop every running transaction (shutdown, reset)."""
        for connector in self.connectors.values():
            if connector.tx is not None:
                connector.stop(reason)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coro`` as a task of the station's TaskGroup."""
        if self._tg is None:
            coro.close()
            log.warning("%s ignored: station not running", name)
            return
        self._tg.create_task(self._guard(coro, name), name=name)

    def _report_start_failures(self) -> None:
        """Devices that did not start (see ``StationHardware.start``): an unexpected error
        is 001 (on its connector, or station-wide); a known device fault is left to the
        device's own supervision, which reports what it means (meter silent: 105, ...)."""
        for failure in self.hardware.start_failures:
            connector = self.connectors.get(failure.connector_id)
            if connector is None:
                self.supervision.monitor.start_failed(failure.role, failure.error)
            elif failure.unexpected:
                connector.raise_fault(Condition.GENERIC)

    async def _supervised(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """A station task that must not end the station when it fails: 001 instead (the
        OCPP link stays up to report it; a CSMS Reset restarts everything)."""
        try:
            await coro
        except Exception as exc:
            log.exception("%s failed", name)
            self.supervision.monitor.internal_error(name, exc)

    async def _guard(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except Exception:  # one request failing must not end the station
            log.exception("%s failed", name)

    # ------------------------------------------------------------------ cards
    def present_token(self, id_tag: str) -> None:
        """A card at the reader (called on the loop thread by the reader driver)."""
        if self._tg is None:
            log.warning("card %s ignored: station not running", id_tag)
            return
        self.spawn(self._handle_token(id_tag), f"card {id_tag}")

    async def _handle_token(self, id_tag: str) -> None:
        own = next((c for c in self.connectors.values()
                    if c.tx is not None and c.tx.id_tag.casefold() == id_tag.casefold()), None)
        if own is not None:  # the card that started it stops it, without asking anybody
            self._stop_by_card(own, id_tag)
            return
        info = await self.auth.authorize(id_tag)
        if self._stop_by_group(id_tag, info):
            return
        if not info.accepted:
            log.info("card %s refused: %s", id_tag, info.status)
            return
        if not self._give_authorization(id_tag, info.parent_id_tag, remote=False,
                                        connector_id=None):
            log.info("card %s: every free connector is reserved for somebody else", id_tag)

    def _stop_by_card(self, connector: ConnectorController, id_tag: str) -> bool:
        tx = connector.tx
        assert tx is not None
        if tx.remote and not self._flag("RemoteTxStoppableLocally", True):
            log.info("connector %d: card %s may not stop a remotely started transaction",
                     connector.id, id_tag)
            return False
        log.info("connector %d: card %s stops the session", connector.id, id_tag)
        if tx.id_tag != id_tag:
            self.connector_link.stop_id_tags[tx.local_id] = id_tag
        connector.stop(StopReason.LOCAL)
        return True

    def _stop_by_group(self, id_tag: str, info: IdTagInfo) -> bool:
        """A card with the same parentIdTag as a transaction's idTag stops it."""
        parent = info.parent_id_tag
        if not info.accepted or parent is None:
            return False
        for connector in self.connectors.values():
            tx = connector.tx
            group = self.auth.parent_of(tx.id_tag) if tx is not None else None
            if group is not None and group.casefold() == parent.casefold():
                return self._stop_by_card(connector, id_tag)
        return False

    def _give_authorization(
        self, id_tag: str, parent: str | None, remote: bool, connector_id: int | None
    ) -> bool:
        if connector_id is not None:
            if not self.reservations.allows(connector_id, id_tag, parent):
                log.info("connector %d: reserved, %s may not use it", connector_id, id_tag)
                return False
            self.connectors[connector_id].authorize(id_tag, remote=remote, parent=parent)
            return True
        target = self._waiting_connector(id_tag, parent)
        if target is not None:
            target.authorize(id_tag, remote=remote, parent=parent)
            return True
        if not any(self.reservations.allows(c, id_tag, parent) for c in self.connectors):
            return False
        # Identification first: the next connector that gets an EV takes it.
        timeout = self._timers().connection_timeout_s
        self._pending = _PendingAuth(id_tag, parent, remote, self.clock.monotonic() + timeout)
        log.info("card %s authorized: waiting %.0f s for a plug", id_tag, timeout)
        return True

    def _waiting_connector(self, id_tag: str, parent: str | None) -> ConnectorController | None:
        """A connector with an EV plugged in and no transaction yet that ``id_tag`` may use."""
        for connector in self.connectors.values():
            s = connector.session
            if (s.ev_present and not s.transaction_active and s.status not in _UNUSABLE
                    and self.reservations.allows(connector.id, id_tag, parent)):
                return connector
        return None

    def _count(self, name: str) -> None:
        self.store.add_counter(name)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a task of the station (dropped when the station is not running)."""
        if self._tg is None:
            coro.close()
            return
        self._tg.create_task(coro)

    def _connector_changed(self, connector: ConnectorController) -> None:
        if not self._built:
            return
        self.power.refresh()
        self.supervision.show(connector.id, str(connector.session.status))
        self._take_pending(connector)
        self._kiosk_check(connector)
        self._check_energy_limit(connector)
        self.report_station_status()

    def _take_pending(self, connector: ConnectorController) -> None:
        pending = self._pending
        if pending is None:
            return
        if self.clock.monotonic() > pending.expires:
            self._pending = None
            return
        s = connector.session
        if (s.ev_present and not s.transaction_active and s.status not in _UNUSABLE
                and self.reservations.allows(connector.id, pending.id_tag, pending.parent)):
            self._pending = None
            connector.authorize(pending.id_tag, remote=pending.remote, parent=pending.parent)

    def _kiosk_check(self, connector: ConnectorController) -> None:
        """Kiosk mode: an EV plugged in starts a session with the connector's kiosk idTag."""
        s = connector.session
        if (connector.id in self._kiosk_busy or self._tg is None or not s.ev_present
                or s.transaction_active or s.id_tag is not None
                or s.status is not ChargePointStatus.PREPARING or not self.auth.kiosk_active()):
            return
        self._kiosk_busy.add(connector.id)
        self.spawn(self._kiosk_start(connector), f"kiosk {connector.id}")

    async def _kiosk_start(self, connector: ConnectorController) -> None:
        try:
            tag = await self.auth.kiosk_authorize(connector.id)
            s = connector.session
            if s.ev_present and not s.transaction_active and s.id_tag is None:
                log.info("connector %d: kiosk session for %s", connector.id, tag)
                connector.authorize(tag)
        finally:
            self._kiosk_busy.discard(connector.id)

    def _check_energy_limit(self, connector: ConnectorController) -> None:
        """MaxEnergyOnInvalidId: a transaction the central system invalidated (and
        StopTransactionOnInvalidId did not stop) gets no more energy once it delivered
        that much."""
        tx = connector.tx
        limit = self._energy_limits.get(tx.local_id) if tx is not None else None
        if tx is None or limit is None or connector.energy_wh() - tx.meter_start_wh < limit:
            return
        del self._energy_limits[tx.local_id]
        log.info("connector %d: MaxEnergyOnInvalidId (%.0f Wh) reached: energy delivery "
                 "stopped, the transaction goes on", connector.id, limit)
        # Not from inside the connector's own callback: on the next loop iteration.
        asyncio.get_running_loop().call_soon(connector.block_energy)

    # ------------------------------------------------------------------ StationPort
    # What the link runs for (connectors, status, meters, transactions, the idTagInfo
    # feedback), and the RemoteControl port (remote_start / remote_stop).
    def connector_ids(self) -> list[int]:
        return sorted(self.connectors)

    def status_of(self, connector_id: int) -> StatusReport:
        if connector_id == 0:
            if all(c.session.status == ChargePointStatus.UNAVAILABLE
                   for c in self.connectors.values()):
                return self.supervision.report("Unavailable")
            return self.supervision.report("Available")
        return self.connectors[connector_id].status_report()

    def meter_snapshot(self, connector_id: int) -> MeterSnapshot:
        return self.connectors[connector_id].snapshot()

    def active_transaction(self, connector_id: int) -> TxHandle | None:
        connector = self.connectors.get(connector_id)
        return connector.tx if connector is not None else None

    async def remote_start(self, connector_id: int | None, id_tag: str) -> bool:
        if connector_id is not None:
            connector = self.connectors.get(connector_id)
            if connector is None:
                return False
            s = connector.session
            if s.transaction_active or s.status in _UNUSABLE:
                return False
        parent: str | None = None
        if self._flag("AuthorizeRemoteTxRequests"):
            info = await self.auth.authorize(id_tag)
            if not info.accepted:
                return False
            parent = info.parent_id_tag
        elif self._reserved_for_a_group(connector_id, id_tag):
            # The reservation admits a group: learn this idTag's parentIdTag.
            info = await self.auth.authorize(id_tag)
            parent = info.parent_id_tag if info.accepted else None
        return self._give_authorization(id_tag, parent, remote=True, connector_id=connector_id)

    def _reserved_for_a_group(self, connector_id: int | None, id_tag: str) -> bool:
        for cid in (0, connector_id) if connector_id is not None else (0, *self.connectors):
            record = self.reservations.on_connector(cid)
            if (record is not None and record.parent_id_tag is not None
                    and record.id_tag.casefold() != id_tag.casefold()):
                return True
        return False

    async def remote_stop(self, connector_id: int) -> bool:
        connector = self.connectors.get(connector_id)
        if connector is None or connector.tx is None:
            return False
        connector.stop(StopReason.REMOTE)
        return True

    def transaction_authorization(self, handle: TxHandle, info: IdTagInfo) -> None:
        self.auth.remember(handle.id_tag, info)
        if info.accepted:
            return
        connector = self.connectors.get(handle.connector_id)
        if connector is None or connector.tx is not handle:
            return
        if self._flag("StopTransactionOnInvalidId", True):
            log.info("connector %d: idTag %s not accepted: stopping", connector.id, handle.id_tag)
            connector.dispatch(TransactionRejected())
            return
        # StopTransactionOnInvalidId false: the transaction goes on, but energy flows only
        # up to MaxEnergyOnInvalidId Wh (0: none at all), then delivery stops (OCPP 1.6).
        limit = int(self.key("MaxEnergyOnInvalidId") or "0")
        log.info("connector %d: idTag %s not accepted: energy up to %d Wh, then suspended",
                 connector.id, handle.id_tag, limit)
        self._energy_limits[handle.local_id] = float(limit)
        self._check_energy_limit(connector)

    def stop_authorization(self, id_tag: str, info: IdTagInfo) -> None:
        """An idTagInfo the central system sent (StopTransaction.conf): for the cache."""
        self.auth.remember(id_tag, info)

    # ------------------------------------------------------------------ central system requests
    # The ResetControl port. (Availability, unlock, DataTransfer: ``self.ops``; ClearCache:
    # ``self.auth``; the local list: ``self.auth.local_list``; reservations:
    # ``self.reservations``; outgoing DataTransfer: ``self.link``.)
    async def reset(self, hard: bool) -> bool:
        """Decide a Reset (the runtime must be able to restart the station)."""
        return await self.ops.reset(hard)

    def start_reset(self, hard: bool) -> None:
        """Carry out an accepted Reset (after its answer went out)."""
        self.spawn(self.ops.perform_reset(hard), "reset")

    def _reservation_for(self, connector_id: int, id_tag: str) -> int | None:
        return self.reservations.consume(connector_id, id_tag, self.auth.parent_of(id_tag))

    def report_station_status(self) -> None:
        """Tell the central system when connector 0 (the station as a whole) changes."""
        if not self._built:
            return
        report = self.status_of(0)
        if report != self._station_status:
            self._station_status = report
            log.info("station status %s", report.status)
            self.link.notify_status(0, report)

    # ------------------------------------------------------------------ observation
    def fault_events(self, limit: int = 200) -> list[dict[str, Any]]:
        """The fault event log, newest first (``GET /api/events``)."""
        return self.events.events(limit)

    def state(self) -> StationState:
        return StationState(
            charge_point_id=self.config.identity.charge_point_id,
            csms_online=self.link.online,
            csms_url=self.link.url,
            connectors=tuple(self._connector_state(c) for c in self.connectors.values()),
            faults=tuple(f.state() for f in self.supervision.faults.active),
            extra={
                "load_management": self.power.status(),
                **self.supervision.state(),
            },
        )

    def _connector_state(self, c: ConnectorController) -> ConnectorState:
        report = c.status_report()
        m = c.meter
        ev = c.dc.ev if c.dc is not None else None
        tx = c.tx
        return ConnectorState(
            id=c.id,
            name=c.cfg.name,
            kind=str(c.cfg.kind),
            status=report.status,
            error_code=report.error_code,
            vendor_error_code=report.vendor_error_code,
            info=report.info,
            pilot=str(c.detector.state) if c.devices.pilot is not None else None,
            contactor_closed=c.devices.contactor.commanded_closed,
            locked=c.devices.lock.locked if c.devices.lock is not None else None,
            energy_wh=m.energy_import_wh if m else 0.0,
            power_w=m.power_w if m else 0.0,
            current_a=m.current_a if m else (),
            voltage_v=m.voltage_v if m else (),
            offered_a=c.session.offered_a,
            soc_percent=ev.soc_percent if ev else None,
            time_to_bulk_s=ev.time_to_bulk_s if ev else None,
            time_to_full_s=ev.time_to_full_s if ev else None,
            faults=tuple(f.state() for f in c.faults.active),
            display=c.display_text(),
            transaction_id=tx.transaction_id if tx else None,
            id_tag=tx.id_tag if tx else None,
            session_energy_wh=(c.energy_wh() - tx.meter_start_wh) if tx else 0.0,
            plug_cycles=c.plug_cycles,
            cable_temperatures_c=c.dc.cable.temperatures_c if c.dc is not None else (),
            cooler=c.dc.cable.cooler_state() if c.dc is not None else None,
        )


class LocalLink:
    """The link of a station without a central system (``--no-csms``): transactions get
    local ids and are logged; nothing is sent. The complete
    :class:`~firmware.ports.CentralSystemLink`, always offline."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._next = 1

    @property
    def online(self) -> bool:
        return False

    @property
    def url(self) -> str | None:
        return None

    def notify_status(self, connector_id: int, report: StatusReport) -> None:
        pass

    async def authorize(self, id_tag: str) -> IdTagInfo | None:
        return None

    def start_transaction(self, connector_id: int, id_tag: str, meter_start_wh: float,
                          timestamp: datetime, reservation_id: int | None = None,
                          remote: bool = False) -> TxHandle:
        handle = TxHandle(self._next, connector_id, id_tag, meter_start_wh, timestamp,
                          transaction_id=self._next, remote=remote)
        self._next += 1
        log.info("connector %d: local transaction %d for %s", connector_id,
                 handle.local_id, id_tag)
        return handle

    def stop_transaction(self, handle: TxHandle, meter_stop_wh: float, timestamp: datetime,
                         reason: str, id_tag: str | None = None) -> None:
        log.info("connector %d: local transaction %d stopped (%s), %.0f Wh",
                 handle.connector_id, handle.local_id, reason,
                 meter_stop_wh - handle.meter_start_wh)

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> tuple[str, str | None] | None:
        return None  # nobody to send it to: as offline

    async def run(self, station: StationPort) -> None:
        """Nothing to connect to: returns at once."""

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Nothing to close."""

"""The station: every connector, the token reader and the central-system link, in one
TaskGroup; the :class:`~firmware.ports.StationPort` the OCPP client talks to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.wiring import Wiring
from firmware import sdnotify
from firmware.auth import Authorizer
from firmware.clock import Clock
from firmware.config import StationConfig
from firmware.connector import ConnectorController
from firmware.faults import Catalogue, default_catalogue
from firmware.hardware import StationHardware
from firmware.ports import (
    CentralSystemLink,
    IdTagInfo,
    MeterSnapshot,
    StatusReport,
    TxHandle,
)
from firmware.session_events import ChargePointStatus, SessionTimers, TransactionRejected
from firmware.status import ConnectorState, StationState

log = logging.getLogger(__name__)

_UNUSABLE = (ChargePointStatus.FAULTED, ChargePointStatus.UNAVAILABLE)


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
        link_factory: Callable[[Station], CentralSystemLink] | None,
        key: Callable[[str], str | None] = lambda _name: None,
        persist_meter: Callable[[TxHandle, float], None] | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.key = key
        self.hardware = StationHardware(config, wiring, clock.monotonic)
        from firmware.safety import Safety

        self.safety = Safety()
        self.catalogue = catalogue or default_catalogue()
        self.link: CentralSystemLink = (
            link_factory(self) if link_factory is not None else LocalLink(clock)
        )
        self.standalone = link_factory is None
        self.auth = Authorizer(None if self.standalone else self.link, key)
        self.connectors: dict[int, ConnectorController] = {
            c.id: ConnectorController(
                c,
                self.hardware.connectors[c.id],
                safety=self.safety,
                link=self.link,
                catalogue=self.catalogue,
                clock=clock,
                timers=self._timers(),
                persist_meter=persist_meter,
                on_change=self._connector_changed,
            )
            for c in config.connectors
        }
        self._pending: _PendingAuth | None = None
        self._tg: asyncio.TaskGroup | None = None
        self.started = asyncio.Event()

    def _timers(self) -> SessionTimers:
        timeout = self.key("ConnectionTimeOut")
        if timeout is not None and timeout.isdigit():
            return SessionTimers(connection_timeout_s=float(timeout))
        return SessionTimers()

    # ------------------------------------------------------------------ running
    async def run(self) -> None:
        """Start the hardware and run every part of the station until cancelled."""
        await self.hardware.start()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                for connector in self.connectors.values():
                    tg.create_task(connector.run(), name=f"connector-{connector.id}")
                reader = self.hardware.token_reader
                if reader is not None:
                    reader.subscribe(self.present_token)
                    tg.create_task(reader.run(), name="token-reader")
                run = getattr(self.link, "run", None)
                if run is not None:
                    tg.create_task(run(), name="ocpp-link")
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

    # ------------------------------------------------------------------ cards
    def present_token(self, id_tag: str) -> None:
        """A card at the reader (called on the loop thread by the reader driver)."""
        if self._tg is None:
            log.warning("card %s ignored: station not running", id_tag)
            return
        self._tg.create_task(self._handle_token(id_tag))

    async def _handle_token(self, id_tag: str) -> None:
        for connector in self.connectors.values():
            if connector.tx is not None and connector.tx.id_tag == id_tag:
                log.info("connector %d: card %s stops the session", connector.id, id_tag)
                connector.stop("Local")
                return
        info = await self.auth.authorize(id_tag)
        if not info.accepted:
            log.info("card %s refused: %s", id_tag, info.status)
            return
        self._give_authorization(id_tag, info.parent_id_tag, remote=False, connector_id=None)

    def _give_authorization(
        self, id_tag: str, parent: str | None, remote: bool, connector_id: int | None
    ) -> bool:
        if connector_id is not None:
            self.connectors[connector_id].authorize(id_tag, remote=remote, parent=parent)
            return True
        target = self._waiting_connector()
        if target is not None:
            target.authorize(id_tag, remote=remote, parent=parent)
            return True
        # Identification first: the next connector that gets an EV takes it.
        timeout = self._timers().connection_timeout_s
        self._pending = _PendingAuth(id_tag, parent, remote, self.clock.monotonic() + timeout)
        log.info("card %s authorized: waiting %.0f s for a plug", id_tag, timeout)
        return True

    def _waiting_connector(self) -> ConnectorController | None:
        """A connector with an EV plugged in and no transaction yet."""
        for connector in self.connectors.values():
            s = connector.session
            if s.ev_present and not s.transaction_active and s.status not in _UNUSABLE:
                return connector
        return None

    def _connector_changed(self, connector: ConnectorController) -> None:
        pending = self._pending
        if pending is None:
            return
        if self.clock.monotonic() > pending.expires:
            self._pending = None
            return
        s = connector.session
        if s.ev_present and not s.transaction_active and s.status not in _UNUSABLE:
            self._pending = None
            connector.authorize(pending.id_tag, remote=pending.remote, parent=pending.parent)

    # ------------------------------------------------------------------ StationPort
    def connector_ids(self) -> list[int]:
        return sorted(self.connectors)

    def status_of(self, connector_id: int) -> StatusReport:
        if connector_id == 0:
            if all(c.session.status == ChargePointStatus.UNAVAILABLE
                   for c in self.connectors.values()):
                return StatusReport("Unavailable")
            return StatusReport("Available")
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
        if self.key("AuthorizeRemoteTxRequests") == "true":
            info = await self.auth.authorize(id_tag)
            if not info.accepted:
                return False
        return self._give_authorization(id_tag, None, remote=True, connector_id=connector_id)

    async def remote_stop(self, connector_id: int) -> bool:
        connector = self.connectors.get(connector_id)
        if connector is None or connector.tx is None:
            return False
        connector.stop("Remote")
        return True

    def transaction_authorization(self, handle: TxHandle, info: IdTagInfo) -> None:
        if info.accepted:
            return
        connector = self.connectors.get(handle.connector_id)
        if connector is None or connector.tx is not handle:
            return
        if (self.key("StopTransactionOnInvalidId") or "true") == "true":
            log.info("connector %d: idTag %s not accepted: stopping", connector.id, handle.id_tag)
            connector.dispatch(TransactionRejected())

    # ------------------------------------------------------------------ observation
    def state(self) -> StationState:
        return StationState(
            charge_point_id=self.config.identity.charge_point_id,
            csms_online=self.link.online,
            csms_url=getattr(self.link, "url", None),
            connectors=tuple(self._connector_state(c) for c in self.connectors.values()),
        )

    def _connector_state(self, c: ConnectorController) -> ConnectorState:
        report = c.status_report()
        m = c.meter
        s: Any = c.session
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
            offered_a=float(getattr(s, "offered_a", 0.0) or 0.0),
            soc_percent=ev.soc_percent if ev else None,
            time_to_bulk_s=ev.time_to_bulk_s if ev else None,
            time_to_full_s=ev.time_to_full_s if ev else None,
            faults=tuple(f.state() for f in c.faults.active),
            display=c.faults.display(),
            transaction_id=tx.transaction_id if tx else None,
            id_tag=tx.id_tag if tx else None,
            session_energy_wh=(c.energy_wh() - tx.meter_start_wh) if tx else 0.0,
            plug_cycles=c.plug_cycles,
        )


class LocalLink:
    """The link of a station without a central system (``--no-csms``): transactions get
    local ids and are logged; nothing is sent."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._next = 1
        self.url: str | None = None

    @property
    def online(self) -> bool:
        return False

    def notify_status(self, connector_id: int, report: StatusReport) -> None:
        pass

    async def authorize(self, id_tag: str) -> IdTagInfo | None:
        return None

    def start_transaction(self, connector_id: int, id_tag: str, meter_start_wh: float,
                          timestamp: Any, reservation_id: int | None = None,
                          remote: bool = False) -> TxHandle:
        handle = TxHandle(self._next, connector_id, id_tag, meter_start_wh, timestamp,
                          transaction_id=self._next, remote=remote)
        self._next += 1
        log.info("connector %d: local transaction %d for %s", connector_id,
                 handle.local_id, id_tag)
        return handle

    def stop_transaction(self, handle: TxHandle, meter_stop_wh: float, timestamp: Any,
                         reason: str, id_tag: str | None = None) -> None:
        log.info("connector %d: local transaction %d stopped (%s), %.0f Wh",
                 handle.connector_id, handle.local_id, reason,
                 meter_stop_wh - handle.meter_start_wh)

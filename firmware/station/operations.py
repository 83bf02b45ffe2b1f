"""The operations the central system asks of the station: Reset, ChangeAvailability,
UnlockConnector, DataTransfer. :class:`StationOps` provides their ports
(:class:`~firmware.ports.ResetControl`, :class:`~firmware.ports.AvailabilityControl`,
:class:`~firmware.ports.UnlockControl`, :class:`~firmware.ports.IncomingDataTransfer`).

* ``reset(hard)``: every transaction is stopped first (reason SoftReset / HardReset), then
  the runtime restarts the station through the ``restart`` callback it handed in: in
  simulation in-process, on a board ``evse run`` exits for systemd (soft) or reboots (hard).
* ``change_availability``: Accepted now, or Scheduled while a transaction runs (it applies
  when the transaction ends); persisted, so an Inoperative connector stays so after a
  restart. Connector 0 is every connector.
* ``unlock_connector``: a running transaction is stopped first (reason UnlockCommand), then
  the lock motor is driven open: Unlocked / UnlockFailed; a connector without a lock
  (tethered cable) answers NotSupported.
* DataTransfer: incoming messages go to the handler registered for their vendorId
  (``register_vendor``); none registered answers UnknownVendorId.

:class:`ConnectorLink` is the link the connectors see: it adds the reservation a
transaction uses to StartTransaction and the idTag that stopped it to StopTransaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from drivers.errors import DriverError
from drivers.interfaces import ConnectorLock
from firmware.auth.reservations import ReservationBook
from firmware.ports import CentralSystemLink, StatusReport, TxHandle
from firmware.session.base import Session
from firmware.session.dc_session import DcSession
from firmware.session.events import AvailabilityChanged, Event, StopReason
from firmware.storage.store import Store
from firmware.tasks import TaskSpawner

log = logging.getLogger(__name__)

STOP_WAIT_S = 5.0  # reset: how long to wait for the StopTransactions to be recorded
UNLOCK_TIMEOUT_S = 10.0
UNLOCK_POLL_S = 0.05

# (messageId, data) -> (DataTransferStatus, data)
VendorHandler = Callable[[str | None, str | None], tuple[str, str | None]]


class OperatedConnector(Protocol):
    """What the operations need of a connector (a ``ConnectorController``)."""

    @property
    def session(self) -> Session: ...

    @property
    def tx(self) -> TxHandle | None: ...

    @property
    def stopping(self) -> int:
        """StopTransactions still waiting for their final meter reading."""

    @property
    def lock(self) -> ConnectorLock | None: ...

    def dispatch(self, event: Event) -> None: ...

    def stop(self, reason: str) -> None: ...


class StationOps:
    """Reset, availability, unlock and data transfer for one station.

    ``availability_changed`` is called after a ChangeAvailability (connector 0's status
    may have changed); ``stop_all(reason)`` stops every transaction; ``restart(hard)``
    restarts the station (the runtime's); ``tasks`` runs the reset procedure after its
    answer went out."""

    def __init__(
        self,
        connectors: Mapping[int, OperatedConnector],
        store: Store,
        *,
        availability_changed: Callable[[], None],
        stop_all: Callable[[str], None],
        restart: Callable[[bool], None],
        tasks: TaskSpawner,
    ) -> None:
        self._connectors = connectors
        self._store = store
        self._availability_changed = availability_changed
        self._stop_all = stop_all
        self._restart = restart
        self._tasks = tasks
        self._vendors: dict[str, VendorHandler] = {}

    # ------------------------------------------------------------------ availability

    def restore_availability(self) -> None:
        """Apply the persisted ChangeAvailability (call before the connectors run)."""
        for connector_id, operative in self._store.availability().items():
            connector = self._connectors.get(connector_id)
            if connector is not None and not operative:
                log.info("connector %d: Inoperative (persisted)", connector_id)
                connector.dispatch(AvailabilityChanged(False))

    async def change_availability(self, connector_id: int, operative: bool) -> str:
        """ChangeAvailability: "Accepted", "Scheduled" or "Rejected" (unknown connector)."""
        connectors = self._connectors
        if connector_id != 0 and connector_id not in connectors:
            return "Rejected"
        targets = list(connectors) if connector_id == 0 else [connector_id]
        scheduled = False
        for cid in targets:
            self._store.set_availability(cid, operative)
            connector = connectors[cid]
            connector.dispatch(AvailabilityChanged(operative))
            if connector.session.availability_pending:
                scheduled = True
                log.info("connector %d: %s once the transaction ends", cid,
                         "Operative" if operative else "Inoperative")
        self._availability_changed()
        return "Scheduled" if scheduled else "Accepted"

    # ------------------------------------------------------------------ unlock

    async def unlock_connector(self, connector_id: int) -> str:
        """UnlockConnector: "Unlocked", "UnlockFailed" or "NotSupported"."""
        connector = self._connectors.get(connector_id)
        if connector is None:
            return "NotSupported"
        lock = connector.lock
        if lock is None:
            log.info("connector %d: UnlockConnector: no lock (tethered cable)", connector_id)
            return "NotSupported"
        dc = connector.session if isinstance(connector.session, DcSession) else None
        if connector.tx is not None or dc is not None:
            # The session opens the contactor first (synchronously) and ends the
            # transaction; on DC it also drops an authorization, so nothing locks again.
            log.info("connector %d: UnlockConnector stops the session", connector_id)
            connector.stop(StopReason.UNLOCK_COMMAND)
        try:
            async with asyncio.timeout(UNLOCK_TIMEOUT_S):
                # DC: ramp-down, contactor open, no voltage on the cable before it opens.
                while dc is not None and (connector.tx is not None or not dc.lock_may_open):
                    await asyncio.sleep(UNLOCK_POLL_S)
                await lock.unlock()
        except (DriverError, TimeoutError) as exc:
            log.warning("connector %d: unlock failed: %s", connector_id, exc)
            return "UnlockFailed"
        log.info("connector %d: unlocked on request of the central system", connector_id)
        return "Unlocked"

    # ------------------------------------------------------------------ reset

    async def reset(self, hard: bool) -> bool:
        """Reset: accepted (the runtime restarts the station once it is carried out)."""
        return True

    def start_reset(self, hard: bool) -> None:
        """Carry out an accepted Reset (after its answer went out)."""
        self._tasks.spawn(self.perform_reset(hard), "reset")

    async def perform_reset(self, hard: bool) -> None:
        """Stop every transaction, wait until they are recorded, then restart."""
        reason = StopReason.HARD_RESET if hard else StopReason.SOFT_RESET
        log.warning("%s reset: stopping every transaction", "hard" if hard else "soft")
        self._stop_all(reason)
        connectors = self._connectors.values()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_WAIT_S
        while any(c.stopping or c.tx is not None for c in connectors):
            if loop.time() > deadline:
                log.error("reset: transactions still running after %.0f s", STOP_WAIT_S)
                break
            await asyncio.sleep(0.02)
        self._restart(hard)

    # ------------------------------------------------------------------ data transfer

    def register_vendor(self, vendor_id: str, handler: VendorHandler) -> None:
        """Answer incoming DataTransfer of ``vendor_id`` with ``handler``."""
        self._vendors[vendor_id] = handler

    def data_transfer(
        self, vendor_id: str, message_id: str | None, data: str | None
    ) -> tuple[str, str | None]:
        """Incoming DataTransfer: (status, data)."""
        handler = self._vendors.get(vendor_id)
        if handler is None:
            log.info("DataTransfer from unknown vendor %s", vendor_id)
            return "UnknownVendorId", None
        return handler(message_id, data)


class ConnectorLink:
    """The central-system link as the connectors see it (see the module docstring): the
    :class:`~firmware.connector.external.TransactionPort` of every connector."""

    def __init__(
        self,
        link: CentralSystemLink,
        reservations: ReservationBook,
        parent_of: Callable[[str], str | None],
    ) -> None:
        self._link = link
        self._reservations = reservations
        self._parent_of = parent_of
        self._stop_id_tags: dict[int, str] = {}  # local tx id -> the idTag that stops it

    def stopped_by(self, handle: TxHandle, id_tag: str) -> None:
        """``id_tag`` (not the one that started it) stops this transaction: it goes into
        StopTransaction.idTag."""
        self._stop_id_tags[handle.local_id] = id_tag

    def notify_status(self, connector_id: int, report: StatusReport) -> None:
        self._link.notify_status(connector_id, report)

    def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start_wh: float,
        timestamp: datetime,
        *,
        remote: bool,
        reservation_used: bool,
    ) -> TxHandle:
        reservation_id = self._reservations.consume(
            connector_id, id_tag, self._parent_of(id_tag), reservation_used
        )
        return self._link.start_transaction(
            connector_id, id_tag, meter_start_wh, timestamp, reservation_id, remote
        )

    def stop_transaction(
        self,
        handle: TxHandle,
        meter_stop_wh: float,
        timestamp: datetime,
        reason: str,
        id_tag: str | None = None,
    ) -> None:
        id_tag = self._stop_id_tags.pop(handle.local_id, id_tag)
        self._link.stop_transaction(handle, meter_stop_wh, timestamp, reason, id_tag)

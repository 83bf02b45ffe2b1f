"""Who may charge where: cards at the reader, remote starts and stops, kiosk mode, and what
the central system says about a running transaction's idTag.

The decisions about one idTag are :mod:`firmware.auth.authorizer`'s (local list, cache,
offline rules, kiosk, whitelist) and :mod:`firmware.auth.reservations`' (who may use a
reserved connector); this module applies them to the connectors:

* a card that started a transaction stops it (``RemoteTxStoppableLocally`` for remote
  ones), and so does a card of the same group (parentIdTag);
* an accepted card goes to a connector with an EV waiting for one, or waits
  ``ConnectionTimeOut`` for the next connector that gets an EV (identification first);
* RemoteStartTransaction (``AuthorizeRemoteTxRequests``), RemoteStopTransaction;
* kiosk mode: an EV plugged in starts with the connector's kiosk idTag;
* StartTransaction.conf not Accepted: stop (``StopTransactionOnInvalidId``), or go on until
  ``MaxEnergyOnInvalidId`` Wh were delivered, then suspend.

:class:`AuthorizationFlow` is the :class:`~firmware.ports.RemoteControl` port, the
:class:`~firmware.ports.TransactionFeedback` of the link, and a listener of every
connector's changes (:meth:`connector_changed`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from firmware.auth.authorizer import Authorizer
from firmware.clock import Clock
from firmware.log_context import redact_id_tag
from firmware.ports import IdTagInfo, TxHandle
from firmware.session.base import Session
from firmware.session.events import (
    ChargePointStatus,
    Event,
    SessionTimers,
    StopReason,
    TransactionRejected,
)
from firmware.storage.store import ReservationRecord
from firmware.tasks import TaskSpawner

log = logging.getLogger(__name__)

_UNUSABLE = (ChargePointStatus.FAULTED, ChargePointStatus.UNAVAILABLE)


class FlowConnector(Protocol):
    """What the authorization flow needs of a connector (a ``ConnectorController``)."""

    @property
    def id(self) -> int: ...

    @property
    def session(self) -> Session: ...

    @property
    def tx(self) -> TxHandle | None: ...

    def authorize(self, id_tag: str, remote: bool = False, parent: str | None = None) -> None:
        """An authorization for the connector's session."""

    def stop(self, reason: str) -> None: ...

    def dispatch(self, event: Event) -> None: ...

    def energy_wh(self) -> float:
        """The meter register now (Wh)."""

    def block_energy(self) -> None:
        """No more energy for the running transaction (it goes on, suspended)."""


class ReservationRules(Protocol):
    """What the flow asks of the reservations (:class:`firmware.auth.reservations.Reservations`)."""

    def allows(self, connector_id: int, id_tag: str, parent: str | None) -> bool: ...

    def on_connector(self, connector_id: int) -> ReservationRecord | None: ...


class StopTags(Protocol):
    """Where the idTag that stops a transaction is noted for StopTransaction."""

    def stopped_by(self, handle: TxHandle, id_tag: str) -> None: ...


@dataclass
class _Pending:
    """An accepted idTag waiting for an EV (identification before the plug)."""

    id_tag: str
    parent: str | None
    remote: bool
    expires: float


class AuthorizationFlow:
    """Applies authorization decisions to the connectors (see the module docstring)."""

    def __init__(
        self,
        connectors: Mapping[int, FlowConnector],
        auth: Authorizer,
        reservations: ReservationRules,
        stop_tags: StopTags,
        *,
        key: Callable[[str], str | None],
        clock: Clock,
        tasks: TaskSpawner,
    ) -> None:
        self._connectors = connectors
        self._auth = auth
        self._reservations = reservations
        self._stop_tags = stop_tags
        self._key = key
        self._clock = clock
        self._tasks = tasks
        self._pending: _Pending | None = None
        self._kiosk_busy: set[int] = set()  # connectors whose kiosk authorization runs
        self._energy_limits: dict[int, float] = {}  # local tx id -> MaxEnergyOnInvalidId

    def _flag(self, name: str, default: bool = False) -> bool:
        value = self._key(name)
        return default if value is None else value == "true"

    def connection_timeout_s(self) -> float:
        """ConnectionTimeOut: how long an authorization waits for an EV."""
        timeout = self._key("ConnectionTimeOut")
        if timeout is not None and timeout.isdigit():
            return float(timeout)
        return SessionTimers().connection_timeout_s

    # ------------------------------------------------------------------ cards
    def present_token(self, id_tag: str) -> None:
        """A card at the reader (called on the loop thread by the reader driver)."""
        self._tasks.spawn(self._handle_token(id_tag), "card")

    async def _handle_token(self, id_tag: str) -> None:
        own = next((c for c in self._connectors.values()
                    if c.tx is not None and c.tx.id_tag.casefold() == id_tag.casefold()), None)
        if own is not None:  # the card that started it stops it, without asking anybody
            self._stop_by_card(own, id_tag)
            return
        info = await self._auth.authorize(id_tag)
        if self._stop_by_group(id_tag, info):
            return
        if not info.accepted:
            log.info("card %s refused: %s", redact_id_tag(id_tag), info.status)
            return
        if not self._give(id_tag, info.parent_id_tag, remote=False, connector_id=None):
            log.info("card %s: every free connector is reserved for somebody else",
                     redact_id_tag(id_tag))

    def _stop_by_card(self, connector: FlowConnector, id_tag: str) -> bool:
        tx = connector.tx
        assert tx is not None
        if tx.remote and not self._flag("RemoteTxStoppableLocally", True):
            log.info("connector %d: card %s may not stop a remotely started transaction",
                     connector.id, redact_id_tag(id_tag))
            return False
        log.info("connector %d: card %s stops the session", connector.id, redact_id_tag(id_tag))
        if tx.id_tag != id_tag:
            self._stop_tags.stopped_by(tx, id_tag)
        connector.stop(StopReason.LOCAL)
        return True

    def _stop_by_group(self, id_tag: str, info: IdTagInfo) -> bool:
        """A card with the same parentIdTag as a transaction's idTag stops it."""
        parent = info.parent_id_tag
        if not info.accepted or parent is None:
            return False
        for connector in self._connectors.values():
            tx = connector.tx
            group = self._auth.parent_of(tx.id_tag) if tx is not None else None
            if group is not None and group.casefold() == parent.casefold():
                return self._stop_by_card(connector, id_tag)
        return False

    def _give(
        self, id_tag: str, parent: str | None, remote: bool, connector_id: int | None
    ) -> bool:
        """Hand an accepted idTag to a connector (or keep it for the next EV)."""
        if connector_id is not None:
            if not self._reservations.allows(connector_id, id_tag, parent):
                log.info("connector %d: reserved, %s may not use it", connector_id,
                         redact_id_tag(id_tag))
                return False
            self._connectors[connector_id].authorize(id_tag, remote=remote, parent=parent)
            return True
        target = self._waiting_connector(id_tag, parent)
        if target is not None:
            target.authorize(id_tag, remote=remote, parent=parent)
            return True
        if not any(self._reservations.allows(c, id_tag, parent) for c in self._connectors):
            return False
        # Identification first: the next connector that gets an EV takes it.
        timeout = self.connection_timeout_s()
        self._pending = _Pending(id_tag, parent, remote, self._clock.monotonic() + timeout)
        log.info("card %s authorized: waiting %.0f s for a plug", redact_id_tag(id_tag), timeout)
        return True

    def _free_for(self, connector: FlowConnector, id_tag: str, parent: str | None) -> bool:
        """An EV plugged in, no transaction yet, usable, and ``id_tag`` may take it."""
        s = connector.session
        return (s.ev_present and not s.transaction_active and s.status not in _UNUSABLE
                and self._reservations.allows(connector.id, id_tag, parent))

    def _waiting_connector(self, id_tag: str, parent: str | None) -> FlowConnector | None:
        """A connector with an EV plugged in and no transaction yet that ``id_tag`` may use."""
        return next((c for c in self._connectors.values() if self._free_for(c, id_tag, parent)),
                    None)

    # ------------------------------------------------------------------ connector changes
    def connector_changed(self, connector: FlowConnector) -> None:
        """A connector changed: a waiting card, kiosk mode and the energy limit may act."""
        self._take_pending(connector)
        self._kiosk_check(connector)
        self._check_energy_limit(connector)

    def _take_pending(self, connector: FlowConnector) -> None:
        pending = self._pending
        if pending is None:
            return
        if self._clock.monotonic() > pending.expires:
            self._pending = None
            return
        if self._free_for(connector, pending.id_tag, pending.parent):
            self._pending = None
            connector.authorize(pending.id_tag, remote=pending.remote, parent=pending.parent)

    def _kiosk_check(self, connector: FlowConnector) -> None:
        """Kiosk mode: an EV plugged in starts a session with the connector's kiosk idTag."""
        s = connector.session
        if (connector.id in self._kiosk_busy or not self._tasks.running or not s.ev_present
                or s.transaction_active or s.id_tag is not None
                or s.status is not ChargePointStatus.PREPARING or not self._auth.kiosk_active()):
            return
        self._kiosk_busy.add(connector.id)
        self._tasks.spawn(self._kiosk_start(connector), f"kiosk {connector.id}")

    async def _kiosk_start(self, connector: FlowConnector) -> None:
        try:
            tag = await self._auth.kiosk_authorize(connector.id)
            s = connector.session
            if s.ev_present and not s.transaction_active and s.id_tag is None:
                log.info("connector %d: kiosk session for %s", connector.id, redact_id_tag(tag))
                connector.authorize(tag)
        finally:
            self._kiosk_busy.discard(connector.id)

    def _check_energy_limit(self, connector: FlowConnector) -> None:
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

    # ------------------------------------------------------------------ RemoteControl
    async def remote_start(self, connector_id: int | None, id_tag: str) -> bool:
        """RemoteStartTransaction: True = Accepted. ``None`` lets the station choose."""
        if connector_id is not None:
            connector = self._connectors.get(connector_id)
            if connector is None:
                return False
            s = connector.session
            if s.transaction_active or s.status in _UNUSABLE:
                return False
        parent: str | None = None
        if self._flag("AuthorizeRemoteTxRequests"):
            info = await self._auth.authorize(id_tag)
            if not info.accepted:
                return False
            parent = info.parent_id_tag
        elif self._reserved_for_a_group(connector_id, id_tag):
            # The reservation admits a group: learn this idTag's parentIdTag.
            info = await self._auth.authorize(id_tag)
            parent = info.parent_id_tag if info.accepted else None
        return self._give(id_tag, parent, remote=True, connector_id=connector_id)

    def _reserved_for_a_group(self, connector_id: int | None, id_tag: str) -> bool:
        for cid in (0, connector_id) if connector_id is not None else (0, *self._connectors):
            record = self._reservations.on_connector(cid)
            if (record is not None and record.parent_id_tag is not None
                    and record.id_tag.casefold() != id_tag.casefold()):
                return True
        return False

    async def remote_stop(self, connector_id: int) -> bool:
        """RemoteStopTransaction for the transaction on that connector."""
        connector = self._connectors.get(connector_id)
        if connector is None or connector.tx is None:
            return False
        connector.stop(StopReason.REMOTE)
        return True

    # ------------------------------------------------------------------ TransactionFeedback
    def transaction_authorization(self, handle: TxHandle, info: IdTagInfo) -> None:
        """The idTagInfo of StartTransaction.conf (StopTransactionOnInvalidId)."""
        self._auth.remember(handle.id_tag, info)
        if info.accepted:
            return
        connector = self._connectors.get(handle.connector_id)
        if connector is None or connector.tx is not handle:
            return
        if self._flag("StopTransactionOnInvalidId", True):
            log.info("connector %d: idTag %s not accepted: stopping", connector.id,
                     redact_id_tag(handle.id_tag))
            connector.dispatch(TransactionRejected())
            return
        # StopTransactionOnInvalidId false: the transaction goes on, but energy flows only
        # up to MaxEnergyOnInvalidId Wh (0: none at all), then delivery stops (OCPP 1.6).
        limit = int(self._key("MaxEnergyOnInvalidId") or "0")
        log.info("connector %d: idTag %s not accepted: energy up to %d Wh, then suspended",
                 connector.id, redact_id_tag(handle.id_tag), limit)
        self._energy_limits[handle.local_id] = float(limit)
        self._check_energy_limit(connector)

    def stop_authorization(self, id_tag: str, info: IdTagInfo) -> None:
        """An idTagInfo the central system sent (StopTransaction.conf): for the cache."""
        self._auth.remember(id_tag, info)

"""Reservations (ReserveNow / CancelReservation) as the station keeps them.

A reservation of connector N puts that connector's session in Reserved
(``ReservationMade``): only the reserved idTag, or an idTag with the reservation's
parentIdTag, may start there. A reservation of connector 0 (``ReserveConnectorZeroSupported``)
reserves the station: the connectors stay Available, but an authorization for another idTag
is refused when taking a connector would leave none free for the reserved one.

The transaction that uses a reservation carries its id in StartTransaction
(:meth:`ReservationBook.consume`). Reservations end at their expiry date (wall clock),
when cancelled, or when used; they are persisted and survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from firmware.clock import Clock
from firmware.log_context import redact_id_tag
from firmware.session.base import Session
from firmware.session.events import (
    ChargePointStatus,
    Event,
    ReservationEnded,
    ReservationMade,
)
from firmware.storage.store import ReservationRecord, Store

log = logging.getLogger(__name__)

MAX_WAIT_S = 60.0  # re-check expiry dates at least this often (the wall clock may be set)
_OCCUPIED = (
    ChargePointStatus.PREPARING,
    ChargePointStatus.CHARGING,
    ChargePointStatus.SUSPENDED_EV,
    ChargePointStatus.SUSPENDED_EVSE,
    ChargePointStatus.FINISHING,
    ChargePointStatus.RESERVED,
)


class ReservableConnector(Protocol):
    """What reservations need of a connector (a ``ConnectorController``)."""

    @property
    def id(self) -> int: ...

    @property
    def session(self) -> Session: ...

    def dispatch(self, event: Event) -> None: ...


class ReservationBook:
    """The reservations as records, persisted: what a starting transaction consults for
    the reservation it uses (:meth:`consume`). It needs no connector, so the link the
    connectors start their transactions through can be built before them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_id: dict[int, ReservationRecord] = {}
        self.changed = asyncio.Event()  # a reservation was added or ended (expiry loop)

    def get(self, reservation_id: int) -> ReservationRecord | None:
        return self._by_id.get(reservation_id)

    def all(self) -> list[ReservationRecord]:
        return sorted(self._by_id.values(), key=lambda r: r.reservation_id)

    def on_connector(self, connector_id: int) -> ReservationRecord | None:
        return next((r for r in self._by_id.values() if r.connector_id == connector_id), None)

    def load(self) -> list[ReservationRecord]:
        """Read the persisted reservations (after a restart); returns them."""
        for record in self._store.reservations():
            self._by_id[record.reservation_id] = record
        return self.all()

    def add(self, record: ReservationRecord) -> None:
        self._by_id[record.reservation_id] = record
        self._store.put_reservation(record)
        self.changed.set()

    def forget(self, record: ReservationRecord, why: str) -> None:
        self._by_id.pop(record.reservation_id, None)
        self._store.delete_reservation(record.reservation_id)
        self.changed.set()
        log.info("connector %d: reservation %d %s", record.connector_id,
                 record.reservation_id, why)

    def consume(
        self, connector_id: int, id_tag: str, parent: str | None, connector_reservation_used: bool
    ) -> int | None:
        """A transaction starts on ``connector_id`` for ``id_tag`` (whose parentIdTag is
        ``parent``; ``connector_reservation_used``: the session consumed its connector's
        reservation when it began): the reservation it uses (its id goes into
        StartTransaction), which ends here. None: it uses no reservation."""
        record = self.on_connector(connector_id)
        if record is not None and connector_reservation_used and _holds(record, id_tag, parent):
            self.forget(record, "used")
            return record.reservation_id
        station = self.on_connector(0)
        if station is not None and _holds(station, id_tag, parent):
            self.forget(station, "used")
            return station.reservation_id
        return None


class Reservations:
    """ReserveNow / CancelReservation on the station's connectors (the
    :class:`~firmware.ports.ReservationControl` port); ``await run()`` ends reservations
    at their expiry date."""

    def __init__(
        self,
        book: ReservationBook,
        connectors: Mapping[int, ReservableConnector],
        clock: Clock,
        zero_supported: Callable[[], bool] = lambda: False,
    ) -> None:
        self.book = book
        self._connectors = connectors
        self._clock = clock
        self._zero_supported = zero_supported

    # ------------------------------------------------------------------ queries

    def get(self, reservation_id: int) -> ReservationRecord | None:
        return self.book.get(reservation_id)

    def all(self) -> list[ReservationRecord]:
        return self.book.all()

    def on_connector(self, connector_id: int) -> ReservationRecord | None:
        return self.book.on_connector(connector_id)

    def allows(self, connector_id: int, id_tag: str, parent: str | None) -> bool:
        """May ``id_tag`` take ``connector_id`` without breaking a reservation?"""
        connector = self._connectors.get(connector_id)
        if connector is not None and not connector.session.reserved_for(id_tag, parent):
            return False
        station = self.on_connector(0)
        if station is None or _holds(station, id_tag, parent):
            return True
        # Connector 0 is reserved for somebody else: one free connector must remain.
        free = [
            c for c in self._connectors.values()
            if c.id != connector_id and c.session.status is ChargePointStatus.AVAILABLE
        ]
        return bool(free)

    # ------------------------------------------------------------------ ReserveNow

    def reserve(
        self,
        reservation_id: int,
        connector_id: int,
        id_tag: str,
        parent: str | None,
        expiry: datetime,
    ) -> str:
        """ReserveNow; returns its ReservationStatus."""
        if expiry <= self._clock.now():
            log.info("connector %d: reservation %d refused: expiry date already passed",
                     connector_id, reservation_id)
            return "Rejected"
        previous = self.book.get(reservation_id)
        if connector_id == 0:
            status = self._check_station()
        elif connector_id in self._connectors:
            status = self._check_connector(connector_id, previous)
        else:
            status = "Rejected"
        if status != "Accepted":
            log.info("connector %d: reservation %d %s", connector_id, reservation_id, status)
            return status
        record = ReservationRecord(reservation_id, connector_id, id_tag, parent, expiry)
        # The same reservation again changes only the expiry date; the same id for something
        # else replaces the old reservation.
        same = previous is not None and (
            previous.connector_id, previous.id_tag, previous.parent_id_tag
        ) == (connector_id, id_tag, parent)
        if previous is not None and not same:
            self._end(previous, "replaced")
        if connector_id != 0 and not same:
            connector = self._connectors[connector_id]
            connector.dispatch(ReservationMade(id_tag, parent))
            if connector.session.reservation is None:
                return "Occupied"  # the session did not take it (status changed meanwhile)
        self.book.add(record)
        log.info("connector %d: reserved for %s until %s (reservation %d)",
                 connector_id, redact_id_tag(id_tag), expiry.isoformat(), reservation_id)
        return "Accepted"

    def _check_connector(self, connector_id: int, previous: ReservationRecord | None) -> str:
        session = self._connectors[connector_id].session
        status = session.status
        if status is ChargePointStatus.FAULTED:
            return "Faulted"
        if status is ChargePointStatus.UNAVAILABLE:
            return "Unavailable"
        mine = previous is not None and previous.connector_id == connector_id
        if status is ChargePointStatus.RESERVED and mine:
            return "Accepted"
        if status in _OCCUPIED:
            return "Occupied"
        return "Accepted"

    def _check_station(self) -> str:
        if not self._zero_supported():
            return "Rejected"
        statuses = [c.session.status for c in self._connectors.values()]
        if ChargePointStatus.AVAILABLE in statuses:
            return "Accepted"
        if all(s is ChargePointStatus.FAULTED for s in statuses):
            return "Faulted"
        if all(s is ChargePointStatus.UNAVAILABLE for s in statuses):
            return "Unavailable"
        return "Occupied"

    # ------------------------------------------------------------------ ending

    def cancel(self, reservation_id: int) -> bool:
        """CancelReservation: True = Accepted (it existed)."""
        record = self.book.get(reservation_id)
        if record is None:
            log.info("CancelReservation %d: no such reservation", reservation_id)
            return False
        self._end(record, "cancelled")
        return True

    def _end(self, record: ReservationRecord, why: str) -> None:
        connector = self._connectors.get(record.connector_id)
        self.book.forget(record, why)
        if connector is not None and connector.session.reservation is not None:
            connector.dispatch(ReservationEnded())

    def expire(self) -> None:
        """End every reservation whose expiry date has passed."""
        now = self._clock.now()
        for record in [r for r in self.book.all() if r.expiry <= now]:
            self._end(record, "expired")

    # ------------------------------------------------------------------ lifetime

    def restore(self) -> None:
        """Reapply the persisted reservations after a restart (expired ones are dropped)."""
        for record in self.book.load():
            connector = self._connectors.get(record.connector_id)
            if connector is not None:
                connector.dispatch(ReservationMade(record.id_tag, record.parent_id_tag))
        self.expire()

    async def run(self) -> None:
        """End reservations at their expiry date, until cancelled."""
        while True:
            self.book.changed.clear()
            self.expire()
            wait = MAX_WAIT_S
            records = self.book.all()
            if records:
                soonest = min(r.expiry for r in records)
                wait = min(wait, max(0.0, (soonest - self._clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self.book.changed.wait()


def _holds(record: ReservationRecord, id_tag: str, parent: str | None) -> bool:
    """Is the reservation for this idTag (or an idTag of its group)?"""
    if record.id_tag.casefold() == id_tag.casefold():
        return True
    return parent is not None and parent.casefold() in (
        record.id_tag.casefold(),
        (record.parent_id_tag or "").casefold(),
    )

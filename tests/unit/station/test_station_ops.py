"""Station-side operations: reservations on real sessions, and availability end to end
(Scheduled while charging, persisted across a restart, connector 0)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from firmware.auth.reservations import ReservationBook, Reservations
from firmware.clock import ManualClock
from firmware.config.model import ConnectorKind
from firmware.session.ac_session import create_session
from firmware.session.events import Authorized, ChargePointStatus, Event, PilotChanged
from firmware.session.pilot_detector import PilotState
from firmware.storage.store import Store
from hal_sim.runner import cancel_and_wait
from tests.support.tc_harness import CARD_A, charging, demo_station, status, statuses

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(minutes=10)


class Connector:
    """A connector as reservations see it: an id and a real session."""

    def __init__(self, connector_id: int) -> None:
        self.id = connector_id
        self.session = create_session(ConnectorKind.TYPE2_CABLE, 32)

    def dispatch(self, event: Event) -> None:
        self.session.handle(event, 0.0)


def status_of(connector: Connector) -> ChargePointStatus:
    return connector.session.status


def rig(store: Store | None = None, zero: bool = True) -> tuple[
    Reservations, dict[int, Connector], ManualClock
]:
    connectors = {1: Connector(1), 2: Connector(2)}
    clock = ManualClock(wall=T0)
    book = ReservationBook(store or Store(None))
    return Reservations(book, connectors, clock, lambda: zero), connectors, clock


def test_reserve_connector_answers_and_cancel() -> None:
    res, conns, _ = rig()
    assert res.reserve(1, 1, "A", None, LATER) == "Accepted"
    assert status_of(conns[1]) == ChargePointStatus.RESERVED
    assert res.reserve(1, 1, "A", None, LATER + timedelta(minutes=5)) == "Accepted"  # update
    record = res.get(1)
    assert record is not None and record.expiry == LATER + timedelta(minutes=5)
    assert res.reserve(2, 1, "B", None, LATER) == "Occupied"  # reserved for another
    assert res.reserve(3, 9, "B", None, LATER) == "Rejected"  # no such connector
    assert res.reserve(3, 2, "B", None, T0 - timedelta(seconds=1)) == "Rejected"  # past
    conns[2].dispatch(PilotChanged(PilotState.B))
    assert res.reserve(3, 2, "B", None, LATER) == "Occupied"  # an EV is plugged in
    assert res.cancel(1) and not res.cancel(1)
    assert status_of(conns[1]) == ChargePointStatus.AVAILABLE


def test_same_id_on_another_connector_moves_the_reservation() -> None:
    res, conns, _ = rig()
    res.reserve(5, 1, "A", None, LATER)
    assert res.reserve(5, 2, "A", None, LATER) == "Accepted"
    assert status_of(conns[1]) == ChargePointStatus.AVAILABLE
    assert status_of(conns[2]) == ChargePointStatus.RESERVED
    assert [r.connector_id for r in res.all()] == [2]


def test_expiry_and_restore_after_restart(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    res, _, _ = rig(store)
    res.reserve(1, 1, "A", "G", T0 + timedelta(seconds=30))
    res.reserve(2, 2, "B", None, T0 + timedelta(seconds=90))
    store.close()
    again, conns2, clock2 = rig(Store(tmp_path / "s.db"))
    again.restore()
    assert status_of(conns2[1]) == ChargePointStatus.RESERVED
    assert conns2[1].session.reserved_for("X", "G")  # the group may use it
    clock2.advance(60)
    again.expire()
    assert status_of(conns2[1]) == ChargePointStatus.AVAILABLE
    assert status_of(conns2[2]) == ChargePointStatus.RESERVED
    assert [r.reservation_id for r in again.all()] == [2]


def test_a_transaction_consumes_the_reservation() -> None:
    res, conns, _ = rig()
    res.reserve(7, 1, "A", None, LATER)
    conns[1].dispatch(Authorized("A"))
    conns[1].dispatch(PilotChanged(PilotState.B))
    assert conns[1].session.transaction_active
    assert res.book.consume(1, "A", None, connector_reservation_used=True) == 7
    assert res.all() == [] and res.book.consume(1, "A", None, True) is None


def test_connector_zero_keeps_one_connector_for_its_holder() -> None:
    res, conns, _ = rig()
    assert res.reserve(9, 0, "A", "G", LATER) == "Accepted"
    assert res.allows(1, "B", None)  # connector 2 stays free for A
    conns[2].dispatch(PilotChanged(PilotState.B))  # connector 2 taken by an EV
    assert not res.allows(1, "B", None)
    assert res.allows(1, "A", None) and res.allows(1, "C", "G")  # the holder, its group
    assert res.book.consume(1, "C", "G", connector_reservation_used=False) == 9
    assert res.allows(1, "B", None)


def test_connector_zero_answers() -> None:
    res, _, _ = rig(zero=False)
    assert res.reserve(1, 0, "A", None, LATER) == "Rejected"
    res, conns, _ = rig()
    for c in conns.values():
        c.dispatch(PilotChanged(PilotState.B))
    assert res.reserve(1, 0, "A", None, LATER) == "Occupied"


async def test_change_availability_scheduled_and_persisted(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, csms):
        await charging(s, csms, 1, CARD_A)
        answer = await csms.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
        assert answer["status"] == "Scheduled"  # connector 1 charges on until it ends
        await status(csms, 2, "Unavailable")
        assert s.station.connectors[1].tx is not None
        await s.api("POST", "/api/sim/connectors/1/unplug")
        await csms.wait_for("StopTransaction")
        await status(csms, 1, "Unavailable")
        await status(csms, 0, "Unavailable")  # every connector: the station too
        assert (await csms.call("Reset", {"type": "Soft"}))["status"] == "Accepted"
        await s.wait_restarted()
        await csms.wait_for("BootNotification")
        for c in (0, 1, 2):  # still Unavailable after the restart
            await status(csms, c, "Unavailable")
        answer = await csms.call("ChangeAvailability", {"connectorId": 2, "type": "Operative"})
        assert answer["status"] == "Accepted"
        await status(csms, 2, "Available")
        await status(csms, 0, "Available")
        assert statuses(csms, 2)[-2:] == ["Unavailable", "Available"]


async def test_cancel_and_wait_cancels_again_what_swallowed_a_cancellation() -> None:
    rounds: list[int] = []

    async def poll() -> None:  # like a meter loop around a read that ate the cancellation
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if not rounds:
                    rounds.append(1)
                    continue  # swallowed once, as Python 3.11's wait_for can
                raise

    async def station() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(poll())

    task = asyncio.create_task(station())
    await asyncio.sleep(0.05)
    await cancel_and_wait(task, grace=0.1)
    assert task.cancelled() and rounds == [1]

"""Link behaviour around the messages: WebSocketPingInterval dead-link detection,
MinimumStatusDuration, clock-aligned meter values (and StopTxnAlignedData)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from firmware.clock import SystemClock
from firmware.config.model import Identity
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.link import Backoff, OcppLink
from firmware.ocpp.metering import next_aligned_time
from firmware.ports import StatusReport
from firmware.storage.store import Store
from hal_sim.csms_demo import DemoCsms, serve
from tests.support.peer_harness import StubStation, install_stub_profiles, running, until

CP = "CP-LINK-1"
IDENTITY = Identity(charge_point_id=CP, vendor="OpenEVSE Works", model="AC22-2S")


class BlackHole:
    """A TCP forwarder that can silently stop forwarding (a dead network without FIN)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.dead = False
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> BlackHole:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        pumps = {asyncio.create_task(self._pump(reader, up_writer)),
                 asyncio.create_task(self._pump(up_reader, writer))}
        try:
            # One side gone: drop the other as well (no half-open leftovers).
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for w in (writer, up_writer):
                w.close()
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if not self.dead:  # a dead link swallows everything, both ways
                    writer.write(data)
                    await writer.drain()


@pytest.fixture
async def csms() -> AsyncIterator[DemoCsms]:
    server = await serve()
    yield server
    await server.close()


def make_link(station: StubStation, url: str, keys: ConfigKeys, store: Store,
              **kw: Any) -> OcppLink:
    link = OcppLink(IDENTITY, url, store, keys, SystemClock(),
                    connector_count=len(station.connector_ids()),
                    backoff=Backoff(0.05, 0.2, rng=random.Random(7)), call_timeout=5.0, **kw)
    return install_stub_profiles(link, station)


async def test_websocket_ping_finds_a_dead_link_and_reconnects(csms: DemoCsms) -> None:
    store = Store(None)
    keys = ConfigKeys(store)
    keys.set_initial("WebSocketPingInterval", "1")
    async with BlackHole(("127.0.0.1", csms.port)) as hole:
        station = StubStation()
        link = make_link(station, csms.url, keys, store,
                         endpoint=lambda _h, _p: ("127.0.0.1", hole.port))
        async with running(link, station):
            await until(lambda: link.online)
            hole.dead = True  # no FIN, no RST: only the missing pong tells
            await until(lambda: not link.online, timeout=5)
            hole.dead = False
            await until(lambda: link.online, timeout=5)
        assert hole.connections == 2
        assert len(csms.received(CP, "BootNotification")) == 2


async def test_ping_interval_change_applies_without_reconnecting(csms: DemoCsms) -> None:
    store = Store(None)
    keys = ConfigKeys(store)
    keys.set_initial("WebSocketPingInterval", "0")  # no pings of ours
    async with BlackHole(("127.0.0.1", csms.port)) as hole:
        station = StubStation()
        link = make_link(station, csms.url, keys, store,
                         endpoint=lambda _h, _p: ("127.0.0.1", hole.port))
        async with running(link, station):
            await until(lambda: link.online)
            hole.dead = True
            await asyncio.sleep(0.3)
            assert link.online  # nothing notices a dead link without pings
            keys.change("WebSocketPingInterval", "1")
            await until(lambda: not link.online, timeout=5)


async def test_minimum_status_duration_holds_short_statuses(csms: DemoCsms) -> None:
    store = Store(None)
    keys = ConfigKeys(store)
    keys.set_initial("MinimumStatusDuration", "1")
    station = StubStation()
    link = make_link(station, csms.url, keys, store)
    async with running(link, station):
        await until(lambda: link.online)
        await csms.wait_for(CP, "StatusNotification", count=3)
        station.statuses[1] = StatusReport("Preparing")
        link.notify_status(1, StatusReport("Preparing"))
        station.statuses[1] = StatusReport("Charging")
        link.notify_status(1, StatusReport("Charging"))  # Preparing lasted no second
        station.statuses[2] = StatusReport("Preparing")
        link.notify_status(2, StatusReport("Preparing"))
        link.notify_status(2, StatusReport("Available"))  # back to what was sent: nothing
        sent = await csms.wait_for(CP, "StatusNotification", count=4, timeout=5)
        await asyncio.sleep(0.3)  # connector 2's changes were due with it: none follows
    later = [(p["connectorId"], p["status"]) for p in csms.received(CP, "StatusNotification")[3:]]
    assert later == [(1, "Charging")]
    assert sent[3]["status"] == "Charging"


def test_next_aligned_time_counts_from_midnight() -> None:
    t = datetime(2026, 3, 1, 10, 7, 30, 500000, tzinfo=UTC)
    assert next_aligned_time(t, 900) == datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert next_aligned_time(t, 1) == datetime(2026, 3, 1, 10, 7, 31, tzinfo=UTC)
    on = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert next_aligned_time(on, 900) == on + timedelta(minutes=15)  # strictly after
    # 7 h does not divide a day: the last interval is cut at midnight.
    late = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    assert next_aligned_time(late, 7 * 3600) == datetime(2026, 3, 2, tzinfo=UTC)


async def test_clock_aligned_meter_values_and_stop_txn_aligned_data(csms: DemoCsms) -> None:
    store = Store(None)
    keys = ConfigKeys(store)
    for name, value in (("ClockAlignedDataInterval", "1"), ("MeterValueSampleInterval", "0"),
                        ("MeterValuesAlignedData", "Energy.Active.Import.Register,Voltage"),
                        ("StopTxnAlignedData", "Energy.Active.Import.Register"),
                        ("StopTxnSampledData", "")):
        keys.set_initial(name, value)
    station = StubStation()
    link = make_link(station, csms.url, keys, store)
    async with running(link, station):
        await until(lambda: link.online)
        handle = link.start_transaction(1, "TAG-1", 1000.0, datetime.now(UTC))
        station.transactions[1] = handle
        await until(lambda: handle.transaction_id is not None)
        values = await csms.wait_for(CP, "MeterValues", count=4, timeout=5)
        for mv in values:
            [sample] = mv["meterValue"]
            assert sample["timestamp"].endswith(".000Z")  # the boundary, to the second
            contexts = {sv["context"] for sv in sample["sampledValue"]}
            assert contexts == {"Sample.Clock"}
            measurands = [sv["measurand"] for sv in sample["sampledValue"]]
            assert measurands[0] == "Energy.Active.Import.Register" and "Voltage" in measurands
        by_connector = {mv["connectorId"]: mv for mv in values}
        assert by_connector[1]["transactionId"] == handle.transaction_id
        assert "transactionId" not in by_connector[2]  # no transaction there: sent directly
        del station.transactions[1]
        link.stop_transaction(handle, 1500.0, datetime.now(UTC), "Local", "TAG-1")
        [stop] = await csms.wait_for(CP, "StopTransaction")
    in_stop = [mv["sampledValue"][0]["context"] for mv in stop["transactionData"]]
    assert in_stop[0] == "Transaction.Begin" and in_stop[-1] == "Transaction.End"
    assert "Sample.Clock" in in_stop[1:-1]

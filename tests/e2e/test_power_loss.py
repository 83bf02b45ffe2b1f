"""Power loss and long offline periods: nothing the station promised is lost.

* ``evse sim`` runs as a real process against the demo central system; while its link is
  cut it keeps charging (one transaction started online, one offline) and queues; then it
  is killed (SIGKILL: no clean-up at all) and started again on the same state directory.
  The central system then receives every queued message in order, then a StopTransaction
  with reason PowerLoss and the last persisted meter reading for each transaction, all with
  the transactionId it gave (never a local placeholder).
* In process: 1,000 MeterValues queued while the link is down are all delivered, in order,
  once it is back.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from firmware.clock import SystemClock
from firmware.config.model import Identity
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.link import Backoff, OcppLink
from firmware.ocpp.metering import meter_value, sampled_values
from firmware.ocpp.rpc import format_time, parse_time
from firmware.ports import MeterSnapshot
from firmware.storage.store import Store
from hal_sim.csms_demo import DemoCsms
from hal_sim.netproxy import NetworkProxy
from tests.conftest import AC_STATION
from tests.support.peer_harness import StubStation, install_stub_profiles, running, until

EVSE = str(Path(sys.executable).with_name("evse"))
CP = "EVSE-AC-0001"
CARDS = {1: "04A2B3C4D5", 2: "0A0B0C0D"}
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
OFFLINE_MESSAGES = 24  # two connectors sampling every second: a dozen seconds offline


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SimProcess:
    """``evse sim`` as a child process, driven over its HTTP API."""

    def __init__(self, csms_url: str, state_dir: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            "sim", "--station", str(AC_STATION), "--csms", csms_url,
            "--state-dir", str(state_dir), "--http", f"127.0.0.1:{self.port}",
            "--set-key", "MeterValueSampleInterval=1",
            "--set-key", "AllowOfflineTxForUnknownId=true",
        ]
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.http = aiohttp.ClientSession()

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                EVSE, *self.args, stdout=out, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        await self.wait(lambda _st: True, timeout=30)  # the HTTP server answers

    async def api(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, self.url + path, json=body) as resp:
            data = await resp.json()
            assert resp.status < 400, (path, data)
            return data

    async def wait(self, predicate: Any, timeout: float = 15.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    state = await self.api("GET", "/api/sim/state")
                except aiohttp.ClientConnectionError:
                    state = None
                if state is not None and predicate(state):
                    return state
                await asyncio.sleep(0.1)

    async def connector(self, connector_id: int, predicate: Any) -> Any:
        state = await self.wait(lambda st: predicate(st["connectors"][connector_id - 1]))
        return state["connectors"][connector_id - 1]

    async def ctl(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            EVSE, "sim", "ctl", "--url", self.url, *args, stdout=asyncio.subprocess.DEVNULL)
        assert await proc.wait() == 0

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)  # no clean-up of any kind
        await self.proc.wait()

    async def terminate(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def sim(demo_csms: DemoCsms, tmp_path: Path) -> AsyncIterator[SimProcess]:
    process = SimProcess(demo_csms.url, tmp_path / "state", tmp_path / "evse.log")
    try:
        yield process
    finally:
        if process.proc is not None:
            await process.terminate()
        await process.close()


def _read_state(path: Path) -> tuple[list[dict[str, Any]], dict[int, sqlite3.Row]]:
    """The queue and the unfinished transactions, as a power cut left them on disk."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        queue = [
            {"action": r["action"], "payload": json.loads(r["payload"]),
             "local_tx_id": r["local_tx_id"]}
            for r in db.execute("SELECT * FROM outbound ORDER BY seq")
        ]
        running = {r["local_id"]: r for r in db.execute(
            "SELECT * FROM transactions WHERE stopped = 0")}
        return queue, running
    finally:
        db.close()


def _queued(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM outbound").fetchone()[0])
    finally:
        db.close()


@pytest.mark.slow
async def test_sigkill_while_offline_then_restart_delivers_everything(
    demo_csms: DemoCsms, sim: SimProcess, tmp_path: Path
) -> None:
    db = tmp_path / "state" / "station.sqlite"
    await sim.start()
    await demo_csms.wait_for(CP, "StatusNotification", count=3, timeout=30)
    # Connector 1 starts online: its transactionId is known before the link goes.
    await sim.api("POST", "/api/sim/connectors/1/plug")
    await sim.connector(1, lambda c: c["status"] == "Preparing")
    await sim.api("POST", "/api/sim/tokens", {"id_tag": CARDS[1]})
    await sim.connector(1, lambda c: c["transaction_id"] is not None)
    await demo_csms.wait_for(CP, "MeterValues")
    await sim.ctl("network", "offline")
    await sim.wait(lambda st: st["csms_online"] is False)
    # Connector 2 starts offline (AllowOfflineTxForUnknownId): a local id only.
    await sim.api("POST", "/api/sim/connectors/2/plug")
    await sim.connector(2, lambda c: c["status"] == "Preparing")
    await sim.api("POST", "/api/sim/tokens", {"id_tag": CARDS[2]})
    await sim.connector(2, lambda c: c["status"] == "Charging")
    async with asyncio.timeout(60):
        while _queued(db) < OFFLINE_MESSAGES:
            await asyncio.sleep(0.2)
    await sim.kill()

    queue, interrupted = _read_state(db)
    assert len(queue) >= OFFLINE_MESSAGES and len(interrupted) == 2
    assert [m["action"] for m in queue].count("StartTransaction") == 1  # connector 2's
    mark = len(demo_csms.messages)
    await sim.start()  # the power is back; the network too (a new process, a new proxy)
    await demo_csms.wait_for(CP, "StopTransaction", count=2, timeout=30)
    await sim.connector(1, lambda c: c["status"] == "Available")
    await until(lambda: _queued(db) == 0)
    exit_code = await sim.terminate()

    wire = [(m.action, m.payload) for m in demo_csms.messages[mark:] if m.cp_id == CP]
    calls = [(a, p) for a, p in wire if a in TX_ACTIONS]
    # Every queued message, in order, then the two PowerLoss stops; nothing else.
    assert [a for a, _ in calls] == [m["action"] for m in queue] + ["StopTransaction"] * 2
    start_conf = next(p for a, p in wire if a == "StartTransaction.conf")
    ids = {1: next(m.payload["transactionId"] for m in demo_csms.messages[:mark]
                   if m.action == "StartTransaction.conf"),
           2: start_conf["transactionId"]}
    local_to_connector = {local: row["connector_id"] for local, row in interrupted.items()}
    for (action, sent), queued in zip(calls, queue, strict=False):
        connector = local_to_connector[queued["local_tx_id"]]
        expected = dict(queued["payload"])
        if action != "StartTransaction":
            expected["transactionId"] = ids[connector]  # swapped, never a placeholder
        assert sent == expected
    stops = [p for _a, p in calls[len(queue):]]
    for row in interrupted.values():
        stop = next(s for s in stops if s["transactionId"] == ids[row["connector_id"]])
        assert stop["reason"] == "PowerLoss"
        assert stop["meterStop"] == round(row["last_meter_wh"])  # the last persisted reading
        last = datetime.fromisoformat(row["last_meter_time"])
        assert abs(parse_time(stop["timestamp"]) - last) < timedelta(milliseconds=1)
        assert stop["idTag"] == CARDS[row["connector_id"]]
    assert ids[1] != ids[2]
    statuses = [p for a, p in wire if a == "StatusNotification"]
    assert [s["connectorId"] for s in statuses[:3]] == [0, 1, 2]  # current status, not queued
    assert exit_code == 0, "evse sim did not stop cleanly on SIGTERM (see evse.log)"


# --------------------------------------------------------------------------- 1,000 messages


IDENTITY = Identity(charge_point_id=CP, vendor="OpenEVSE Works", model="AC22-2S")
MEASURANDS = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Voltage"]


async def test_a_thousand_meter_values_queued_offline_are_delivered_in_order(
    demo_csms: DemoCsms, tmp_path: Path
) -> None:
    host, port = "127.0.0.1", demo_csms.port
    proxy = NetworkProxy(host, port)  # the same wire-level cut as the simulator's
    await proxy.start()
    store = Store(tmp_path / "station.sqlite")
    keys = ConfigKeys(store)
    keys.set_initial("MeterValueSampleInterval", "0")  # the test records the samples
    station = StubStation()
    link = OcppLink(IDENTITY, demo_csms.url, store, keys, SystemClock(),
                    endpoint=lambda _h, _p: proxy.address, connector_count=2,
                    backoff=Backoff(initial=0.05, maximum=0.2), call_timeout=5.0)
    install_stub_profiles(link, station)
    t0 = datetime.now(UTC)
    try:
        async with running(link, station):
            await until(lambda: link.online)
            handle = link.start_transaction(1, CARDS[1], 1000.0, t0)
            station.transactions[1] = handle
            await until(lambda: handle.transaction_id is not None)
            proxy.set_online(False)
            await until(lambda: not link.online)
            for i in range(1000):
                snap = MeterSnapshot(energy_import_wh=1000.0 + 3.5 * i, power_w=12600.0,
                                     current_a=(18.2, 18.3, 18.1),
                                     voltage_v=(230.1, 229.9, 230.4))
                sample = meter_value(t0 + timedelta(seconds=i + 1),
                                     sampled_values(snap, MEASURANDS, "Sample.Periodic"))
                link.transactions.meter_values(handle, sample)
            link.stop_transaction(handle, 4500.0, t0 + timedelta(seconds=1001), "Local")
            queued = [m.payload for m in store.queue_all()]
            proxy.set_online(True)
            [stop] = await demo_csms.wait_for(CP, "StopTransaction", timeout=60)
            await until(lambda: store.queue_len() == 0)
    finally:
        await proxy.close()
        store.close()
    values = demo_csms.received(CP, "MeterValues")
    assert len(queued) == 1001 and len(values) == 1000
    assert [mv["meterValue"] for mv in values] == [q["meterValue"] for q in queued[:1000]]
    assert all(mv["transactionId"] == handle.transaction_id for mv in values)
    assert stop["transactionId"] == handle.transaction_id and stop["meterStop"] == 4500
    first = values[0]["meterValue"][0]["timestamp"]
    assert first == format_time(t0 + timedelta(seconds=1))  # the sample's own time

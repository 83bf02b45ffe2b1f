"""Latency from RemoteStartTransaction to StartTransaction, the EV already plugged in.

    .venv/bin/python bench/remote_start.py [--runs 60]

A simulated AC station (the whole firmware in this process) talks to a minimal central
system on loopback. Each run: plug the EV in and let the socket lock (Preparing), send
RemoteStartTransaction and time until the StartTransaction.req arrives, then
RemoteStopTransaction and unplug. Both ends are timed in the central system: from just
before the CALL is written to the arrival of StartTransaction. Target: at most 50 ms.

(Sent right after the plug, the start waits for the lock motor to be confirmed, about
0.5 s: that is the lock, not the message path, and is not what this measures.)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _csms import percentile  # noqa: E402

from firmware.app.gc_policy import settle_heap  # noqa: E402
from hal_sim.runner import SimulatedStation  # noqa: E402

STATION = ROOT / "hal_sim" / "stations" / "ac.toml"
SETTLE_S = 1.0  # after the plug: the EV is "already plugged in", its socket locked


class CallingCsms:
    """A central system that answers the station and can send it CALLs."""

    def __init__(self) -> None:
        self.port = 0
        self._ws: ServerConnection | None = None
        self._connected = asyncio.Event()
        self._ids = itertools.count(1)
        self._tx = itertools.count(1)
        self._answers: dict[str, asyncio.Future[Any]] = {}
        self._arrivals: dict[str, asyncio.Future[tuple[float, dict[str, Any]]]] = {}

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def __aenter__(self) -> CallingCsms:
        self._server = await serve(self._handler, "127.0.0.1", 0,
                                   subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    def expect(self, action: str) -> asyncio.Future[tuple[float, dict[str, Any]]]:
        """A future for the next CALL ``action``: (arrival time, payload)."""
        future = asyncio.get_running_loop().create_future()
        self._arrivals[action] = future
        return future

    async def call(self, action: str, payload: dict[str, Any]) -> tuple[float, Any]:
        """Send a CALL; returns (the time just before sending, the answer)."""
        await asyncio.wait_for(self._connected.wait(), 30)
        assert self._ws is not None
        uid = f"b{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        self._answers[uid] = future
        sent = time.perf_counter()
        await self._ws.send(json.dumps([2, uid, action, payload]))
        return sent, await asyncio.wait_for(future, 10)

    def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": now, "interval": 300}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "StartTransaction":
            return {"transactionId": next(self._tx), "idTagInfo": {"status": "Accepted"}}
        if action in ("Authorize", "StopTransaction"):
            return {"idTagInfo": {"status": "Accepted"}}
        return {}

    async def _handler(self, ws: ServerConnection) -> None:
        self._ws = ws
        self._connected.set()
        try:
            async for raw in ws:
                t = time.perf_counter()
                msg = json.loads(raw)
                if msg[0] == 2:
                    _, uid, action, payload = msg
                    future = self._arrivals.pop(action, None)
                    if future is not None and not future.done():
                        future.set_result((t, payload))
                    await ws.send(json.dumps([3, uid, self._answer(action, payload)]))
                elif msg[1] in self._answers:
                    self._answers.pop(msg[1]).set_result(msg[2] if msg[0] == 3 else msg)
        except ConnectionClosed:
            pass


async def one_session(csms: CallingCsms, s: SimulatedStation) -> float:
    await s.api("POST", "/api/sim/connectors/1/plug")
    # Plugged in and settled: Preparing, the socket's lock closed and its motor done (the
    # driver confirms the lock after the whole pulse, pulse_ms = 500, plus a check).
    await s.wait_connector(1, lambda c: c["status"] == "Preparing" and c["locked"])
    await asyncio.sleep(SETTLE_S)
    started = csms.expect("StartTransaction")
    sent, answer = await csms.call("RemoteStartTransaction", {"connectorId": 1, "idTag": "B1"})
    assert answer == {"status": "Accepted"}, answer
    arrived, _ = await asyncio.wait_for(started, 10)
    tx = s.station.connectors[1].tx
    async with asyncio.timeout(10):
        while tx is None or tx.transaction_id is None:
            await asyncio.sleep(0.01)
            tx = s.station.connectors[1].tx
    stopped = csms.expect("StopTransaction")
    await csms.call("RemoteStopTransaction", {"transactionId": tx.transaction_id})
    await asyncio.wait_for(stopped, 10)
    await s.api("POST", "/api/sim/connectors/1/unplug")
    await s.wait_connector(1, lambda c: c["status"] == "Available" and not c["locked"])
    return arrived - sent


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    async with CallingCsms() as csms:
        with tempfile.TemporaryDirectory() as state:
            async with SimulatedStation(STATION, csms_url=csms.url,
                                        state_dir=Path(state)) as s:
                await s.wait(lambda st: st["csms_online"] is True, timeout=30)
                settle_heap()  # as `evse run` / `evse sim` do once the station runs
                await one_session(csms, s)  # warm-up
                latencies = [await one_session(csms, s) for _ in range(args.runs)]
    ms = [1000 * x for x in latencies]
    print(
        f"RemoteStartTransaction -> StartTransaction (EV plugged): p50 "
        f"{statistics.median(ms):.1f} ms, p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms "
        f"over {args.runs} runs (target <= 50 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())

"""A minimal central system for benchmarks: answers every call, records arrival times."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed


class BenchCsms:
    """Accepts any charge point; answers with the smallest valid payloads."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, dict[str, Any]]] = []
        self.first_boot = asyncio.Event()
        self.on_message: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
        self._tx = 0
        self.port = 0

    def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat()
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": now, "interval": 300}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "StartTransaction":
            self._tx += 1
            return {"transactionId": self._tx, "idTagInfo": {"status": "Accepted"}}
        if action in ("Authorize",):
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}}
        return {}

    async def _handler(self, ws: ServerConnection) -> None:
        try:
            await self._serve(ws)
        except ConnectionClosed:
            pass  # the station went away (benchmarks kill it on purpose)

    async def _serve(self, ws: ServerConnection) -> None:
        async for raw in ws:
            t = time.perf_counter()
            msg = json.loads(raw)
            if msg[0] != 2:
                continue
            _, uid, action, payload = msg
            self.arrivals.append((t, action, payload))
            if action == "BootNotification":
                self.first_boot.set()
            await ws.send(json.dumps([3, uid, self._answer(action, payload)]))
            if self.on_message is not None:
                await self.on_message(action, payload)

    async def __aenter__(self) -> BenchCsms:
        self._server = await serve(
            self._handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]  # type: ignore[list-item]
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]

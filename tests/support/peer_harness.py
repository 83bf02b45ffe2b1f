"""Test helpers for the OCPP client: the strict Node peer, a station double, a link runner.

:class:`StrictPeer` starts ``node tests/support/peer/csms.js`` (ocpp-rpc in strict mode: every
message is checked against the official OCPP 1.6 schemas), reads its JSON event lines and
lets a test wait for messages and send calls::

    async with StrictPeer() as peer:            # skips the test when node is missing
        ...connect a charge point to peer.url...
        params = await peer.wait_for("StartTransaction", timeout=10)
        result = await peer.call("RemoteStopTransaction", {"transactionId": 1})
        assert peer.strict_failures == []

:class:`StubStation` is a small typed station double for tests of the link (the real station
lives in firmware/station/station.py): the :class:`~firmware.ports.StationPort` the link runs
for and the :class:`~firmware.ports.RemoteControl` port. :func:`install_stub_profiles` gives
a link the profiles such a station offers (Core with remote control only, RemoteTrigger);
:func:`running` runs ``link.run(station)`` for the body of an ``async with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from firmware.ocpp.core_profile import CoreProfile
from firmware.ocpp.link import OcppLink
from firmware.ocpp.trigger_profile import RemoteTriggerProfile
from firmware.ports import (
    IdTagInfo,
    MeterSnapshot,
    RemoteControl,
    StationPort,
    StatusReport,
    TxHandle,
)

PEER_DIR = Path(__file__).parent / "peer"
EventFilter = Callable[[dict[str, Any]], bool]


def peer_missing() -> str | None:
    """Why the strict peer cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PEER_DIR / "node_modules" / "ocpp-rpc").is_dir():
        return "tests/support/peer/node_modules is missing (run `make peer`)"
    return None


class PeerCallError(Exception):
    """The station answered a peer's call with a CALLERROR (or the peer could not send)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class StrictPeer:
    """The Node strict central system as an async context manager."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._taken: set[int] = set()  # indexes of events already returned by wait_for
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    @property
    def strict_failures(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] in ("strict_fail", "bad_message")]

    def received(self, action: str) -> list[dict[str, Any]]:
        """Params of every CALL ``action`` the station sent so far."""
        return [e["params"] for e in self.events
                if e["event"] == "recv" and e["action"] == action]

    async def __aenter__(self) -> StrictPeer:
        reason = peer_missing()
        if reason is not None:
            pytest.skip(reason)
        self._proc = await asyncio.create_subprocess_exec(
            "node", str(PEER_DIR / "csms.js"), "0",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        listening = await self.wait_event("listening", timeout=15)
        self.port = int(listening["port"])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.close()  # the peer exits when its stdin closes
        try:
            async with asyncio.timeout(5):
                await self._proc.wait()
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": "noise", "line": line.decode(errors="replace")})
            self._changed.set()

    async def wait_event(
        self, event: str, where: EventFilter | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The first not yet returned event of that kind (matching ``where``)."""
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                for i, e in enumerate(self.events):
                    if i in self._taken or e["event"] != event:
                        continue
                    if where is None or where(e):
                        self._taken.add(i)
                        return e
                await self._changed.wait()

    async def wait_for(
        self, action: str, timeout: float = 10.0, where: EventFilter | None = None
    ) -> dict[str, Any]:
        """Params of the next CALL ``action`` from the station (each returned once)."""

        def match(e: dict[str, Any]) -> bool:
            return e["action"] == action and (where is None or where(e["params"]))

        event = await self.wait_event("recv", match, timeout)
        params: dict[str, Any] = event["params"]
        return params

    async def _send(self, command: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write((json.dumps(command) + "\n").encode())
        await self._proc.stdin.drain()

    async def call(
        self, action: str, params: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send a CALL to the station; returns the CALLRESULT, raises PeerCallError."""
        call_id = next(self._ids)
        await self._send({"call": action, "params": params, "id": call_id})
        event = await self.wait_event("result", lambda e: e.get("id") == call_id, timeout)
        if "error" in event:
            raise PeerCallError(str(event["error"]["code"]), str(event["error"]["message"]))
        result: dict[str, Any] = event["result"]
        return result

    async def set_boot(self, status: str, interval: int) -> None:
        await self._send({"cmd": "boot", "status": status, "interval": interval})
        await self.wait_event("ack", lambda e: e.get("cmd") == "boot")

    async def disconnect(self) -> None:
        await self._send({"cmd": "disconnect"})
        await self.wait_event("ack", lambda e: e.get("cmd") == "disconnect")


class StubStation(StationPort, RemoteControl):
    """A station double: fixed statuses, a meter that counts up, recorded requests.

    It declares the ports it satisfies, so a changed port signature shows here (mypy)."""

    def __init__(self, connectors: tuple[int, ...] = (1, 2), dc: bool = False) -> None:
        self.connectors = connectors
        self.dc = dc
        self.statuses: dict[int, StatusReport] = {
            c: StatusReport("Available") for c in (0, *connectors)
        }
        self.energy_wh = {c: 1000.0 for c in connectors}
        self.transactions: dict[int, TxHandle] = {}
        self.accept_remote = True
        self.remote_starts: list[tuple[int | None, str]] = []
        self.remote_stops: list[int] = []
        self.authorizations: list[tuple[TxHandle, IdTagInfo]] = []
        self.stop_infos: list[tuple[str, IdTagInfo]] = []  # StopTransaction.conf idTagInfo
        self.fail_remote_start = False

    def connector_ids(self) -> list[int]:
        return list(self.connectors)

    def status_of(self, connector_id: int) -> StatusReport:
        return self.statuses[connector_id]

    def meter_snapshot(self, connector_id: int) -> MeterSnapshot:
        self.energy_wh[connector_id] += 12.5
        if self.dc:
            return MeterSnapshot(
                energy_import_wh=self.energy_wh[connector_id], power_w=50000.0,
                current_a=(125.0,), voltage_v=(400.0,), soc_percent=42.0, dc=True,
            )
        return MeterSnapshot(
            energy_import_wh=self.energy_wh[connector_id], power_w=7360.0,
            current_a=(10.6, 10.7, 10.5), voltage_v=(230.1, 229.8, 231.0), frequency_hz=50.01,
            current_offered_a=16.0, temperature_c=31.5,
        )

    def active_transaction(self, connector_id: int) -> TxHandle | None:
        return self.transactions.get(connector_id)

    async def remote_start(self, connector_id: int | None, id_tag: str) -> bool:
        if self.fail_remote_start:
            raise RuntimeError("station exploded (on purpose)")
        self.remote_starts.append((connector_id, id_tag))
        return self.accept_remote

    async def remote_stop(self, connector_id: int) -> bool:
        self.remote_stops.append(connector_id)
        return connector_id in self.transactions

    def transaction_authorization(self, handle: TxHandle, info: IdTagInfo) -> None:
        self.authorizations.append((handle, info))

    def stop_authorization(self, id_tag: str, info: IdTagInfo) -> None:
        self.stop_infos.append((id_tag, info))


def bare_core(
    link: OcppLink, station: StubStation, remote: RemoteControl | None = None
) -> CoreProfile:
    """The Core profile with no operation port but (optionally) remote control."""
    return CoreProfile(link, station, remote=remote, reset=None, availability=None,
                       unlock=None, cache=None, data_transfer=None)


def bare_trigger(link: OcppLink, station: StubStation) -> RemoteTriggerProfile:
    """The RemoteTrigger profile without firmware or diagnostics status."""
    return RemoteTriggerProfile(link, station, firmware=None, diagnostics=None)


def install_stub_profiles(link: OcppLink, station: StubStation) -> OcppLink:
    """The profiles of a station with no optional capability: Core (remote start/stop
    only) and RemoteTrigger (SupportedFeatureProfiles "Core,RemoteTrigger")."""
    link.install(bare_core(link, station, remote=station))
    link.install(bare_trigger(link, station))
    return link


@contextlib.asynccontextmanager
async def running(link: OcppLink, station: StationPort) -> AsyncIterator[OcppLink]:
    """Run ``link.run(station)`` for the body of the ``async with``; cancel and await it
    after."""
    task = asyncio.create_task(link.run(station))
    try:
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` is true; TimeoutError otherwise.

    Polls: the conditions are on state (``link.online``, a handle's transactionId) that
    has no event of its own."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)

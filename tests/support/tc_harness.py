"""Helpers for the OCTT-style end-to-end tests (tests/test_tc_*.py).

A test runs a :class:`~hal_sim.runner.SimulatedStation` against a real central system over a
real WebSocket: the demo CSMS (:func:`demo_station`, which can answer idTags as a test
wants) or the strict ocpp-rpc peer (:func:`strict_station`, which validates every message
against the official schemas). Both yield ``(station, central)``; ``central`` has the
same three methods either way::

    await central.call("ReserveNow", {...})          # CALL to the station -> CALLRESULT
    await central.wait_for("StartTransaction", where=lambda p: p["connectorId"] == 1)
    central.received("Authorize")                    # every CALL of that kind so far

``wait_for`` returns each message once, oldest first, like :class:`StrictPeer` does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from hal_sim.csms_demo import DemoCsms, serve
from hal_sim.runner import SimulatedStation
from tests.support.peer_harness import StrictPeer

Where = Callable[[dict[str, Any]], bool]
# The example AC station with a quicker lock pulse (hal_sim/stations/ac.toml otherwise).
AC_STATION = Path(__file__).parent / "stations" / "ac_test.toml"
CP_AC = "EVSE-AC-0001"
CARD_A = "04A2B3C4D5"  # card UIDs: the simulated reader reports upper-case hex
CARD_B = "DEADBEEF01"
CARD_C = "0A0B0C0D0E"
# Fewer MeterValues in the logs; a short ConnectionTimeOut where a test waits it out.
BASE_KEYS: tuple[tuple[str, str], ...] = (("MeterValueSampleInterval", "0"),)


class Central(Protocol):
    async def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]: ...

    async def wait_for(
        self, action: str, timeout: float = 10.0, where: Where | None = None
    ) -> dict[str, Any]: ...

    def received(self, action: str) -> list[dict[str, Any]]: ...


class DemoCentral:
    """The demo CSMS seen through the :class:`Central` methods, for one charge point."""

    def __init__(self, csms: DemoCsms, cp_id: str) -> None:
        self.csms = csms
        self.cp_id = cp_id
        self._taken: set[int] = set()

    async def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        await self.csms.wait_connected(self.cp_id)
        return await self.csms.call_json(self.cp_id, action, params)

    def received(self, action: str) -> list[dict[str, Any]]:
        return list(self.csms.received(self.cp_id, action))

    async def wait_for(
        self, action: str, timeout: float = 10.0, where: Where | None = None
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for i, m in enumerate(self.csms.messages):
                    if (i in self._taken or m.cp_id != self.cp_id or m.direction != "<-"
                            or m.action != action):
                        continue
                    if where is None or where(m.payload):
                        self._taken.add(i)
                        payload: dict[str, Any] = m.payload
                        return payload
                self.csms._changed.clear()
                await self.csms._changed.wait()


@contextlib.asynccontextmanager
async def demo_station(
    tmp_path: Path,
    keys: Iterable[tuple[str, str]] = (),
    station: Path = AC_STATION,
    cp_id: str = CP_AC,
) -> AsyncIterator[tuple[SimulatedStation, DemoCentral]]:
    """A simulated station booted against the demo CSMS (``central.csms`` is the CSMS)."""
    csms = await serve()
    try:
        async with SimulatedStation(
            station, csms_url=csms.url, state_dir=tmp_path,
            set_keys=[*BASE_KEYS, *keys], charge_point_id=cp_id,
        ) as s:
            central = DemoCentral(csms, cp_id)
            await booted(s, central)
            yield s, central
    finally:
        await csms.close()


@contextlib.asynccontextmanager
async def strict_station(
    tmp_path: Path,
    keys: Iterable[tuple[str, str]] = (),
    station: Path = AC_STATION,
) -> AsyncIterator[tuple[SimulatedStation, StrictPeer]]:
    """A simulated station booted against the strict peer; no schema violation allowed."""
    async with StrictPeer() as peer, SimulatedStation(
        station, csms_url=peer.url, state_dir=tmp_path, set_keys=[*BASE_KEYS, *keys]
    ) as s:
        await booted(s, peer)
        yield s, peer
        assert peer.strict_failures == []


async def booted(s: SimulatedStation, central: Central) -> None:
    """Wait for the boot and the StatusNotification of every connector after it."""
    await central.wait_for("BootNotification")
    for c in (0, *s.station.connector_ids()):
        await central.wait_for("StatusNotification", where=of_connector(c))


def of_connector(connector_id: int) -> Where:
    """A ``where`` filter: messages about that connector."""

    def match(payload: dict[str, Any]) -> bool:
        return bool(payload["connectorId"] == connector_id)

    return match


async def status(central: Central, connector_id: int, value: str,
                 timeout: float = 10.0) -> dict[str, Any]:
    """The next StatusNotification of a connector with that status."""
    return await central.wait_for(
        "StatusNotification", timeout,
        lambda p: p["connectorId"] == connector_id and p["status"] == value,
    )


def statuses(central: Central, connector_id: int) -> list[str]:
    """Every status the central system heard of a connector, in order."""
    return [p["status"] for p in central.received("StatusNotification")
            if p["connectorId"] == connector_id]


async def plug(s: SimulatedStation, connector_id: int, **ev: Any) -> None:
    await s.api("POST", f"/api/sim/connectors/{connector_id}/plug", {"ev": ev} if ev else None)


async def unplug(s: SimulatedStation, connector_id: int) -> None:
    await s.api("POST", f"/api/sim/connectors/{connector_id}/unplug")


async def card(s: SimulatedStation, id_tag: str) -> None:
    await s.api("POST", "/api/sim/tokens", {"id_tag": id_tag})


async def fault(s: SimulatedStation, code: str, connector_id: int, on: bool = True) -> None:
    await s.api("POST" if on else "DELETE", "/api/sim/faults",
                {"code": code, "connector": connector_id})


async def charging(s: SimulatedStation, central: Central, connector_id: int,
                   id_tag: str) -> dict[str, Any]:
    """Plug in and present a card: the StartTransaction of the session once charging."""
    await plug(s, connector_id)
    await status(central, connector_id, "Preparing")
    await card(s, id_tag)
    start = await central.wait_for(
        "StartTransaction", where=lambda p: p["connectorId"] == connector_id
    )
    await status(central, connector_id, "Charging")
    return start


def tx_id(s: SimulatedStation, connector_id: int) -> int:
    """The central system's transactionId of the connector's running transaction."""
    tx = s.station.connectors[connector_id].tx
    assert tx is not None and tx.transaction_id is not None, "no transaction with an id"
    return tx.transaction_id


async def until_tx_id(s: SimulatedStation, connector_id: int) -> int:
    async with asyncio.timeout(10):
        while True:
            tx = s.station.connectors[connector_id].tx
            if tx is not None and tx.transaction_id is not None:
                return tx.transaction_id
            await asyncio.sleep(0.02)


def in_seconds(seconds: float) -> str:
    """An OCPP dateTime ``seconds`` from now."""
    t = datetime.now(UTC) + timedelta(seconds=seconds)
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

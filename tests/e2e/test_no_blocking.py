"""No blocking call on the event loop: the station runs two whole sessions (AC and DC)
while :class:`tests.support.loop_guard.LoopGuard` records every blocking primitive (sleep, I2C,
blocking socket, serial, subprocess) called on the loop's thread. The check is by what
is called, not by how long a step took: it does not depend on the machine's speed.
How long the loop's steps take is measured by ``bench/loop_stalls.py``."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION, DC_STATION
from tests.support.loop_guard import no_blocking_on_loop


async def _two_sessions(s: SimulatedStation, demo_csms: DemoCsms, connector: int) -> None:
    cp = s.config.identity.charge_point_id
    for session in (1, 2):
        await s.api("POST", f"/api/sim/connectors/{connector}/plug")
        await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
        await s.wait_connector(
            connector, lambda c: c["status"] == "Charging" and c["power_w"] > 0, timeout=20)
        await asyncio.sleep(2.5)  # meter values, heartbeats, the control loop, I2C polls
        await s.api("POST", f"/api/sim/connectors/{connector}/unplug")
        await demo_csms.wait_for(cp, "StopTransaction", count=session)
        await asyncio.sleep(0.5)


@pytest.mark.parametrize(
    ("station", "connector"), [(AC_STATION, 1), (DC_STATION, 1)], ids=["ac", "dc"]
)
async def test_no_blocking_call_on_the_loop_during_sessions(
    demo_csms: DemoCsms, tmp_path: Path, station: Path, connector: int,
) -> None:
    async with SimulatedStation(
        station, csms_url=demo_csms.url, state_dir=tmp_path,
        set_keys=[("MeterValueSampleInterval", "1")],
    ) as s:
        cp = s.config.identity.charge_point_id
        await demo_csms.wait_for(cp, "StatusNotification", count=len(s.config.connectors) + 1)
        bus = s.sim.wiring.smbus(1)
        before = bus.transactions
        with no_blocking_on_loop() as guard:
            await _two_sessions(s, demo_csms, connector)
        assert bus.transactions > before  # the I2C sensors were read meanwhile (in threads)
    assert guard.calls == []


async def test_the_guard_sees_blocking_calls(tmp_path: Path, demo_csms: DemoCsms) -> None:
    """The guard is not vacuous: a sleep and an I2C read on the loop are recorded, the
    same calls from a worker thread are not."""
    async with SimulatedStation(AC_STATION, csms_url=demo_csms.url, state_dir=tmp_path) as s:
        bus = s.sim.wiring.smbus(1)
        address = next(iter(bus._devices))
        with no_blocking_on_loop() as guard:
            time.sleep(0.001)  # noqa: ASYNC251 - the blocking call the guard must see
            await asyncio.to_thread(time.sleep, 0.001)
            bus.read_word_data(address, 0)
            await asyncio.to_thread(bus.read_word_data, address, 0)
        assert [c.split(" from ")[0] for c in guard.calls] == ["time.sleep",
                                                               "I2C read_word_data"]

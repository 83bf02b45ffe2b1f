"""No blocking call on the event loop: the station runs two whole sessions (AC and DC)
with asyncio's debug mode watching for any callback or task step longer than 20 ms.

A blocking call (a synchronous read, a sleep, a lock held across I/O) is slow every time
its code runs, so it shows at the same place in both sessions. What does not count is a
single stall of the whole process that lands in some step once: the simulated wires' own
threads (pilot samplers, I2C workers, CAN notifiers) contend for the GIL on this 2-core
machine. A full garbage collection of the start-up heap (~50 ms) is kept out the way the
station's entry point does it (:mod:`firmware.gc_policy`)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from firmware.csms_demo import DemoCsms
from firmware.gc_policy import release_heap, settle_heap
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION, DC_STATION

SLOW_S = 0.020


@pytest.mark.parametrize(
    ("station", "connector"), [(AC_STATION, 1), (DC_STATION, 1)], ids=["ac", "dc"]
)
async def test_no_slow_callbacks_during_a_session(
    demo_csms: DemoCsms, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    station: Path, connector: int,
) -> None:
    async with SimulatedStation(
        station, csms_url=demo_csms.url, state_dir=tmp_path,
        set_keys=[("MeterValueSampleInterval", "1")],
    ) as s:
        cp = s.config.identity.charge_point_id
        await demo_csms.wait_for(cp, "StatusNotification", count=len(s.config.connectors) + 1)
        # Watch from here: start-up (imports, opening ports) is allowed to take its time.
        settle_heap()  # as `evse run` / `evse sim` do once the station runs
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = SLOW_S
        loop.set_debug(True)
        caplog.set_level(logging.WARNING, logger="asyncio")
        try:
            for session in (1, 2):
                await s.api("POST", f"/api/sim/connectors/{connector}/plug")
                await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
                await s.wait_connector(
                    connector, lambda c: c["status"] == "Charging" and c["power_w"] > 0,
                    timeout=20,
                )
                await asyncio.sleep(2.5)  # meter values, heartbeats, control loop
                await s.api("POST", f"/api/sim/connectors/{connector}/unplug")
                await demo_csms.wait_for(cp, "StopTransaction", count=session)
                await asyncio.sleep(0.5)
        finally:
            loop.set_debug(False)
            release_heap()
    # Only the station's own callbacks count: not the test's HTTP driving steps and not the
    # simulated devices on the far end of the wires (the pymodbus server, hal_sim).
    not_station = ("test_no_slow_callbacks", "pymodbus/server", "/hal_sim/")
    slow = [r.getMessage() for r in caplog.records
            if r.name == "asyncio" and "took" in r.getMessage()
            and not any(part in r.getMessage() for part in not_station)]
    places = Counter(_place(message) for message in slow)
    assert [p for p, n in places.items() if n > 1] == [], slow


def _place(message: str) -> str:
    """Where a slow step ran: the task's name (the station names its tasks; asyncio's
    ``Task-123`` numbers are dropped) and the code locations in asyncio's message."""
    names = [n for n in re.findall(r"name='([^']+)'", message) if not re.fullmatch(r"Task-\d+", n)]
    places = re.findall(r"at (/\S+?:\d+)", message)
    return " ".join([*names, *places]) or message

"""No blocking call on the event loop: the station runs a whole session (AC and DC) with
asyncio's debug mode watching for any callback or task step longer than 20 ms."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from firmware.csms_demo import DemoCsms
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
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = SLOW_S
        loop.set_debug(True)
        caplog.set_level(logging.WARNING, logger="asyncio")
        try:
            await s.api("POST", f"/api/sim/connectors/{connector}/plug")
            await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
            await s.wait_connector(
                connector, lambda c: c["status"] == "Charging" and c["power_w"] > 0,
                timeout=20,
            )
            await asyncio.sleep(2.5)  # meter values, heartbeats, control loop
            await s.api("POST", f"/api/sim/connectors/{connector}/unplug")
            await demo_csms.wait_for(cp, "StopTransaction")
            await asyncio.sleep(0.5)
        finally:
            loop.set_debug(False)
    # Only the station's own callbacks count: not the test's HTTP driving steps and not the
    # simulated devices on the far end of the wires (the pymodbus server, hal_sim).
    not_station = ("test_no_slow_callbacks", "pymodbus/server", "/hal_sim/")
    slow = [r.getMessage() for r in caplog.records
            if r.name == "asyncio" and "took" in r.getMessage()
            and not any(part in r.getMessage() for part in not_station)]
    assert slow == []

"""Faults that clear on replug (the catalogue's ``replug`` recovery) clear when an EV
leaves, and only then: not when the pilot comes back to A from the station's own state F
(the safe path) with nothing plugged in, not while the trip input behind the fault still
holds, and on a CHAdeMO connector (no pilot: the plug-present signal) as on CCS.

Found by ``tests/e2e/test_safety_stateful.py``: the IMD alarm injected on an empty CCS
connector was reported (18) and then cleared by the pilot's F -> A a moment later while
the alarm relay was still on."""

from __future__ import annotations

import asyncio

from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import DC_STATION

CP = "EVSE-DC-0001"


def _codes(c: dict[str, object]) -> list[str]:
    return [f["code"] for f in c["faults"]]  # type: ignore[attr-defined]


async def test_the_safe_path_is_not_a_replug(demo_csms: DemoCsms) -> None:
    async with SimulatedStation(DC_STATION, csms_url=demo_csms.url) as s:
        await demo_csms.wait_connected(CP)
        await s.api("POST", "/api/sim/faults", {"code": "18", "connector": 1})
        await s.wait_connector(1, lambda c: "18" in _codes(c), what="18")
        # The safe path put the pilot to F; it is back at A well within this time.
        await asyncio.sleep(1.5)
        state = await s.connector(1)
        assert state["pilot"] == "A"  # back from F: the state every unplug ends in
        assert _codes(state) == ["18"] and state["status"] == "Faulted"
        assert state["plug_cycles"] == 0


async def test_a_fault_whose_alarm_still_holds_outlives_the_replug(
    demo_csms: DemoCsms,
) -> None:
    async with SimulatedStation(DC_STATION, csms_url=demo_csms.url) as s:
        await demo_csms.wait_connected(CP)
        await s.api("POST", "/api/sim/connectors/1/plug")
        await s.wait_connector(1, lambda c: c["status"] == "Preparing", what="plugged")
        await s.api("POST", "/api/sim/faults", {"code": "18", "connector": 1})
        await s.wait_connector(1, lambda c: "18" in _codes(c), what="18")
        await s.api("POST", "/api/sim/connectors/1/unplug")
        await s.wait_connector(1, lambda c: c["ev"] is None, what="unplugged")
        await asyncio.sleep(0.5)
        assert _codes(await s.connector(1)) == ["18"]  # the IMD alarm relay is still on
        # The alarm ends, then an EV comes and goes: that replug clears it.
        await s.api("DELETE", "/api/sim/faults", {"code": "18", "connector": 1})
        await s.api("POST", "/api/sim/connectors/1/plug")
        await s.wait_connector(1, lambda c: c["pilot"] == "B", what="replugged")
        await s.api("POST", "/api/sim/connectors/1/unplug")
        cleared = await s.wait_connector(1, lambda c: _codes(c) == [], what="18 cleared")
        assert cleared["status"] == "Available"


async def test_chademo_faults_clear_when_the_plug_is_out(demo_csms: DemoCsms) -> None:
    async with SimulatedStation(DC_STATION, csms_url=demo_csms.url) as s:
        await demo_csms.wait_connected(CP)
        await s.api("POST", "/api/sim/connectors/2/plug")
        await s.wait_connector(2, lambda c: c["status"] == "Preparing", what="plugged")
        await s.api("POST", "/api/sim/faults", {"code": "51", "connector": 2})
        await s.wait_connector(2, lambda c: "51" in _codes(c), what="51")
        await s.api("DELETE", "/api/sim/faults", {"code": "51", "connector": 2})
        await asyncio.sleep(0.3)
        assert "51" in _codes(await s.connector(2))  # replug recovery: still there
        await s.api("POST", "/api/sim/connectors/2/unplug")
        cleared = await s.wait_connector(2, lambda c: _codes(c) == [], what="51 cleared")
        assert cleared["status"] == "Available"
        assert cleared["plug_cycles"] == 1

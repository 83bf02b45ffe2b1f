"""Faults the spine detects on an AC station, end to end: the simulator produces the
physical condition (``POST /api/sim/faults``), the firmware finds it through its own
drivers, makes the power path safe, and the central system gets the documented
StatusNotification; ``DELETE`` ends the condition and the documented recovery follows."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION

CP = "EVSE-AC-0001"


@dataclass(frozen=True)
class Case:
    code: str
    error_code: str
    display_nl: str
    cleared_by: str  # "clear" (condition ends), "unplug" (replug), "reset" (local/CSMS reset)
    trigger: str | None = None  # what reveals the condition, e.g. "pause" (opening reveals
    # a welded contactor: while it is commanded closed, welded and closed look the same)


CASES = [
    Case("406", "EVCommunicationError", "Geen communicatie met voertuig", "unplug"),
    Case("105", "PowerMeterFailure", "Kan niet laden", "clear"),
    Case("106", "GroundFailure", "Kan niet laden", "reset"),
    Case("102", "PowerSwitchFailure", "Kan niet laden", "reset", trigger="pause"),
]


async def _charging(s: SimulatedStation) -> None:
    await s.api("POST", "/api/sim/connectors/1/plug")
    await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
    await s.wait_connector(1, lambda c: c["status"] == "Charging" and c["power_w"] > 0)


def _statuses(csms: DemoCsms) -> list[dict[str, Any]]:
    return [m for m in csms.received(CP, "StatusNotification") if m["connectorId"] == 1]


async def _reported(csms: DemoCsms, code: str) -> dict[str, Any]:
    """The first StatusNotification of connector 1 carrying ``code`` (waits for it)."""
    for _ in range(100):
        found = [m for m in _statuses(csms) if m.get("vendorErrorCode") == code]
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no StatusNotification with vendorErrorCode {code}")


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
async def test_fault_detected_reported_recovered(demo_csms: DemoCsms, case: Case) -> None:
    async with SimulatedStation(AC_STATION, csms_url=demo_csms.url) as s:
        s.station.connectors[1].faults.language = "nl"
        await demo_csms.wait_for(CP, "StatusNotification", count=3)
        await _charging(s)
        await s.api("POST", "/api/sim/faults", {"code": case.code, "connector": 1})
        if case.trigger is not None:
            await s.api("POST", f"/api/sim/connectors/1/{case.trigger}")

        faulted = await s.wait_connector(
            1, lambda c: c["vendor_error_code"] == case.code, timeout=15, what=case.code
        )
        assert faulted["contactor_closed"] is False  # commanded open
        if case.code != "102":  # the power path is safe at the wire too
            await s.wait_connector(1, lambda c: not c["world"]["contactor_closed"])
        assert faulted["status"] == "Faulted"
        assert faulted["error_code"] == case.error_code
        assert faulted["display"].startswith(case.display_nl)
        [stop] = await demo_csms.wait_for(CP, "StopTransaction")
        assert stop["reason"] in ("Other", "EmergencyStop")
        reported = await _reported(demo_csms, case.code)
        assert reported["errorCode"] == case.error_code
        assert reported["status"] == "Faulted"

        await s.api("DELETE", "/api/sim/faults", {"code": case.code, "connector": 1})
        if case.cleared_by == "unplug":
            await s.api("POST", "/api/sim/connectors/1/unplug")
        elif case.cleared_by == "reset":
            # Latched until someone resets it: still faulted after the condition ends.
            await asyncio.sleep(0.5)  # the drivers see the condition gone
            still = await s.connector(1)
            assert still["vendor_error_code"] == case.code
            s.station.connectors[1].reset_faults()
        cleared = await s.wait_connector(
            1, lambda c: c["error_code"] == "NoError" and c["status"] != "Faulted",
            timeout=15, what="cleared",
        )
        assert cleared["faults"] == []
        for _ in range(100):
            last = _statuses(demo_csms)[-1]
            if last["errorCode"] == "NoError":
                break
            await asyncio.sleep(0.05)
        assert last["errorCode"] == "NoError" and last["status"] == cleared["status"]

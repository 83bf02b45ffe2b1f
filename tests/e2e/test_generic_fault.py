"""The generic fault 001: an unexpected error in a firmware task (a defect, not a device
fault a driver knows) makes the power path safe first, is reported as 001 and blocks the
connector until the central system resets the station; the other connectors go on.

The station-wide variant (a supervision check of connector 0 failing) is the 001 case of
``tests/e2e/test_e2e_fault_codes.py``, injected at the I2C bus. Also here: what a Reset (an
in-process restart in the simulator) must leave behind, found with 001 and EV faults
injected across Resets by ``tests/e2e/test_safety_stateful.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from firmware.safety.fault_book import ActiveFault
from firmware.session.pilot_detector import PilotState
from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION, DC_STATION

CP = "EVSE-AC-0001"


async def _defect() -> None:
    raise ZeroDivisionError("a firmware defect")


async def test_failed_connector_task_is_001_safe_first(demo_csms: DemoCsms) -> None:
    async with SimulatedStation(AC_STATION, csms_url=demo_csms.url) as s:
        await demo_csms.wait_for(CP, "StatusNotification", count=3)
        for cid, tag in ((1, "04A2B3C4D5"), (2, "0A0B0C0D")):
            await s.api("POST", f"/api/sim/connectors/{cid}/plug")
            await s.api("POST", "/api/sim/tokens", {"id_tag": tag})
            await s.wait_connector(cid, lambda c: c["status"] == "Charging" and c["power_w"] > 0,
                                   timeout=20, what=f"connector {cid} charging")
        connector = s.station.connectors[1]
        contactor_at_report: list[bool] = []

        def on_fault(_cid: int, fault: ActiveFault, what: str) -> None:
            if fault.fault.code == "001" and what == "raised":
                contactor_at_report.append(connector.devices.contactor.commanded_closed)

        connector.faults.listeners.insert(0, on_fault)  # before the event log and reports
        connector.spawn(_defect(), "a task with a defect")

        faulted = await s.wait_connector(1, lambda c: c["vendor_error_code"] == "001",
                                         timeout=10, what="001")
        assert contactor_at_report == [False]  # safe before the fault was even recorded
        assert faulted["status"] == "Faulted"
        await s.wait_connector(1, lambda c: not c["world"]["contactor_closed"], what="open")
        reports = [m for m in demo_csms.received(CP, "StatusNotification")
                   if m["connectorId"] == 1 and m.get("vendorErrorCode") == "001"]
        assert reports and reports[-1]["errorCode"] == "OtherError"
        assert reports[-1]["status"] == "Faulted"
        # The other connector keeps charging.
        other = await s.connector(2)
        assert other["status"] == "Charging" and other["contactor_closed"]
        # Recovery is a reset: the fault stays until then.
        assert (await s.connector(1))["vendor_error_code"] == "001"
        count = len(s.restarts) + 1
        result = await demo_csms.call_json(CP, "Reset", {"type": "Soft"})
        assert result["status"] == "Accepted"
        await s.wait_restarted(count, timeout=20)
        cleared = await s.connector(1)
        assert cleared["vendor_error_code"] in (None, "")
        # Both EVs were in state C when the station came back with no PWM: they get the
        # 6 s of IEC 61851-1 to leave C before that counts as an EV fault (301).
        for cid in (1, 2):
            connector = s.station.connectors[cid]
            for _ in range(200):
                if connector.detector.state is PilotState.B:
                    break
                await asyncio.sleep(0.05)
            assert connector.detector.state is PilotState.B
            await connector.checks.tick()
            assert connector.faults.active == []


async def test_device_failing_at_start_is_001_and_the_station_comes_up(
    demo_csms: DemoCsms,
) -> None:
    """A device whose start fails in a way no driver knows must not keep the station
    down (on a board: a systemd restart loop with nothing ever reported)."""
    async with SimulatedStation(AC_STATION, csms_url=demo_csms.url) as s:
        await demo_csms.wait_for(CP, "StatusNotification", count=3)
        await s.api("POST", "/api/sim/faults", {"code": "001"})  # the TMP117's transfers fail
        for count in (1, 2):
            result = await demo_csms.call_json(CP, "Reset", {"type": "Soft"})
            assert result["status"] == "Accepted"
            await s.wait_restarted(count, timeout=20)
            if count == 2:
                break
            # Up again, connected, and 001 on connector 0 with every connector blocked.
            failures = s.station.hardware.start_failures
            assert [(f.connector_id, f.role, f.unexpected) for f in failures] == [
                (0, "temperature", True)]
            for _ in range(200):
                reports = [m for m in demo_csms.received(CP, "StatusNotification")
                           if m["connectorId"] == 0 and m.get("vendorErrorCode") == "001"]
                if reports:
                    break
                await asyncio.sleep(0.05)
            assert reports and reports[-1]["status"] == "Faulted"
            assert s.station.safety.failing(1)  # nothing closes while 001 holds
            await s.api("DELETE", "/api/sim/faults", {"code": "001"})
        # After the second reset, with the bus healthy again: no start failure, no 001.
        assert s.station.hardware.start_failures == []
        assert all(f.fault.code != "001" for f in s.station.supervision.faults.active)


async def test_after_a_reset_the_world_talks_to_the_new_station_only(
    demo_csms: DemoCsms,
) -> None:
    """The simulated world outlives a station restarted in-process (a Reset): the old
    station's drivers stop listening to it, so an EV error after the restart reaches the
    new station and nothing of the old one (whose drivers are released) is touched."""
    cp = "EVSE-DC-0001"
    async with SimulatedStation(DC_STATION, csms_url=demo_csms.url) as s:
        await demo_csms.wait_for(cp, "StatusNotification", count=4)
        result = await demo_csms.call_json(cp, "Reset", {"type": "Soft"})
        assert result["status"] == "Accepted"
        await s.wait_restarted(1, timeout=20)
        await s.api("POST", "/api/sim/connectors/1/plug")  # answers 200, or api() raises
        await s.api("POST", "/api/sim/faults", {"code": "51", "connector": 1})
        await s.wait_connector(1, lambda c: c["vendor_error_code"] == "51", timeout=10,
                               what="51 on the new station")
        world = s.sim.world.connector(1)
        assert len(world._ev_listeners) == 1  # the new station's EV communication only


@pytest.mark.parametrize(("station", "cp", "cid", "code"), [
    (AC_STATION, "EVSE-AC-0001", 2, "106"),  # the RCD
    (DC_STATION, "EVSE-DC-0001", 1, "18"),  # the IMD alarm relay
])
async def test_a_trip_present_at_start_is_reported(
    demo_csms: DemoCsms, station: Path, cp: str, cid: int, code: str
) -> None:
    """A hard-wired trip input that is already active when the station starts (here: a
    Reset with the trip still there) gives no edge: the firmware must read the level at
    start and report the fault, not only hold the interlock. Found by
    ``tests/e2e/test_safety_stateful.py`` (18 injected on an AC connector, then a Hard Reset)."""
    async with SimulatedStation(station, csms_url=demo_csms.url) as s:
        await demo_csms.wait_connected(cp)
        await s.api("POST", "/api/sim/faults", {"code": "18", "connector": cid})
        await s.wait_connector(cid, lambda c: c["vendor_error_code"] == code,
                               timeout=10, what=f"{code} before the reset")
        result = await demo_csms.call_json(cp, "Reset", {"type": "Hard"})
        assert result["status"] == "Accepted"
        await s.wait_restarted(1, timeout=20)
        after = await s.wait_connector(
            cid, lambda c: c["vendor_error_code"] == code, timeout=10,
            what=f"{code} after the reset")
        assert after["status"] == "Faulted"
        await demo_csms.wait_connected(cp)
        for _ in range(100):
            notes = [m for m in demo_csms.received(cp, "StatusNotification")
                     if m["connectorId"] == cid]
            if notes and notes[-1].get("vendorErrorCode") == code:
                break
            await asyncio.sleep(0.05)
        assert notes[-1].get("vendorErrorCode") == code
        assert notes[-1]["status"] == "Faulted"

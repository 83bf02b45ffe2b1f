"""Every code of both fault lists, end to end: the simulator produces the physical
condition (``POST /api/sim/faults``), the firmware finds it through its own drivers, the
demo central system receives the documented StatusNotification (errorCode,
vendorErrorCode, status after the entry's effect), the display shows the entry's text in
the configured language, and after ``DELETE`` the documented recovery happens.

AC codes run on the AC example station with ``GUIprimaryLanguage = nl`` (the Dutch texts
of the AC list), DC codes on the DC example station (English). Thresholds that would take
minutes are shortened through the station file's ``[thresholds]`` (a copy in tmp_path).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from firmware.safety.fault_catalogue import Effect, default_catalogue
from hal_sim import faults as sim_faults
from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION, DC_STATION

THRESHOLDS = """
[thresholds]
cable_without_session_s = 1
overcurrent_time_s = 1
max_starts_per_minute = 2
no_pwm_grace_s = 1
"""


@dataclass(frozen=True)
class Case:
    code: str
    station: str = "ac"  # "ac" | "dc"
    connector: int = 1  # where it is injected
    reported_on: int | None = None  # connector of the StatusNotification (default: above)
    setup: str = "idle"  # "idle" | "plugged" | "authorized" (card shown) | "charging"
    recovery: str = "clear"  # "clear" | "unplug" | "reset" (local) | "restart" (CSMS Reset)
    reported: str | None = None  # the vendor code the firmware sends (default: the code)
    trigger: str | None = None  # what reveals the condition (102: opening the contactor)
    found_at_start: bool = False  # found by a start-up self-test: restart after injecting
    before_setup: bool = False  # inject first, then plug in (found when the EV arrives)
    poll: str | None = None  # a slow station check to run now (its period is minutes)
    keys: tuple[tuple[str, str], ...] = ()
    status: str | None = None  # a status other than the effect's (see its case)
    variant: str = ""  # a second case of the same code: its test id is code-variant
    power_off: bool = False  # charging: the safe path opened the contactor at the wire


AC_CASES = [
    # A generic error: the cabinet temperature check fails in a way no driver handles; the
    # station blocks every connector until the central system resets it.
    Case("001", reported_on=0, poll="check:temperature", recovery="restart"),
    Case("101", setup="charging", recovery="unplug"),
    Case("102", setup="charging", recovery="reset", trigger="pause"),
    Case("104"),
    Case("105"),
    Case("106", setup="charging", recovery="reset"),
    Case("109", reported_on=0),
    Case("201", reported_on=0),  # PE open; clears after 3 good readings (one a second)
    Case("202", reported_on=0),
    Case("206"),
    Case("208", reported_on=0),
    Case("211", recovery="restart", found_at_start=True),
    Case("212", reported_on=0),
    Case("301", setup="plugged", recovery="unplug"),
    Case("302", setup="charging", recovery="unplug"),
    Case("303", setup="charging", recovery="unplug"),
    Case("304", setup="plugged", recovery="unplug"),
    Case("401", reported_on=0, poll="poll_temperature"),
    Case("402", reported_on=0, poll="poll_temperature"),
    # 404 keeps Preparing: the next card retries the lock (OCPP TC_024, test_tc_core_tx).
    Case("404", setup="authorized", recovery="unplug", before_setup=True, status="Preparing"),
    Case("405", setup="plugged", recovery="unplug", before_setup=True),
    Case("406", setup="charging", recovery="unplug"),
    Case("407", reported_on=0, poll="poll_tilt"),
]
_EV_COMM = [
    Case(code, "dc", setup="plugged", recovery="unplug",
         reported="8" if code in ("9", "10", "11", "12") else None)
    for code in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "14", "51")
]
DC_CASES = [
    *_EV_COMM,
    Case("15", "dc", recovery="restart", found_at_start=True),
    Case("16", "dc", recovery="restart", found_at_start=True),
    Case("17", "dc", recovery="restart", found_at_start=True),
    # The DC session locks the connector on authorization, before anything is energised:
    # a failure there keeps Preparing (no transaction; the next card retries, as 404).
    *(Case(code, "dc", setup="authorized", recovery="unplug", before_setup=True,
           status="Preparing", variant="session") for code in ("15", "16", "17")),
    Case("18", "dc", setup="charging", recovery="unplug"),
    Case("19", "dc", setup="charging", recovery="unplug"),
    # Cable sensor wire open while charging / cooler pump failure: blocked until Reset.
    Case("20", "dc", setup="charging", recovery="restart", power_off=True),
    Case("21", "dc", recovery="restart"),
    Case("22", "dc", recovery="restart"),
    Case("50", "dc", setup="authorized", recovery="clear", before_setup=True),
    Case("108", "dc", setup="plugged", recovery="unplug",
         keys=(("AutochargeEnabled", "true"),)),
    Case("1000", "dc", reported_on=0),
    Case("1001", "dc", reported_on=0),
]
CASES = AC_CASES + DC_CASES
NOT_INJECTABLE = sorted(sim_faults.UNAVAILABLE)  # listed by GET with available: false
CATALOGUE = default_catalogue()


def _cp(case: Case) -> str:
    return "EVSE-AC-0001" if case.station == "ac" else "EVSE-DC-0001"


def _station_file(case: Case, tmp_path: Path) -> Path:
    source = AC_STATION if case.station == "ac" else DC_STATION
    path = tmp_path / source.name
    path.write_text(source.read_text(encoding="utf-8") + THRESHOLDS, encoding="utf-8")
    return path


def _statuses(csms: DemoCsms, cp: str, connector: int) -> list[dict[str, Any]]:
    return [m for m in csms.received(cp, "StatusNotification") if m["connectorId"] == connector]


async def _reported(csms: DemoCsms, cp: str, connector: int, code: str) -> dict[str, Any]:
    for _ in range(200):
        found = [m for m in _statuses(csms, cp, connector) if m.get("vendorErrorCode") == code]
        if found:
            return found[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no StatusNotification of connector {connector} with code {code}: "
                         f"{_statuses(csms, cp, connector)}")


async def _with_status(csms: DemoCsms, cp: str, connector: int, status: str
                       ) -> dict[str, Any]:
    for _ in range(200):
        reports = _statuses(csms, cp, connector)
        if reports and reports[-1]["status"] == status:
            return reports[-1]
        await asyncio.sleep(0.05)
    raise AssertionError(f"connector {connector} not {status}: {_statuses(csms, cp, connector)}")


async def _setup(s: SimulatedStation, case: Case) -> None:
    cid = case.connector
    if case.setup == "idle":
        return
    await s.api("POST", f"/api/sim/connectors/{cid}/plug")
    if case.setup == "authorized":
        await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
    elif case.setup == "charging":
        await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
        await s.wait_connector(cid, lambda c: c["status"] == "Charging" and c["power_w"] > 0,
                               timeout=20, what="charging")
    else:
        await s.wait_connector(cid, lambda c: c["status"] != "Available", what="plugged")


async def _poll(s: SimulatedStation, poll: str) -> None:
    """Run a slow station check now: ``"poll_tilt"`` or ``"check:temperature"``."""
    name, _, arg = poll.partition(":")
    method = getattr(s.station.supervision.monitor, name)
    await (method(arg) if arg else method())


async def _restart(s: SimulatedStation, csms: DemoCsms, cp: str) -> None:
    count = len(s.restarts) + 1
    result = await csms.call_json(cp, "Reset", {"type": "Soft"})
    assert result["status"] == "Accepted"
    await s.wait_restarted(count, timeout=20)


# Known gaps, kept visible: the test fails (strict xfail) until they are closed.
GAPS: dict[str, str] = {}
PARAMS = [
    pytest.param(c, id=f"{c.code}-{c.variant}" if c.variant else c.code,
                 marks=[pytest.mark.xfail(reason=GAPS[c.code], strict=True)]
                 if c.code in GAPS else [])
    for c in CASES
]


@pytest.mark.parametrize("case", PARAMS)
async def test_fault_code(demo_csms: DemoCsms, case: Case, tmp_path: Path) -> None:
    cp = _cp(case)
    lang = "nl" if case.station == "ac" else "en"
    keys = [("GUIprimaryLanguage", lang), *case.keys]
    reported = case.reported or case.code
    fault = CATALOGUE.faults[reported]
    on = case.reported_on if case.reported_on is not None else case.connector
    async with SimulatedStation(_station_file(case, tmp_path), csms_url=demo_csms.url,
                                set_keys=keys) as s:
        await demo_csms.wait_for(cp, "StatusNotification", count=2)
        body = {"code": case.code, "connector": case.connector}
        if case.before_setup:
            # Not before the lock self-test at start is over (it would find a lock fault).
            checks = s.station.connectors[case.connector].checks
            await asyncio.wait_for(checks.lock_self_test_done.wait(), 10)
            await s.api("POST", "/api/sim/faults", body)
        await _setup(s, case)
        if not case.before_setup:
            await s.api("POST", "/api/sim/faults", body)
        if case.trigger is not None:
            await s.api("POST", f"/api/sim/connectors/{case.connector}/{case.trigger}")
        if case.found_at_start:
            await _restart(s, demo_csms, cp)
        if case.poll is not None:
            await _poll(s, case.poll)

        # Reported as the list documents it.
        if fault.effect is Effect.DISPLAY_ONLY:  # 206: the status says it, no error code
            report = await _with_status(demo_csms, cp, on, "Unavailable")
            assert "vendorErrorCode" not in report
        else:
            report = await _reported(demo_csms, cp, on, fault.vendor_error_code)
        assert report["errorCode"] == fault.ocpp16
        if case.status is not None:
            assert report["status"] == case.status
        elif fault.effect is Effect.BLOCK_CONNECTOR:
            assert report["status"] == "Faulted"
        elif fault.effect is Effect.STOP_SESSION:
            assert report["status"] in ("Finishing", "Available", "Faulted")
        else:
            assert report["status"] != "Faulted"
        if case.power_off:  # power path safe first: the session's contactor is open
            state = await s.connector(case.connector)
            assert state["contactor_closed"] is False
            contactor = s.sim.hw.connector(case.connector).contactor
            assert contactor is not None
            for _ in range(100):
                if not contactor.closed:
                    break
                await asyncio.sleep(0.02)
            assert not contactor.closed
        if fault.display_shown:  # a station fault shows on every connector's display
            text = fault.display_text(lang)
            await s.wait_connector(case.connector, lambda c: c["display"] == text,
                                   what=f"display {text!r}")

        # The documented recovery.
        await s.api("DELETE", "/api/sim/faults", body)
        if case.recovery == "unplug":
            await asyncio.sleep(0.3)
            await s.api("POST", f"/api/sim/connectors/{case.connector}/unplug")
        elif case.recovery == "reset":
            await asyncio.sleep(0.5)  # the drivers see the condition gone: still latched
            still = await s.connector(case.connector)
            assert still["vendor_error_code"] == fault.vendor_error_code
            s.station.connectors[case.connector].reset_faults()
        elif case.recovery == "restart":
            await _restart(s, demo_csms, cp)
        if case.poll is not None:
            await _poll(s, case.poll)
        if fault.effect is Effect.DISPLAY_ONLY:
            await _with_status(demo_csms, cp, on, "Available")
        await _wait_cleared(s, demo_csms, cp, on, reported)

        # Every raise and clear is in the persistent event log the web interface shows.
        events = (await s.api("GET", "/api/events"))["events"]
        seen = {e["event"] for e in events if e["code"] == fault.code}
        assert seen == ({"raised"} if case.recovery == "restart" else {"raised", "cleared"})


async def _wait_cleared(s: SimulatedStation, csms: DemoCsms, cp: str, on: int,
                        code: str) -> None:
    for _ in range(300):
        last = _statuses(csms, cp, on)[-1]
        if last.get("vendorErrorCode") != code and last["errorCode"] in ("NoError",):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"connector {on} not cleared of {code}: {last}")
    if on != 0:
        state = await s.connector(on)
        assert all(f["code"] != code for f in state["faults"])


async def test_fault_list_has_every_code(demo_csms: DemoCsms) -> None:
    async with SimulatedStation(AC_STATION, csms_url=demo_csms.url) as s:
        listed = await s.api("GET", "/api/sim/faults")
        codes = {f["code"]: f for f in listed["faults"]}
        assert set(codes) == {f.code for f in CATALOGUE}
        assert codes["209"]["available"] is False
        assert codes["0"]["available"] is True
        # Injecting NoError is a no-op; an unknown code and a load-management code: 400.
        await s.api("POST", "/api/sim/faults", {"code": "0"})
        for code, text in (("999", "known"), ("209", "load management")):
            async with s._session.post(  # type: ignore[union-attr]
                s.http_url + "/api/sim/faults", json={"code": code}
            ) as resp:
                assert resp.status == 400
                assert text in str(await resp.json())


def test_every_injectable_code_has_a_case() -> None:
    tested = {c.code for c in CASES}
    injectable = {r["code"] for r in sim_faults.catalogue() if r["available"]} - {"0"}
    assert injectable - tested == set()

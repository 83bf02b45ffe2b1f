"""OCTT 1.6 test cases of the group Core/Power: a simulated AC station loses its power
(stopped without closing anything: the store keeps what was committed, as after a cut)
and comes back from the same state directory, against the demo central system."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firmware.storage.store import Store
from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION

CP = "EVSE-AC-0001"
KEYS = [("MeterValueSampleInterval", "1")]


def station(csms: DemoCsms, state: Path) -> SimulatedStation:
    return SimulatedStation(AC_STATION, csms_url=csms.url, state_dir=state, set_keys=KEYS)


def after(csms: DemoCsms, action: str, index: int) -> list[Any]:
    """Payloads of the CALLs ``action`` from the station after message number ``index``."""
    return [m.payload for m in csms.messages[index:]
            if m.cp_id == CP and m.direction == "<-" and m.action == action]


async def remote_session(csms: DemoCsms, s: SimulatedStation) -> dict[str, Any]:
    await csms.wait_for(CP, "StatusNotification", count=3)
    await s.api("POST", "/api/sim/connectors/1/plug")
    await s.wait_connector(1, lambda c: c["status"] == "Preparing")
    assert await csms.remote_start(CP, "POWER-1", connector_id=1) == "Accepted"
    [start] = await csms.wait_for(CP, "StartTransaction")
    await s.wait_connector(1, lambda c: c["status"] == "Charging" and c["power_w"] > 0)
    await csms.wait_for(CP, "MeterValues")  # a reading persisted since the start
    return dict(start)


async def test_tc_032_1_power_failure_stop_tx_before_going_down(
    demo_csms: DemoCsms, tmp_path: Path
) -> None:
    async with station(demo_csms, tmp_path) as s:
        start = await remote_session(demo_csms, s)
        # The supply monitor reports the power failing: the station stops its
        # transactions and delivers them while its hold-up energy lasts.
        s.station.stop_all("PowerLoss")
        await s.runtime.drain()
        [stop] = await demo_csms.wait_for(CP, "StopTransaction")
        await demo_csms.wait_for(CP, "StatusNotification", count=6)
        finishing = [p for p in demo_csms.received(CP, "StatusNotification")
                     if p["connectorId"] == 1][-1]
        await s.stop()  # the power is gone
    mark = len(demo_csms.messages)
    async with station(demo_csms, tmp_path) as s:
        await demo_csms.wait_for(CP, "BootNotification", count=2)
        await demo_csms.wait_for(CP, "StatusNotification", count=9)
        assert s.runtime.store.unfinished_transactions() == []
    assert stop["reason"] == "PowerLoss" and stop["idTag"] == start["idTag"] == "POWER-1"
    conf = next(m.payload for m in demo_csms.messages if m.action == "StartTransaction.conf")
    assert stop["transactionId"] == conf["transactionId"]
    assert finishing["status"] == "Finishing"  # the EV is still plugged in
    assert after(demo_csms, "StopTransaction", mark) == []  # stopped once, not again
    assert [p["connectorId"] for p in after(demo_csms, "StatusNotification", mark)] \
        == [0, 1, 2]


async def test_tc_032_2_power_failure_stop_tx_on_boot(
    demo_csms: DemoCsms, tmp_path: Path
) -> None:
    async with station(demo_csms, tmp_path) as s:
        start = await remote_session(demo_csms, s)
        await s.stop()  # the power goes: nothing is closed
    store = Store(tmp_path / "station.sqlite")
    [interrupted] = store.unfinished_transactions()
    store.close()
    assert interrupted.last_meter_wh is not None and interrupted.last_meter_time is not None
    mark = len(demo_csms.messages)
    async with station(demo_csms, tmp_path) as s:
        [stop] = await demo_csms.wait_for(CP, "StopTransaction")
        await demo_csms.wait_for(CP, "StatusNotification", count=6)
        assert s.runtime.store.unfinished_transactions() == []
    conf = next(m.payload for m in demo_csms.messages if m.action == "StartTransaction.conf")
    assert stop["reason"] == "PowerLoss"
    assert stop["transactionId"] == conf["transactionId"]
    assert stop["idTag"] == start["idTag"]
    assert stop["meterStop"] == round(interrupted.last_meter_wh)  # the last persisted one
    assert stop["meterStop"] >= start["meterStart"]
    actions = [m.action for m in demo_csms.messages[mark:] if m.direction == "<-"]
    assert actions[0] == "BootNotification"
    statuses = after(demo_csms, "StatusNotification", mark)
    assert [p["connectorId"] for p in statuses[:3]] == [0, 1, 2]
    assert statuses[0]["status"] == "Available"


async def test_tc_034_power_failure_with_unavailable_status(
    demo_csms: DemoCsms, tmp_path: Path
) -> None:
    async with station(demo_csms, tmp_path):
        await demo_csms.wait_for(CP, "StatusNotification", count=3)
        answer = await demo_csms.call_json(
            CP, "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}
        )
        assert answer["status"] == "Accepted"
        await demo_csms.wait_for(CP, "StatusNotification", count=6)
        before = demo_csms.received(CP, "StatusNotification")[3:]
    mark = len(demo_csms.messages)
    async with station(demo_csms, tmp_path) as s:
        await demo_csms.wait_for(CP, "StatusNotification", count=9)
        rebooted = after(demo_csms, "StatusNotification", mark)
        answer = await demo_csms.call_json(
            CP, "ChangeAvailability", {"connectorId": 0, "type": "Operative"}
        )
        assert answer["status"] == "Accepted"
        await s.wait_connector(1, lambda c: c["status"] == "Available")
        await demo_csms.wait_for(CP, "StatusNotification", count=12)
    assert {(p["connectorId"], p["status"]) for p in before} == {
        (0, "Unavailable"), (1, "Unavailable"), (2, "Unavailable")}
    assert [(p["connectorId"], p["status"]) for p in rebooted[:3]] == [
        (0, "Unavailable"), (1, "Unavailable"), (2, "Unavailable")]
    assert {p["status"] for p in after(demo_csms, "StatusNotification", mark)[3:]} \
        == {"Available"}

"""OCTT 1.6 test cases of the group Core/Offline: a simulated AC station whose link to the
demo central system is cut at the wire (``POST /api/sim/network``, a TCP proxy) while
sessions go on; after the link returns the central system gets every transaction message
in order, with the event's own timestamps and the swapped transactionId."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from firmware.ocpp.rpc import parse_time
from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION

CP = "EVSE-AC-0001"
CARD = "04A2B3C4D5"
UNKNOWN_CARD = "0BADBAD0"  # the central system answers Invalid (set per test)
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")


async def set_network(s: SimulatedStation, online: bool) -> datetime:
    """Cut or restore the link at the wire and wait until the station notices."""
    when = datetime.now(UTC)
    await s.api("POST", "/api/sim/network", {"online": online})
    await s.wait(lambda st: st["csms_online"] is online, timeout=15,
                 what="link " + ("up" if online else "down"))
    return when


def transaction_calls(csms: DemoCsms) -> list[tuple[str, Any]]:
    """The transaction messages the central system received, in order."""
    return [(m.action, m.payload) for m in csms.messages
            if m.cp_id == CP and m.direction == "<-" and m.action in TX_ACTIONS]


async def plug_and_swipe(s: SimulatedStation, card: str = CARD, connector: int = 1) -> None:
    await s.api("POST", f"/api/sim/connectors/{connector}/plug")
    await s.wait_connector(connector, lambda c: c["status"] == "Preparing", what="Preparing")
    await s.api("POST", "/api/sim/tokens", {"id_tag": card})
    await s.wait_connector(connector, lambda c: c["status"] == "Charging", what="Charging")


@pytest.fixture
async def station(demo_csms: DemoCsms, tmp_path: Path, request: pytest.FixtureRequest
                  ) -> AsyncIterator[SimulatedStation]:
    keys = getattr(request, "param", [])
    async with SimulatedStation(
        AC_STATION, csms_url=demo_csms.url, state_dir=tmp_path,
        set_keys=[("MeterValueSampleInterval", "1"), *keys],
    ) as s:
        await demo_csms.wait_for(CP, "StatusNotification", count=3)
        yield s


async def test_tc_036_connection_loss_during_transaction(
    demo_csms: DemoCsms, station: SimulatedStation
) -> None:
    s = station
    await plug_and_swipe(s)
    [start] = await demo_csms.wait_for(CP, "StartTransaction")
    await demo_csms.wait_for(CP, "MeterValues")
    store = s.runtime.store
    # Cut once the answer is in too: a message whose answer the cut swallows is sent
    # again after the reconnect (at least once, as it must be).
    await s.wait(lambda _st: store.queue_len() == 0, what="MeterValues answered")
    cut = await set_network(s, False)
    await s.wait(lambda _st: store.queue_len() >= 2, what="MeterValues queued offline")
    queued = [m.payload for m in store.queue_all()]
    restored = await set_network(s, True)
    online_before = len(demo_csms.received(CP, "MeterValues"))
    await demo_csms.wait_for(CP, "MeterValues", count=online_before + len(queued))
    state = await s.connector(1)
    assert state["status"] == "Charging"  # the session went on without the link
    tx = s.station.connectors[1].tx
    assert tx is not None and tx.transaction_id is not None
    tx_id = tx.transaction_id
    assert await demo_csms.remote_stop(CP, tx_id) == "Accepted"
    [stop] = await demo_csms.wait_for(CP, "StopTransaction")

    values = demo_csms.received(CP, "MeterValues")
    assert all(mv["transactionId"] == tx_id and mv["connectorId"] == 1 for mv in values)
    stamps = [parse_time(mv["meterValue"][0]["timestamp"]) for mv in values]
    assert stamps == sorted(stamps)  # in order, each with the time it was taken
    # What was queued while offline arrived as it was queued, one after the other.
    sent = [mv["meterValue"] for mv in values]
    first = sent.index(queued[0]["meterValue"])
    assert sent[first:first + len(queued)] == [q["meterValue"] for q in queued]
    assert all(cut <= t < restored for t in stamps[first:first + len(queued)])
    start_conf = next(m.payload for m in demo_csms.messages
                      if m.action == "StartTransaction.conf")
    assert start["connectorId"] == 1 and start_conf["transactionId"] == tx_id
    assert stop["transactionId"] == tx_id and stop["reason"] == "Remote"


async def test_tc_037_1_offline_start_transaction_valid_id_tag(
    demo_csms: DemoCsms, station: SimulatedStation
) -> None:
    s = station
    local_list = {"listVersion": 1, "updateType": "Full", "localAuthorizationList": [
        {"idTag": CARD, "idTagInfo": {"status": "Accepted"}}]}
    assert (await demo_csms.call_json(CP, "SendLocalList", local_list))["status"] == "Accepted"
    await set_network(s, False)
    await plug_and_swipe(s)  # LocalAuthorizeOffline: the local list lets it start
    restored = await set_network(s, True)
    [start] = await demo_csms.wait_for(CP, "StartTransaction")
    statuses = await demo_csms.wait_for(CP, "StatusNotification", count=6)
    await s.wait(lambda _st: s.station.connectors[1].tx is not None
                 and s.station.connectors[1].tx.transaction_id is not None)
    assert start["idTag"] == CARD and start["connectorId"] == 1
    assert parse_time(start["timestamp"]) < restored  # when it started, not when sent
    # Status is not queued: after the reconnect the current one.
    assert [st["status"] for st in statuses[3:] if st["connectorId"] == 1] == ["Charging"]
    assert all(st["status"] != "Preparing" for st in statuses[3:])


@pytest.mark.parametrize("station", [[("AllowOfflineTxForUnknownId", "true"),
                                      ("StopTransactionOnInvalidId", "false")]],
                         indirect=True)
async def test_tc_037_2_offline_start_invalid_id_tag_continues(
    demo_csms: DemoCsms, station: SimulatedStation
) -> None:
    s = station
    demo_csms.id_tags[UNKNOWN_CARD] = {"status": "Invalid"}
    await set_network(s, False)
    await plug_and_swipe(s, UNKNOWN_CARD)
    await set_network(s, True)
    [start] = await demo_csms.wait_for(CP, "StartTransaction")
    # StopTransactionOnInvalidId false: the transaction is not stopped, but "only the
    # energy delivery" (OCPP 1.6 §4.8): the EV waits, suspended by the station.
    await s.wait_connector(1, lambda c: c["status"] == "SuspendedEVSE", timeout=3,
                           what="energy delivery stopped")
    assert demo_csms.received(CP, "StopTransaction") == []
    assert start["idTag"] == UNKNOWN_CARD


@pytest.mark.parametrize("station", [[("AllowOfflineTxForUnknownId", "true"),
                                      ("StopTransactionOnInvalidId", "true")]],
                         indirect=True)
async def test_tc_037_3_offline_start_invalid_id_tag_stopped(
    demo_csms: DemoCsms, station: SimulatedStation
) -> None:
    s = station
    demo_csms.id_tags[UNKNOWN_CARD] = {"status": "Invalid"}
    await set_network(s, False)
    await plug_and_swipe(s, UNKNOWN_CARD)
    await set_network(s, True)
    [start] = await demo_csms.wait_for(CP, "StartTransaction")
    [stop] = await demo_csms.wait_for(CP, "StopTransaction")
    state = await s.wait_connector(1, lambda c: not c["contactor_closed"])
    conf = next(m.payload for m in demo_csms.messages if m.action == "StartTransaction.conf")
    assert conf["idTagInfo"]["status"] == "Invalid"
    assert stop["reason"] == "DeAuthorized"
    assert stop["transactionId"] == conf["transactionId"]
    assert start["idTag"] == UNKNOWN_CARD
    assert state["locked"] is True  # kept locked until the owner presents the card


async def test_tc_038_offline_stop_transaction(
    demo_csms: DemoCsms, station: SimulatedStation
) -> None:
    s = station
    await plug_and_swipe(s)
    [start] = await demo_csms.wait_for(CP, "StartTransaction")
    tx = s.station.connectors[1].tx
    await s.wait(lambda _st: tx is not None and tx.transaction_id is not None)
    assert tx is not None
    await set_network(s, False)
    await s.api("POST", "/api/sim/tokens", {"id_tag": CARD})  # the same card stops it
    await s.wait_connector(1, lambda c: c["status"] == "Finishing", what="stopped offline")
    restored = await set_network(s, True)
    [stop] = await demo_csms.wait_for(CP, "StopTransaction")
    actions = [a for a, _ in transaction_calls(demo_csms)]
    assert actions[0] == "StartTransaction" and actions[-1] == "StopTransaction"
    assert stop["transactionId"] == tx.transaction_id
    assert stop["reason"] == "Local" and stop["idTag"] == CARD
    assert parse_time(stop["timestamp"]) < restored
    assert stop["meterStop"] >= start["meterStart"]


@pytest.mark.parametrize("station", [[("AllowOfflineTxForUnknownId", "true")]],
                         indirect=True)
async def test_tc_039_offline_transaction(
    demo_csms: DemoCsms, station: SimulatedStation
) -> None:
    s = station
    await set_network(s, False)
    await plug_and_swipe(s)
    await s.api("POST", "/api/sim/tokens", {"id_tag": CARD})
    store = s.runtime.store
    await s.wait(lambda _st: "StopTransaction" in [m.action for m in store.queue_all()],
                 what="StopTransaction queued")
    queued = [m.action for m in store.queue_all()]
    restored = await set_network(s, True)
    [stop] = await demo_csms.wait_for(CP, "StopTransaction")
    wire = [(m.action, m.payload) for m in demo_csms.messages
            if m.action.startswith(TX_ACTIONS)]
    assert queued[0] == "StartTransaction" and queued[-1] == "StopTransaction"
    assert [a for a, _ in transaction_calls(demo_csms)] == queued  # all of it, in order
    start_conf = next(p for a, p in wire if a == "StartTransaction.conf")
    assert stop["transactionId"] == start_conf["transactionId"]  # swapped, no placeholder
    assert all(p["transactionId"] == start_conf["transactionId"]
               for a, p in transaction_calls(demo_csms) if a != "StartTransaction")
    start = demo_csms.received(CP, "StartTransaction")[0]
    assert parse_time(start["timestamp"]) <= parse_time(stop["timestamp"]) < restored
    assert stop["reason"] == "Local"

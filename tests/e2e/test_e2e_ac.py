"""End to end: a simulated AC station driven through its control API, talking OCPP 1.6J
over a real WebSocket to the demo central system."""

from __future__ import annotations

from pathlib import Path

from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import AC_STATION

CP = "EVSE-AC-0001"
KEYS = [("MeterValueSampleInterval", "1")]


async def test_plug_card_charge_unplug(demo_csms: DemoCsms, tmp_path: Path) -> None:
    async with SimulatedStation(
        AC_STATION, csms_url=demo_csms.url, state_dir=tmp_path, set_keys=KEYS
    ) as s:
        await demo_csms.wait_for(CP, "StatusNotification", count=3)  # 0, 1, 2 after boot
        await s.api("POST", "/api/sim/connectors/1/plug")
        await s.wait_connector(1, lambda c: c["status"] == "Preparing", what="Preparing")
        await s.api("POST", "/api/sim/tokens", {"id_tag": "TAG1"})  # an NDEF-text card

        charging = await s.wait_connector(
            1, lambda c: c["status"] == "Charging" and c["power_w"] > 1000, what="charging"
        )
        assert charging["locked"] is True
        assert charging["contactor_closed"] is True
        assert charging["world"]["contactor_closed"] is True  # the physical contactor
        [start] = await demo_csms.wait_for(CP, "StartTransaction")
        assert start["connectorId"] == 1 and start["idTag"] == "TAG1"

        # MeterValues come from the Modbus meter and rise.
        values = await demo_csms.wait_for(CP, "MeterValues", count=3)
        energy = [
            float(sv["value"])
            for mv in values
            for v in mv["meterValue"]
            for sv in v["sampledValue"]
            if sv.get("measurand", "Energy.Active.Import.Register")
            == "Energy.Active.Import.Register"
        ]
        assert energy == sorted(energy) and energy[-1] > energy[0]
        assert all(mv["transactionId"] == 1 for mv in values)

        await s.api("POST", "/api/sim/connectors/1/unplug")
        [stop] = await demo_csms.wait_for(CP, "StopTransaction")
        state = await s.connector(1)
        assert stop["transactionId"] == 1
        assert stop["reason"] == "EVDisconnected"
        # meterStop is the meter register once the contactor opened (Wh, rounded).
        assert abs(stop["meterStop"] - state["world"]["meter"]["energy_wh"]) <= 1
        assert stop["meterStop"] >= start["meterStart"] + energy[-1] - energy[0] - 1
        await s.wait_connector(1, lambda c: c["status"] == "Available" and not c["locked"])
        statuses = [m["status"] for m in demo_csms.received(CP, "StatusNotification")
                    if m["connectorId"] == 1]
        assert statuses == ["Available", "Preparing", "Charging", "Available"]


async def test_invalid_card_does_not_start(demo_csms: DemoCsms) -> None:
    async with SimulatedStation(AC_STATION, csms_url=demo_csms.url) as s:
        await demo_csms.wait_for(CP, "BootNotification")
        await s.api("POST", "/api/sim/connectors/2/plug")
        await s.wait_connector(2, lambda c: c["status"] == "Preparing")
        # The demo CSMS refuses idTags that start with INVALID; UIDs are hex, so use a
        # remote start with such a tag through the CSMS instead of a card.
        answer = await demo_csms.remote_start(CP, "INVALID1", connector_id=2)
        assert answer == "Accepted"  # AuthorizeRemoteTxRequests is false by default
        [start] = await demo_csms.wait_for(CP, "StartTransaction")
        assert start["idTag"] == "INVALID1"
        # StartTransaction.conf says Invalid: StopTransactionOnInvalidId stops it.
        [stop] = await demo_csms.wait_for(CP, "StopTransaction")
        assert stop["reason"] == "DeAuthorized"
        state = await s.connector(2)
        assert state["contactor_closed"] is False


async def test_remote_start_and_stop(demo_csms: DemoCsms) -> None:
    async with SimulatedStation(AC_STATION, csms_url=demo_csms.url) as s:
        await demo_csms.wait_for(CP, "BootNotification")
        await s.api("POST", "/api/sim/connectors/1/plug")
        assert await demo_csms.remote_start(CP, "REMOTE1", connector_id=1) == "Accepted"
        await s.wait_connector(1, lambda c: c["status"] == "Charging")
        [start] = await demo_csms.wait_for(CP, "StartTransaction")
        assert await demo_csms.remote_stop(CP, 1) == "Accepted"
        [stop] = await demo_csms.wait_for(CP, "StopTransaction")
        assert stop["reason"] == "Remote" and start["idTag"] == "REMOTE1"
        finishing = await s.wait_connector(1, lambda c: c["status"] == "Finishing")
        assert finishing["contactor_closed"] is False
        assert await demo_csms.remote_stop(CP, 99) == "Rejected"


async def test_plug_cycles_counted_and_kept_across_restarts(tmp_path: Path) -> None:
    """DC manual 4.2.2: a cycle per plug in and out, even without charging; persisted."""
    async with SimulatedStation(AC_STATION, state_dir=tmp_path) as s:
        for _ in range(2):
            await s.api("POST", "/api/sim/connectors/2/plug")
            await s.wait_connector(2, lambda c: c["pilot"] == "B")
            await s.api("POST", "/api/sim/connectors/2/unplug")
            await s.wait_connector(2, lambda c: c["pilot"] == "A")
        assert (await s.connector(2))["plug_cycles"] == 2
        assert (await s.connector(1))["plug_cycles"] == 0
    async with SimulatedStation(AC_STATION, state_dir=tmp_path) as s:
        assert (await s.connector(2))["plug_cycles"] == 2

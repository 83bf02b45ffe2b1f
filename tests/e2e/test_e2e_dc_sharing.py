"""Two EVs on the DC example station sharing power, per ChargingStrategy (DC manual
4.4.2): FCFS gives the first EV all it can use and the second nothing; FAIR splits the
power 50:50. The power flows through the CAN power modules of the simulator."""

from __future__ import annotations

from pathlib import Path

from hal_sim.csms_demo import DemoCsms
from hal_sim.runner import SimulatedStation
from tests.conftest import DC_STATION

CP = "EVSE-DC-0001"
EV = {"max_current_a": 200, "soc": 30, "max_voltage_v": 500}


async def _start(s: SimulatedStation, connector: int, card: str) -> None:
    await s.api("POST", f"/api/sim/connectors/{connector}/plug", {"ev": EV})
    await s.wait_connector(connector, lambda c: c["status"] == "Preparing")
    await s.api("POST", "/api/sim/tokens", {"id_tag": card})
    await s.wait_connector(connector, lambda c: c["transaction_id"] is not None)


async def test_fcfs_then_fair(demo_csms: DemoCsms, tmp_path: Path) -> None:
    keys = [("MaxGridPower", "30000"), ("ChargingStrategy", "FCFS")]
    async with SimulatedStation(
        DC_STATION, csms_url=demo_csms.url, state_dir=tmp_path, set_keys=keys
    ) as s:
        await demo_csms.wait_for(CP, "StatusNotification", count=4)
        await _start(s, 1, "0A0A0A01")
        first = await s.wait_connector(
            1, lambda c: c["status"] == "Charging" and c["power_w"] > 28_500, timeout=20,
            what="EV 1 takes all 30 kW",
        )
        assert first["power_w"] <= 30_000 * 1.02
        await _start(s, 2, "0B0B0B02")
        # FCFS: nothing left for the second EV: it waits, not charging.
        second = await s.wait_connector(
            2, lambda c: c["status"] == "SuspendedEVSE", timeout=10, what="EV 2 waits"
        )
        assert second["power_w"] < 100
        assert (await s.connector(1))["power_w"] > 28_500

        answer = await demo_csms.change_configuration(CP, "ChargingStrategy", "FAIR")
        assert answer in ("Accepted", "RebootRequired")
        state = await s.wait(
            lambda st: all(
                c["status"] == "Charging" and 13_500 < c["power_w"] < 15_500
                for c in st["connectors"] if c["id"] in (1, 2)
            ),
            timeout=30, what="50:50",
        )
        powers = [c["power_w"] for c in state["connectors"] if c["id"] in (1, 2)]
        assert sum(powers) <= 30_000 * 1.02
        assert abs(powers[0] - powers[1]) < 0.05 * 15_000

"""The station monitor on real drivers over simulated wires, without a whole station:
the environment of ``tests/unit/station/test_station_monitor.py`` and
``tests/unit/station/test_pe_monitor.py``.

One connector's contactor is attached to the safety supervisor, so a blocking station
fault can be seen making the power path safe; time is a :class:`ManualClock`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from drivers.context import DriverContext
from drivers.registry import driver_class
from firmware.clock import ManualClock
from firmware.config.model import StationConfig
from firmware.safety.fault_book import FaultBook
from firmware.safety.fault_catalogue import default_catalogue
from firmware.safety.gate import Safety
from firmware.station.devices import StationDevices
from firmware.station.monitor import MonitorPeriods, StationMonitor
from hal_sim.circuits import SimHardware
from hal_sim.sim_wiring import SimWiring
from hal_sim.station_circuits import StationCircuits


@dataclass
class MonitorEnv:
    clock: ManualClock
    wiring: SimWiring
    sim: StationCircuits
    devices: StationDevices
    contactor: Any
    safety: Safety
    faults: FaultBook
    monitor: StationMonitor
    buses: dict[str, Any]
    stopped: list[str]  # the reasons stop_sessions was called with
    changes: list[int]  # one entry per on_change call

    def codes(self) -> set[str]:
        return {f.fault.code for f in self.faults.active}

    async def close(self) -> None:
        await self.contactor.release()
        await self.devices.close()
        for bus in self.buses.values():
            await bus.release()
        await self.wiring.stop()


async def make_monitor_env(
    config: StationConfig,
    *,
    dc: bool = False,
    thresholds: dict[str, float] | None = None,
    periods: MonitorPeriods | None = None,
) -> MonitorEnv:
    """Start ``config``'s buses and station devices on simulated wires, connector 1's
    contactor, and a monitor over them (``dc``: the door interlock of a DC station)."""
    clock = ManualClock()
    wiring = SimWiring(config)
    await wiring.start()
    hw = SimHardware.build(config, wiring)
    assert isinstance(hw.station, StationCircuits)
    buses: dict[str, Any] = {}
    for name, bus in config.buses.items():
        ctx = DriverContext(wiring, 0, bus.key, {}, time.monotonic)
        buses[name] = driver_class(f"bus.{bus.kind}", bus.driver)(bus.params, ctx)
        await buses[name].start()
    devices = StationDevices.build(config, wiring, buses, clock.monotonic)
    await devices.start()
    contactor_cfg = config.connector(1).devices["contactor"]
    contactor = driver_class("contactor", "gpio")(
        contactor_cfg.params, DriverContext(wiring, 1, contactor_cfg.key, {}, clock.monotonic)
    )
    await contactor.start()
    safety = Safety()
    safety.attach(1, contactor)
    catalogue = default_catalogue().with_thresholds(thresholds or {})
    faults = FaultBook(catalogue, 0, dc=dc, now=clock.now)
    stopped: list[str] = []
    changes: list[int] = []
    monitor = StationMonitor(
        devices, safety, faults, catalogue.thresholds,
        stop_sessions=stopped.append,
        on_change=lambda: changes.append(1),
        door_interlock=dc,
        clock=clock,
        periods=periods or MonitorPeriods(),
    )
    return MonitorEnv(clock, wiring, hw.station, devices, contactor, safety, faults,
                      monitor, buses, stopped, changes)

"""Latency from an EV current request to the power modules' new set-point on the CAN bus.

    .venv/bin/python bench/dc_setpoint.py [--runs 500]

The example DC station's CCS connector (hal_sim/stations/dc.toml) with the real CAN bus
owner, module pool and module-group stack on the simulator's virtual CAN bus, its
simulated InfyPower modules answering and the pool polling them as in a station. A DC
session (firmware.session.dc_session) is brought to CHARGING; then the EV asks for a new current
over and over. Each run measures from just before the EvUpdate is handed to the session
to the moment the last module's set-point frame (command 0x1C) is sent on the bus (the
virtual bus stamps each frame when it is sent). Between session and driver the actions
go through one ordered command worker, as firmware/connector/dc_control.py runs them.

Target (development machine): p99 <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import struct
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.context import DriverContext
from drivers.infypower import CMD_SET, FrameId
from drivers.interfaces import EvStatus
from drivers.module_group import ModuleGroupStack
from drivers.registry import driver_class
from firmware.config import load_station
from firmware.session.ac_session import create_session
from firmware.session.dc_session import DcPhase, DcSession
from firmware.session.events import (
    Action,
    Authorized,
    EvUpdate,
    ImdSelfTestDone,
    InsulationMeasured,
    OutputMeasured,
    PilotChanged,
    StackSetpoint,
)
from firmware.session.pilot_detector import PilotState
from hal_sim.sim_wiring import SimWiring

STATION = Path(__file__).resolve().parent.parent / "hal_sim" / "stations" / "dc.toml"
CID = 1
EV = EvStatus(connected=True, ready=True, target_voltage_v=400.0, target_current_a=50.0,
              max_voltage_v=450.0, max_current_a=125.0, battery_voltage_v=380.0,
              power_delivery=True)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def to_charging(session: DcSession) -> None:
    t = 1000.0
    for event in (PilotChanged(PilotState.B), EvUpdate(dataclasses.replace(EV, ready=False)),
                  Authorized("BENCH"), EvUpdate(EV), OutputMeasured(0.0, 0.0),
                  ImdSelfTestDone(True), OutputMeasured(500.0, 0.0),
                  InsulationMeasured(5e6), OutputMeasured(380.0, 0.0)):
        session.handle(event, t)
    if session.phase is not DcPhase.CHARGING:
        raise RuntimeError(f"session did not reach charging ({session.phase})")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = load_station(STATION)
    wiring = SimWiring(config)
    pool_cfg = config.devices["power_modules"]
    stack_cfg = config.connector(CID).devices["power_stack"]
    can_name = str(stack_cfg.params["bus"])
    can_cfg = config.buses[can_name]
    buses: dict[str, Any] = {}

    def ctx(where: str, cid: int = 0) -> DriverContext:
        return DriverContext(wiring, cid, where, buses)

    buses[can_name] = driver_class("bus.can", can_cfg.driver)(can_cfg.params, ctx(can_cfg.key))
    pool = driver_class("power_modules", pool_cfg.driver)(pool_cfg.params, ctx(pool_cfg.key))
    stack = ModuleGroupStack(stack_cfg.params, ctx(stack_cfg.key, CID))
    await wiring.start()
    listener = wiring.can_bus("virtual", str(can_cfg.params["channel"]), 125000)
    await buses[can_name].start()
    await stack.start()
    await pool.start()
    modules = set(stack.modules)

    # One ordered worker between session and driver, as DcControl runs stack commands.
    commands: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()

    async def worker() -> None:
        while True:
            await (await commands.get())()

    def setpoint(volts: float, amps: float) -> Callable[[], Awaitable[None]]:
        return lambda: stack.set_output(volts, amps)

    def execute(actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, StackSetpoint):
                commands.put_nowait(setpoint(action.voltage_v, action.current_a))

    def drain() -> None:
        while listener.recv(0) is not None:
            pass

    def frames_for(milliamps: int, deadline: float) -> float | None:
        """Blocking (thread): the send time of the last module's set-point frame."""
        seen: dict[int, float] = {}
        while time.time() < deadline:
            msg = listener.recv(0.05)
            if msg is None:
                continue
            fid = FrameId.parse(msg.arbitration_id)
            if fid.command != CMD_SET or fid.source != pool.protocol.controller:
                continue
            if struct.unpack(">II", bytes(msg.data))[1] == milliamps:
                seen[fid.destination] = msg.timestamp
                if set(seen) >= modules:
                    return max(seen.values())
        return None

    session = create_session(config.connector(CID).kind, config.connector(CID).max_current_a,
                             max_voltage_v=config.connector(CID).max_voltage_v or 920.0,
                             max_power_w=config.connector(CID).max_power_w)
    assert isinstance(session, DcSession)
    to_charging(session)
    latencies: list[float] = []
    task = asyncio.create_task(worker())
    try:
        for run in range(args.runs):
            amps = 20.0 + (run % 40) + 0.5  # a new request every run
            share_ma = round(amps / len(modules) * 1000)
            await asyncio.to_thread(drain)
            t0 = time.time()
            execute(session.handle(EvUpdate(dataclasses.replace(EV, target_current_a=amps)),
                                   1000.0 + run))
            sent = await asyncio.to_thread(frames_for, share_ma, t0 + 2.0)
            if sent is None:
                raise RuntimeError(f"run {run}: no set-point frames for {amps} A")
            latencies.append((sent - t0) * 1000)
            await asyncio.sleep(0.002)  # let the pool's polling interleave, as in a station
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        listener.shutdown()
        await stack.release()
        await pool.release()
        await buses[can_name].release()
        await wiring.stop()
    print(
        f"EV current request -> set-point frames on the CAN bus ({len(modules)} modules): "
        f"p50 {percentile(latencies, 50):.2f} ms, p99 {percentile(latencies, 99):.2f} ms, "
        f"max {max(latencies):.2f} ms over {len(latencies)} runs (target p99 <= 10 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())

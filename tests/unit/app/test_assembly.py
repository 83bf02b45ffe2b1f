"""The one assembly (firmware.app.assembly): the station is built complete before
anything runs or any listener fires, the persisted state is applied last, and the
runtime's run owns the TaskGroup (a Reset is a request the runtime's owner acts on)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware.app.assembly import StationRuntime
from firmware.config import StationConfig, load_station
from firmware.session.events import ChargePointStatus
from hal_sim.simulator import Simulation
from tests.support.paths import TEST_STATIONS


@pytest.fixture
def config() -> StationConfig:
    return load_station(TEST_STATIONS / "ac_test.toml")


@pytest.fixture
async def sim(config: StationConfig) -> AsyncIterator[Simulation]:
    simulation = await Simulation.create(config)
    try:
        yield simulation
    finally:
        await simulation.close()


async def test_building_runs_nothing_and_applies_the_persisted_state_last(
    tmp_path: Path, config: StationConfig, sim: Simulation
) -> None:
    first = StationRuntime(config, sim.wiring, state_dir=tmp_path, csms_url=None)
    assert await first.ops.change_availability(1, False) == "Accepted"
    first.close()

    runtime = StationRuntime(config, sim.wiring, state_dir=tmp_path, csms_url=None)
    try:
        assert not runtime.started.is_set() and not runtime.tasks.running
        # The persisted Inoperative went through the listeners only once all parts existed:
        # connector 1's change reached connector 0's status and the authorization flow.
        assert runtime.connectors[1].session.status is ChargePointStatus.UNAVAILABLE
        assert runtime.connectors[2].session.status is ChargePointStatus.AVAILABLE
        assert runtime.station.status_of(0).status == "Available"
        # Built complete: every part the station answers with is the assembly's own.
        station = runtime.station
        assert station.flow is runtime.flow and station.ops is runtime.ops
        assert station.connectors is runtime.connectors
    finally:
        runtime.close()


async def test_run_owns_the_tasks_and_a_reset_is_a_request(
    tmp_path: Path, config: StationConfig, sim: Simulation
) -> None:
    runtime = StationRuntime(config, sim.wiring, state_dir=tmp_path, csms_url=None)
    running = asyncio.create_task(runtime.run())
    try:
        await asyncio.wait_for(runtime.started.wait(), 10)
        assert runtime.tasks.running
        assert await runtime.ops.reset(hard=False)
        runtime.ops.start_reset(hard=False)
        assert await asyncio.wait_for(runtime.restart.wait(), 10) is False
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        runtime.close()
    assert not runtime.tasks.running  # the group ended: nothing is spawned into it any more
    assert all(not c.devices.contactor.commanded_closed for c in runtime.connectors.values())

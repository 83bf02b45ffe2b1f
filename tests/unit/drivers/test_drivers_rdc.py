"""Contract tests of the RDC-DD driver (RdcDd): DC reading, trip, self-test, reset."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.interfaces import RcdFault
from drivers.interfaces_station import SensorFault

if TYPE_CHECKING:
    from tests.support.station_fixtures import RdcRig

pytest_plugins = ("tests.support.station_fixtures",)


async def test_no_leakage_reads_about_zero(rdc_rig: RdcRig) -> None:
    assert rdc_rig.rdc.tripped is False
    assert await rdc_rig.rdc.read_dc_leakage_ma() == pytest.approx(0.0, abs=0.5)
    assert rdc_rig.rdc.fault is None


async def test_reading_follows_the_residual_current(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("set_leak")
    rig.leak(3.2)
    assert await rig.rdc.read_dc_leakage_ma() == pytest.approx(3.2, abs=0.05)
    assert rig.rdc.dc_leakage_ma == pytest.approx(3.2, abs=0.05)
    assert rig.rdc.tripped is False  # below 6 mA: no trip


async def test_dc_leakage_trips_latches_and_resets(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("leak")
    seen: list[bool] = []
    rig.rdc.subscribe(seen.append)
    rig.leak(8.5)
    await rig.eventually(lambda: seen == [True])
    assert await rig.rdc.read_dc_leakage_ma() >= 6.0
    assert rig.rdc.fault is RcdFault.DC_LEAKAGE
    with pytest.raises(DeviceFaulted) as raised:  # still leaking: the reset must fail
        await rig.rdc.reset()
    assert raised.value.fault is RcdFault.DC_LEAKAGE
    rig.leak(0.0)
    assert rig.rdc.tripped is True  # latched until reset
    await rig.rdc.reset()
    assert rig.rdc.tripped is False
    assert seen == [True, False]


async def test_ac_trip_is_reported_as_ac(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("trip_ac")
    rig.circuit.trip()
    await rig.eventually(lambda: rig.rdc.tripped)
    await rig.rdc.read_dc_leakage_ma()
    assert rig.rdc.fault is RcdFault.TRIPPED_AC


async def test_self_test_passes_and_leaves_it_reset(rdc_rig: RdcRig) -> None:
    seen: list[bool] = []
    rdc_rig.rdc.subscribe(seen.append)
    await rdc_rig.rdc.self_test()
    assert rdc_rig.rdc.tripped is False
    await rdc_rig.eventually(lambda: seen == [True, False])


async def test_broken_test_current_fails_the_self_test(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("break_test")
    rig.circuit.test_broken = True
    with pytest.raises(DeviceFaulted) as raised:
        await rig.rdc.self_test()
    assert raised.value.fault is RcdFault.SELF_TEST_FAILED


async def test_trip_wire_stuck_fails_the_self_test(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("stick_trip")
    rig.circuit.stuck_tripped = True
    rig.circuit.set_dc_leakage(0.0)  # re-drive the wires
    await rig.eventually(lambda: rig.rdc.tripped)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.rdc.self_test()
    assert raised.value.fault is RcdFault.SELF_TEST_FAILED


async def test_dead_measurement_output_fails_the_self_test(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("output")
    rig.circuit.output_override_v = 0.0  # trips, but the output never shows the current
    rig.circuit.set_dc_leakage(0.0)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.rdc.self_test()
    assert raised.value.fault is RcdFault.SELF_TEST_FAILED
    assert "mA of test current" in str(raised.value)


async def test_output_out_of_range_is_a_sensor_fault(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("output")
    rig.circuit.output_override_v = 3.9  # above the module's 3.3 V: broken
    rig.circuit.set_dc_leakage(0.0)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.rdc.read_dc_leakage_ma()
    assert raised.value.fault is SensorFault.OUT_OF_RANGE


async def test_silent_adc_raises_and_ends_run(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("silence")
    adc = rig.circuit.adc
    assert adc is not None
    adc.silent = True
    with pytest.raises(DeviceSilent):
        await rig.rdc.read_dc_leakage_ma()
    with pytest.raises(DeviceSilent):
        await asyncio.wait_for(rig.rdc.run(), 3.0)  # three failures in a row
    adc.silent = False
    assert await rig.rdc.read_dc_leakage_ma() == pytest.approx(0.0, abs=0.5)


async def test_run_keeps_the_reading_fresh(rdc_rig: RdcRig) -> None:
    rig = rdc_rig
    rig.require("set_leak")
    task = asyncio.create_task(rig.rdc.run())
    try:
        rig.leak(2.0)
        await rig.eventually(lambda: (rig.rdc.dc_leakage_ma or 0.0) > 1.9)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_the_rdc_dd_declares_itself_as_its_dc_monitor(rdc_rig: RdcRig) -> None:
    """The capability the connector checks and the station supervision use: the DC
    reading, the reset and the task keeping the reading fresh, all through the accessor."""
    rig = rdc_rig
    rig.require("leak")
    dc = rig.rdc.dc_monitor()
    assert dc is rig.rdc
    rig.leak(8.5)
    await rig.eventually(lambda: dc.tripped)
    assert await dc.read_dc_leakage_ma() >= 6.0
    rig.leak(0.0)
    await dc.reset()
    assert dc.tripped is False

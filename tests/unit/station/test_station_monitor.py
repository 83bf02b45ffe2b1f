"""The station monitor on real drivers over simulated wires: doors, stop button,
temperature, tilt, grid, modem and reader faults reach the station's fault book and the
safety supervisor as the catalogue says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import MappingProxyType

import pytest

from drivers.interfaces import MeterReading
from firmware.config.model import (
    ConnectorConfig,
    ConnectorKind,
    Identity,
    StationConfig,
)
from firmware.safety.fault_catalogue import Condition
from firmware.safety.gate import InterlockOpen
from firmware.station.monitor import MonitorPeriods
from tests.support.monitor_env import MonitorEnv, make_monitor_env
from tests.support.station_configs import dev, rig_station


def monitor_station() -> StationConfig:
    """The rig station's devices plus an NFC reader, and one connector with a contactor."""
    base = rig_station()
    devices = dict(base.devices)
    devices["token_reader"] = dev("token_reader", "nfcpy", "devices.token_reader",
                                  device="tty:AMA0:pn532", lost_after_s=1.0)
    connector = ConnectorConfig(1, ConnectorKind.TYPE2_CABLE, 32, devices=MappingProxyType({
        "contactor": dev("contactor", "gpio", "connectors[1].contactor", pin=17),
    }))
    return StationConfig(
        path=Path("monitor.toml"),
        identity=Identity("TEST-MON-1", "Test", "Monitor"),
        max_grid_power_w=44000,
        connectors=(connector,),
        buses=base.buses,
        devices=MappingProxyType(devices),
    )


Env = MonitorEnv
PERIODS = MonitorPeriods(supervise_s=0.01, temperature_s=0.01, tilt_s=0.01, modem_s=0.05,
                         door_closed_hold_s=2.0)


@pytest.fixture(params=[True, False], ids=["dc", "ac"])
async def env(request: pytest.FixtureRequest) -> AsyncIterator[Env]:
    environment = await make_monitor_env(monitor_station(), dc=request.param, periods=PERIODS)
    try:
        yield environment
    finally:
        await environment.close()


@pytest.fixture
async def dc_env(env: Env) -> Env:
    if not env.faults._dc:
        pytest.skip("DC station behaviour")
    return env


async def settle() -> None:
    """Let input edges reach the loop (gpiozero mock pins call back at once; the
    drivers hand the edge over with call_soon_threadsafe)."""
    for _ in range(3):
        await asyncio.sleep(0)


def close_contactor(env: Env) -> None:
    env.safety.close(1)
    assert env.contactor.commanded_closed


# ------------------------------------------------------------------ doors


async def test_door_opening_makes_everything_safe_and_blocks(env: Env) -> None:
    env.monitor._subscribe()
    close_contactor(env)
    doors = env.sim.doors
    assert doors is not None
    doors.set_open(2, True)
    await settle()
    assert env.contactor.commanded_closed is False  # power first ...
    assert env.codes() == {"1001"}  # ... then the report: door opened
    assert env.changes
    with pytest.raises(InterlockOpen) as refused:
        env.safety.close(1)
    names = {name for name, _ in refused.value.failing}
    assert "station_faults" in names
    assert ("door" in names) is env.faults._dc  # DC: the doors are an interlock of their own


async def test_door_closing_reports_1000_for_a_moment(env: Env) -> None:
    env.monitor._subscribe()
    doors = env.sim.doors
    assert doors is not None
    doors.set_open(1, True)
    await settle()
    doors.set_open(1, False)
    await settle()
    assert env.codes() == {"1000"}
    env.monitor.supervise()
    assert env.codes() == {"1000"}  # still within the hold time
    env.clock.advance(2.5)
    env.monitor.supervise()
    assert env.codes() == set()
    close_contactor(env)


async def test_door_open_at_start_is_seen(env: Env) -> None:
    doors = env.sim.doors
    assert doors is not None
    doors.break_wire(1)  # a broken door wire reads open
    await settle()
    env.monitor._subscribe()
    assert env.faults.is_active(Condition.DOOR_OPENED)


# ------------------------------------------------------------------ stop button


async def test_stop_button_stops_everything(dc_env: Env) -> None:
    env = dc_env
    env.monitor._subscribe()
    close_contactor(env)
    button = env.sim.stop_button
    assert button is not None
    button.press()
    await settle()
    assert env.contactor.commanded_closed is False
    assert env.stopped == ["EmergencyStop"]
    with pytest.raises(InterlockOpen):
        env.safety.close(1)
    button.release_button()
    await settle()
    close_contactor(env)


# ------------------------------------------------------------------ temperature, tilt


async def test_high_temperature_derates_and_clears_below_hysteresis(env: Env) -> None:
    sensor = env.sim.temperature
    assert sensor is not None
    sensor.temperature_c = 71.8
    await env.monitor.poll_temperature()
    active = env.faults.active
    assert [f.fault.code for f in active] == ["401"]
    assert active[0].info == "Temperature inside charger > 70.0, actual 71.8."
    assert env.monitor.derate_a() == 6.0
    close_contactor(env)  # a derate does not block
    sensor.temperature_c = 67.0
    await env.monitor.poll_temperature()
    assert env.codes() == {"401"}  # not 5 degrees below yet
    sensor.temperature_c = 64.0
    await env.monitor.poll_temperature()
    assert env.codes() == set()
    assert env.monitor.derate_a() is None


async def test_low_temperature_blocks(env: Env) -> None:
    sensor = env.sim.temperature
    assert sensor is not None
    close_contactor(env)
    sensor.temperature_c = -45.0
    await env.monitor.poll_temperature()
    assert env.codes() == {"402"}
    assert env.contactor.commanded_closed is False
    with pytest.raises(InterlockOpen):
        env.safety.close(1)


async def test_silent_temperature_sensor_is_a_device_problem(env: Env) -> None:
    sensor = env.sim.temperature
    assert sensor is not None
    sensor.silent = True
    await env.monitor.poll_temperature()
    assert env.monitor.temperature_c is None
    assert "temperature" in env.monitor.device_problems
    sensor.silent = False
    await env.monitor.poll_temperature()
    assert env.monitor.temperature_c == pytest.approx(25.0, abs=0.01)
    assert env.monitor.device_problems == {}


async def test_tilt_warns_with_the_raw_axes(env: Env) -> None:
    tilt = env.sim.tilt
    assert tilt is not None
    tilt.set_tilt(14.0)
    await env.monitor.poll_tilt()
    [fault] = env.faults.active
    x, y, z = tilt.counts()
    assert fault.fault.code == "407"
    assert fault.info == f"Charger tilted actual {x}/{y}/{z}."
    close_contactor(env)  # a warning only
    tilt.set_tilt(9.0)  # inside the hysteresis
    await env.monitor.poll_tilt()
    assert env.codes() == {"407"}
    tilt.set_tilt(2.0)
    await env.monitor.poll_tilt()
    assert env.codes() == set()


# ------------------------------------------------------------------ grid


def grid(*volts: float, hz: float = 50.0) -> MeterReading:
    return MeterReading(energy_import_wh=0.0, power_w=0.0, voltage_v=volts, frequency_hz=hz)


async def test_undervoltage_and_missing_phase_from_the_meter(env: Env) -> None:
    close_contactor(env)
    for _ in range(2):
        env.monitor.on_meter_reading(1, 3, grid(189.0, 230.0, 230.0))
    assert env.contactor.commanded_closed is False
    [fault] = env.faults.active
    assert (fault.fault.code, fault.info) == ("202", "Installer check voltage levels "
                                                     "installation:189V.")
    for _ in range(2):
        env.monitor.on_meter_reading(1, 3, grid(230.0, 0.0, 230.0))
    assert env.codes() == {"212"}
    assert env.faults.active[0].info == "Missing phase L2 in installation."
    for _ in range(2):
        env.monitor.on_meter_reading(1, 3, grid(230.0, 231.0, 229.0))
    assert env.codes() == set()
    close_contactor(env)


async def test_overvoltage_and_frequency_warning(env: Env) -> None:
    for _ in range(2):
        env.monitor.on_meter_reading(1, 3, grid(280.0, 230.0, 230.0, hz=48.5))
    assert env.codes() == {"208"}
    assert 1 in env.monitor.grid_warnings


# ------------------------------------------------------------------ modem, reader


async def test_mobile_info_for_the_ocpp_keys(env: Env) -> None:
    await env.monitor.poll_modem()
    assert env.monitor.mobile_info() == {
        "MobileRSSI": "-73",
        "MobileProvider": "Vodafone.de",
        "MobileConnectionStandard": "4G",
        "iccid": "89490200001234567890",
        "imsi": "262021234567890",
    }
    modem = env.sim.modem
    assert modem is not None
    modem.silent = True
    await env.monitor.poll_modem()
    assert env.monitor.mobile_info() == {"iccid": "89490200001234567890",
                                         "imsi": "262021234567890"}
    assert "modem" in env.monitor.device_problems


async def test_reader_lost_raises_109(env: Env) -> None:
    reader = env.devices.token_reader
    assert reader is not None
    task = asyncio.create_task(reader.run())
    try:
        clf = env.sim.reader
        assert clf is not None
        clf.unplug()
        await asyncio.sleep(0.05)
        env.clock.advance(1.5)
        async with asyncio.timeout(3.0):
            while reader.fault is None:
                await asyncio.sleep(0.01)
        env.monitor.supervise()
        assert env.codes() == {"109"}
        clf.replug()
        async with asyncio.timeout(3.0):
            while reader.fault is not None:
                await asyncio.sleep(0.01)
        env.monitor.supervise()
        assert env.codes() == set()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# ------------------------------------------------------------------ running


async def test_run_polls_every_device_until_cancelled(env: Env) -> None:
    sensor = env.sim.temperature
    assert sensor is not None
    sensor.temperature_c = 75.0
    task = asyncio.create_task(env.monitor.run())
    try:
        async with asyncio.timeout(5.0):
            while not (env.faults.is_active(Condition.HIGH_TEMPERATURE)
                       and env.monitor.mobile_info() and env.monitor.tilt is not None):
                await asyncio.sleep(0.01)
        state = env.monitor.state()
        assert state["temperature_c"] == pytest.approx(75.0, abs=0.01)
        assert state["doors_open"] == [] and state["stop_button"] is False
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

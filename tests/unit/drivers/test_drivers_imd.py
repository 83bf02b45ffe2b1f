"""Contract tests of the Bender isoCHA425HV driver over Modbus RTU, with its alarm relay."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceFaulted, DeviceSilent
from drivers.imd_bender import (
    REG_ALARM_KOHM,
    REG_PREALARM_KOHM,
    BenderAlarm,
    BenderTest,
    BenderValidity,
    decode_channel,
    encode_channel,
)
from drivers.interfaces import ImdFault

if TYPE_CHECKING:
    from tests.support.station_fixtures import ImdRig

pytest_plugins = ("tests.support.station_fixtures",)


def test_channel_encoding_round_trips() -> None:
    regs = encode_channel(123456.5, alarm=5, test=2, unit=2, validity=2, description=71)
    channel = decode_channel(regs)
    assert channel.value == pytest.approx(123456.5)
    assert (channel.alarm, channel.test) == (BenderAlarm.ALARM, BenderTest.EXTERNAL)
    assert (channel.unit, channel.validity, channel.description) == (
        2, BenderValidity.BIGGER, 71
    )


async def test_thresholds_are_written_at_start(imd_rig: ImdRig) -> None:
    imd_rig.require("set_ohm")
    writes = dict(imd_rig.model.writes)
    assert writes[REG_PREALARM_KOHM] == [500]
    assert writes[REG_ALARM_KOHM] == [100]


async def test_healthy_insulation(imd_rig: ImdRig) -> None:
    ohm = await imd_rig.imd.resistance_ohm()
    assert ohm > 500e3
    assert imd_rig.imd.alarm is False


async def test_insulation_fault_reads_low_and_trips_the_relay(imd_rig: ImdRig) -> None:
    rig = imd_rig
    rig.require("fault")
    seen: list[bool] = []
    rig.imd.subscribe(seen.append)
    rig.insulation_fault(True)
    await rig.eventually(lambda: seen == [True])
    assert await rig.imd.resistance_ohm() < 100e3
    assert rig.imd.alarm is True
    assert rig.imd.last is not None and rig.imd.last.alarm == BenderAlarm.ALARM
    rig.insulation_fault(False)
    await rig.eventually(lambda: seen == [True, False])


async def test_self_test_passes(imd_rig: ImdRig) -> None:
    seen: list[bool] = []
    imd_rig.imd.subscribe(seen.append)
    await imd_rig.imd.self_test()
    assert seen == []  # the relay holds still during the test
    if "set_ohm" in imd_rig.capabilities:
        assert imd_rig.model.self_tests == 1


async def test_failing_self_test(imd_rig: ImdRig) -> None:
    rig = imd_rig
    rig.require("break_self_test")
    rig.model.self_test_fails = True
    with pytest.raises(DeviceFaulted) as raised:
        await rig.imd.self_test()
    assert raised.value.fault is ImdFault.SELF_TEST_FAILED
    await rig.eventually(lambda: rig.imd.alarm)  # a device error opens the relay too


async def test_silent_device(imd_rig: ImdRig) -> None:
    rig = imd_rig
    rig.require("silence")
    rig.model.silent = True
    with pytest.raises(DeviceSilent):
        await rig.imd.resistance_ohm()
    with pytest.raises(DeviceFaulted) as raised:  # the self-test reports it as a failure
        await rig.imd.self_test()
    assert raised.value.fault is ImdFault.SELF_TEST_FAILED
    rig.model.silent = False
    assert await rig.imd.resistance_ohm() > 500e3


async def test_device_error_and_impossible_values(imd_rig: ImdRig) -> None:
    rig = imd_rig
    rig.require("device_error")
    rig.model.device_error = True
    with pytest.raises(DeviceFaulted) as raised:
        await rig.imd.resistance_ohm()
    assert raised.value.fault is ImdFault.DEVICE_ERROR
    rig.model.device_error = False
    rig.model.set_insulation(-5.0)  # out of range: a broken measurement
    with pytest.raises(DeviceFaulted) as raised:
        await rig.imd.resistance_ohm()
    assert raised.value.fault is ImdFault.DEVICE_ERROR


async def test_broken_relay_wire_reads_alarm(imd_rig: ImdRig) -> None:
    rig = imd_rig
    rig.require("break_relay")
    rig.circuit.relay_broken = True
    await rig.eventually(lambda: rig.imd.alarm)

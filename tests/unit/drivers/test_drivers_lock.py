"""Contract tests of the cable lock driver (HBridgeLock) on a lock rig (short pulses), and
of its motor-current sensing on a rig whose lock has it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceFaulted
from drivers.interfaces import LockFault

if TYPE_CHECKING:
    from tests.support.sim_fixtures import LockRig

pytest_plugins = ("tests.support.sim_fixtures",)


async def test_starts_unlocked(lock_rig: LockRig) -> None:
    assert lock_rig.lock.locked is False


async def test_lock_and_unlock(lock_rig: LockRig) -> None:
    await lock_rig.lock.lock()
    assert lock_rig.lock.locked is True
    if lock_rig.can("sense"):
        assert lock_rig.physically_locked()
    await lock_rig.lock.unlock()
    assert lock_rig.lock.locked is False
    if lock_rig.can("sense"):
        assert not lock_rig.physically_locked()


async def test_already_in_position_does_not_pulse(lock_rig: LockRig) -> None:
    lock_rig.require("jam")
    await lock_rig.lock.lock()
    lock_rig.jam(True)  # a pulse now could not succeed: returning proves none was sent
    await lock_rig.lock.lock()
    assert lock_rig.lock.locked is True


async def test_jammed_lock_faults_after_the_retries(lock_rig: LockRig) -> None:
    lock_rig.require("jam")
    lock_rig.jam(True)
    with pytest.raises(DeviceFaulted) as raised:
        await lock_rig.lock.lock()
    assert raised.value.fault is LockFault.NO_FEEDBACK
    assert lock_rig.lock.locked is False


async def test_jammed_while_locked_cannot_unlock(lock_rig: LockRig) -> None:
    lock_rig.require("jam")
    await lock_rig.lock.lock()
    lock_rig.jam(True)
    with pytest.raises(DeviceFaulted) as raised:
        await lock_rig.lock.unlock()
    assert raised.value.fault is LockFault.NO_FEEDBACK
    assert lock_rig.lock.locked is True
    lock_rig.jam(False)
    await lock_rig.lock.unlock()  # freed: works again
    assert lock_rig.lock.locked is False


async def test_never_drives_both_directions(lock_rig: LockRig) -> None:
    lock_rig.require("shoot_through_counter")
    for _ in range(3):
        await lock_rig.lock.lock()
        await lock_rig.lock.unlock()
    assert lock_rig.both_driven() == 0


# ------------------------------------------------------------------ motor-current sensing


async def test_sensing_lock_and_unlock(sensing_lock_rig: LockRig) -> None:
    rig = sensing_lock_rig
    await rig.lock.lock()
    assert rig.lock.locked is True
    if rig.can("sense"):
        assert rig.physically_locked()
    await rig.lock.unlock()
    assert rig.lock.locked is False
    assert rig.lock.last_current_a is not None  # the motor current was sampled
    if rig.can("watch_drive"):
        assert not rig.motor_driven()


async def test_sensing_stops_the_pulse_at_the_end_position(sensing_lock_rig: LockRig) -> None:
    rig = sensing_lock_rig
    rig.require("watch_drive")
    await rig.lock.lock()
    # The switch reported locked after the travel (40 ms on the test station): the drive
    # went off then, not after the full pulse (600 ms) spent stalling at the end stop. A
    # timed pulse is never shorter than its time, however late the loop runs; a watched
    # one would need a 560 ms stall of the loop to look like one (no timing judged here).
    assert rig.last_drive_s() < rig.pulse_s
    await rig.lock.unlock()
    assert rig.last_drive_s() < rig.pulse_s


async def test_open_load_faults_at_once(sensing_lock_rig: LockRig) -> None:
    rig = sensing_lock_rig
    rig.require("open_load")
    rig.open_load(True)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.lock.lock()
    assert raised.value.fault is LockFault.OPEN_LOAD
    assert rig.lock.locked is False
    if rig.can("watch_drive"):
        assert not rig.motor_driven()
    rig.open_load(False)
    await rig.lock.lock()  # reconnected: works again
    assert rig.lock.locked is True
    await rig.lock.unlock()


async def test_blocked_pin_is_over_current_and_the_motor_goes_off(
    sensing_lock_rig: LockRig,
) -> None:
    rig = sensing_lock_rig
    rig.require("block")
    rig.block(True)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.lock.lock()
    assert raised.value.fault is LockFault.OVER_CURRENT
    if rig.can("watch_drive"):
        assert not rig.motor_driven()  # off when the fault is raised, not after the pulse
    if rig.can("shoot_through_counter"):
        assert rig.both_driven() == 0
    assert rig.lock.locked is False
    rig.block(False)
    await rig.lock.lock()
    await rig.lock.unlock()
    if rig.can("shoot_through_counter"):
        assert rig.both_driven() == 0


async def test_blocked_while_locked_cannot_unlock(sensing_lock_rig: LockRig) -> None:
    rig = sensing_lock_rig
    rig.require("block")
    await rig.lock.lock()
    rig.block(True)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.lock.unlock()
    assert raised.value.fault is LockFault.OVER_CURRENT
    assert rig.lock.locked is True
    rig.block(False)
    await rig.lock.unlock()
    assert rig.lock.locked is False


async def test_sensing_jammed_lock_is_still_no_feedback(sensing_lock_rig: LockRig) -> None:
    """Current fine, but the switch never follows: the retries, then NO_FEEDBACK."""
    rig = sensing_lock_rig
    rig.require("jam")
    rig.jam(True)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.lock.lock()
    assert raised.value.fault is LockFault.NO_FEEDBACK


async def test_cancelled_pulse_leaves_the_motor_off(sensing_lock_rig: LockRig) -> None:
    rig = sensing_lock_rig
    rig.require("watch_drive")
    task = asyncio.create_task(rig.lock.lock())
    await rig.eventually(rig.motor_driven)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not rig.motor_driven()


async def test_without_sensing_the_pulse_is_timed_and_unwatched(lock_rig: LockRig) -> None:
    """No ``bus``: no current is read, an open motor wire shows only as the switch not
    following (NO_FEEDBACK after the retries), as before current sensing existed."""
    rig = lock_rig
    assert not rig.lock.senses_current
    rig.require("open_load")
    rig.open_load(True)
    with pytest.raises(DeviceFaulted) as raised:
        await rig.lock.lock()
    assert raised.value.fault is LockFault.NO_FEEDBACK
    assert rig.lock.last_current_a is None

"""Contract tests of the cable lock driver (HBridgeLock) on a lock rig (short pulses)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceFaulted
from drivers.interfaces import LockFault

if TYPE_CHECKING:
    from tests.sim_fixtures import LockRig

pytest_plugins = ("tests.sim_fixtures",)


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

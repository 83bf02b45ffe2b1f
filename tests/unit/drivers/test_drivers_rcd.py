"""Contract tests of the RCD driver (GpioRcd) on an RCD rig."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceFaulted
from drivers.interfaces import RcdFault

if TYPE_CHECKING:
    from tests.support.sim_fixtures import RcdRig

pytest_plugins = ("tests.support.sim_fixtures",)


async def test_starts_not_tripped(rcd_rig: RcdRig) -> None:
    assert rcd_rig.rcd.tripped is False
    assert rcd_rig.rcd.dc_leakage_ma is None


async def test_trip_and_clear_reach_the_subscriber(rcd_rig: RcdRig) -> None:
    rcd_rig.require("trip")
    seen: list[bool] = []
    rcd_rig.rcd.subscribe(seen.append)
    rcd_rig.trip()
    await rcd_rig.eventually(lambda: seen == [True])
    assert rcd_rig.rcd.tripped is True
    rcd_rig.reset()
    await rcd_rig.eventually(lambda: seen == [True, False])
    assert rcd_rig.rcd.tripped is False


async def test_self_test_passes(rcd_rig: RcdRig) -> None:
    if not rcd_rig.has_test_pin:
        pytest.skip("rig without a test pin")
    seen: list[bool] = []
    rcd_rig.rcd.subscribe(seen.append)
    await rcd_rig.rcd.self_test()
    assert rcd_rig.rcd.tripped is False
    await rcd_rig.eventually(lambda: seen == [True, False])  # the test trip was seen


async def test_broken_self_test_faults(rcd_rig: RcdRig) -> None:
    rcd_rig.require("break_test")
    rcd_rig.break_test(True)
    with pytest.raises(DeviceFaulted) as raised:
        await rcd_rig.rcd.self_test()
    assert raised.value.fault is RcdFault.SELF_TEST_FAILED


async def test_self_test_refused_while_tripped(rcd_rig: RcdRig) -> None:
    rcd_rig.require("trip")
    rcd_rig.trip()
    with pytest.raises(DeviceFaulted) as raised:
        await rcd_rig.rcd.self_test()
    assert raised.value.fault is RcdFault.SELF_TEST_FAILED


async def test_a_plain_rcd_declares_no_dc_monitor(rcd_rig: RcdRig) -> None:
    """A trip contact only: no DC reading, no reset, no task of its own, so a trip is
    reported as 106 at once and nothing tries to reset it."""
    assert rcd_rig.rcd.dc_monitor() is None

"""Contract tests of the contactor driver (GpioContactor) on a contactor rig.

The settle time runs on the rig's manual clock: the mechanics move in real time (the
rig's ``settle()`` waits for them), the driver's judgement of "too long" moves only when
the test advances the clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.interfaces import ContactorFault

if TYPE_CHECKING:
    from tests.support.sim_fixtures import ContactorRig

pytest_plugins = ("tests.support.sim_fixtures",)


def past_settle(rig: ContactorRig) -> None:
    rig.clock.advance(rig.contactor.settle_s + 0.001)


async def test_starts_open_without_fault(contactor_rig: ContactorRig) -> None:
    c = contactor_rig.contactor
    assert c.commanded_closed is False
    assert c.feedback_closed is False
    past_settle(contactor_rig)
    assert c.fault() is None


async def test_close_and_open_follow_with_feedback(contactor_rig: ContactorRig) -> None:
    rig = contactor_rig
    c = rig.contactor
    changes: list[bool] = []
    c.subscribe_feedback(changes.append)
    c.close()
    assert c.commanded_closed is True
    await rig.eventually(lambda: changes == [True])
    assert c.feedback_closed is True
    if rig.can("sense"):
        assert rig.physically_closed()
    past_settle(rig)
    assert c.fault() is None
    c.open()
    assert c.commanded_closed is False
    await rig.eventually(lambda: changes == [True, False])
    if rig.can("sense"):
        assert not rig.physically_closed()
    past_settle(rig)
    assert c.fault() is None


async def test_no_fault_while_the_contacts_are_still_moving(
    contactor_rig: ContactorRig,
) -> None:
    rig = contactor_rig
    rig.require("stick_open")
    rig.stick_open(True)
    rig.contactor.close()
    await rig.settle()
    assert rig.contactor.feedback_closed is False
    rig.clock.advance(rig.contactor.settle_s / 2)
    assert rig.contactor.fault() is None  # disagreement, but not for long enough yet


async def test_failed_to_close(contactor_rig: ContactorRig) -> None:
    rig = contactor_rig
    rig.require("stick_open")
    rig.stick_open(True)
    rig.contactor.close()
    await rig.settle()
    past_settle(rig)
    assert rig.contactor.fault() is ContactorFault.FAILED_TO_CLOSE


async def test_welded_after_open(contactor_rig: ContactorRig) -> None:
    rig = contactor_rig
    rig.require("weld")
    rig.contactor.close()
    await rig.eventually(lambda: rig.contactor.feedback_closed is True)
    past_settle(rig)
    rig.weld(True)
    rig.contactor.open()
    await rig.settle()
    assert rig.contactor.feedback_closed is True
    assert rig.contactor.fault() is None  # within the settle time of the open command
    past_settle(rig)
    assert rig.contactor.fault() is ContactorFault.WELDED


async def test_dropout_while_closed_is_caught_after_the_settle_time(
    contactor_rig: ContactorRig,
) -> None:
    # Closed long ago; the contacts then open by themselves (coil supply lost).
    rig = contactor_rig
    rig.require("stick_open")
    rig.contactor.close()
    await rig.eventually(lambda: rig.contactor.feedback_closed is True)
    rig.clock.advance(60.0)
    rig.stick_open(True)
    await rig.eventually(lambda: rig.contactor.feedback_closed is False)
    assert rig.contactor.fault() is None  # the disagreement has only just begun
    past_settle(rig)
    assert rig.contactor.fault() is ContactorFault.FAILED_TO_CLOSE
    rig.stick_open(False)  # contacts recover: agreement again, no fault
    await rig.eventually(lambda: rig.contactor.feedback_closed is True)
    assert rig.contactor.fault() is None


async def test_release_opens_the_contactor(contactor_rig: ContactorRig) -> None:
    rig = contactor_rig
    rig.require("sense")
    rig.contactor.close()
    await rig.eventually(rig.physically_closed)
    await rig.contactor.release()
    await rig.eventually(lambda: not rig.physically_closed())

"""The DC session's connector lock (firmware.session.dc_session.DcSession with ``has_lock``): locked
before anything can be energised, unlocked only when nothing is live on the cable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firmware.safety.fault_catalogue import Condition
from firmware.session.dc_session import DcPhase
from firmware.session.events import (
    Authorized,
    BeginTransaction,
    ChargePointStatus,
    CloseContactor,
    FaultRaised,
    Lock,
    LockResult,
    OpenContactor,
    OutputMeasured,
    PilotChanged,
    StackOff,
    StackOn,
    StopRequested,
    Unlock,
)
from firmware.session.pilot_detector import PilotState
from tests.conftest import DC_STATION
from tests.support.dc_rig import Rig as SessionRig
from tests.support.tc_harness import CARD_A, charging, demo_station, until_tx_id


class Rig(SessionRig):
    """A DC session on a connector with a lock (``has_lock=False``: without one)."""

    def __init__(self, has_lock: bool = True) -> None:
        super().__init__(has_lock=has_lock)


def test_locks_on_authorization_and_begins_only_when_locked() -> None:
    rig = Rig()
    rig(PilotChanged(PilotState.B))
    assert Lock() not in rig.ev(ready=False)  # plugged only: the plug stays free
    out = rig(Authorized("TAG"))
    assert Lock() in out
    assert not any(isinstance(a, BeginTransaction) for a in out)
    assert rig.s.status is ChargePointStatus.PREPARING
    out = rig(LockResult(True))
    assert any(isinstance(a, BeginTransaction) for a in out)


def test_lock_comes_before_any_power() -> None:
    rig = Rig()
    rig.to_charging()
    first_lock = rig.log.index(Lock())
    for action in (CloseContactor(), StackOn()):
        assert rig.log.index(action) > first_lock


def test_lock_failure_energises_nothing_and_a_new_card_retries() -> None:
    rig = Rig()
    rig.authorized()
    out = rig(LockResult(False))
    assert not any(isinstance(a, BeginTransaction | CloseContactor | StackOn) for a in out)
    assert Unlock() in out  # the pin out of the way again (nothing is live)
    rig.ev()  # the EV is ready: still nothing, no transaction
    rig(OutputMeasured(0.0, 0.0))
    assert not rig.s.transaction_active
    assert not any(isinstance(a, CloseContactor | StackOn) for a in rig.log)
    assert Lock() in rig(Authorized("TAG"))  # the next card tries again
    assert any(isinstance(a, BeginTransaction) for a in rig(LockResult(True)))


def test_unlocks_after_the_session_once_the_cable_is_dead() -> None:
    rig = Rig()
    rig.to_charging()
    rig(StopRequested("Local"))
    assert Unlock() not in rig(OutputMeasured(400.0, 0.5))  # ramped down: weld check
    assert rig.s.phase is DcPhase.WELD_CHECK
    rig.t += 1.0
    out = rig(OutputMeasured(20.0, 0.0))  # contactor open and the cable dead: done
    assert not rig.s.transaction_active
    assert Unlock() in out
    assert rig.s.ev_present  # the EV is still plugged: the driver may take the plug out


def test_a_fault_under_load_unlocks_only_when_the_voltage_is_gone() -> None:
    rig = Rig()
    rig.to_charging()
    rig(OutputMeasured(390.0, 90.0))
    out = rig(FaultRaised(str(Condition.INSULATION), True))
    assert out.index(StackOff()) < out.index(OpenContactor())
    assert Unlock() not in out  # the last reading was 390 V
    assert Unlock() not in rig(OutputMeasured(250.0, 0.0))
    assert Unlock() in rig(OutputMeasured(40.0, 0.0))


def test_without_a_lock_nothing_moves() -> None:
    rig = Rig(has_lock=False)
    out = rig.authorized()
    assert any(isinstance(a, BeginTransaction) for a in out)
    assert not any(isinstance(a, Lock | Unlock) for a in out)


def test_unplug_while_waiting_for_the_ev_unlocks() -> None:
    rig = Rig()
    rig.authorized()
    rig(LockResult(True))
    rig.ev(ready=False)
    assert Unlock() in rig(PilotChanged(PilotState.A))


# ------------------------------------------------------------------ on the simulated station


async def test_dc_session_locks_and_unlock_connector_waits_for_a_dead_cable(
    tmp_path: Path,
) -> None:
    """CCS connector 1 of the DC station: locked before the power comes; UnlockConnector
    stops the transaction and the motor starts unlocking only with the contactor open and
    the cable dead."""
    async with demo_station(tmp_path, station=DC_STATION, cp_id="EVSE-DC-0001") as (s, csms):
        hw = s.sim.hw.connector(1)
        lock, contactor = hw.lock, hw.contactor
        assert lock is not None and contactor is not None
        dc = s.sim.world.connector(1).dc
        assert dc is not None
        params = s.config.connector(1).devices["lock"].params
        # What the wires show whenever the firmware starts driving the motor a direction.
        drives: list[tuple[str, bool, float]] = []  # (direction, contactor closed, cable V)

        def watch(direction: str) -> Callable[[float], None]:
            def on_pin(value: float) -> None:
                if value >= 0.5:
                    drives.append((direction, contactor.closed, dc.connector_v()))
            return on_pin

        s.sim.wiring.pins.observe(params["lock_pin"], watch("lock"))
        s.sim.wiring.pins.observe(params["unlock_pin"], watch("unlock"))
        await charging(s, csms, 1, CARD_A)
        assert lock.locked is True
        direction, closed, _volts = drives[0]
        assert direction == "lock" and not closed  # locked before the power came
        transaction_id = await until_tx_id(s, 1)
        answer = await csms.call("UnlockConnector", {"connectorId": 1})
        assert answer["status"] == "Unlocked"
        stop = await csms.wait_for("StopTransaction")
        assert stop["transactionId"] == transaction_id and stop["reason"] == "UnlockCommand"
        assert lock.locked is False
        unlocking = [d for d in drives if d[0] == "unlock"]
        assert unlocking
        assert all(not closed and volts <= 60.0 for _d, closed, volts in unlocking)

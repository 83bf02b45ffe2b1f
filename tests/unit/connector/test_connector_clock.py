"""A connector on a ManualClock: its loops (checks, session timers, the pilot's return
after a safe-path hold) run on test time, so minutes pass in milliseconds.

One real :class:`ConnectorController` (a Type 2 socket: pilot, contactor, lock, RCD,
SDM630) on simulated wires; the drivers sample and move in real time, the connector's
time is the test's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

from drivers.i2c import I2CBus
from drivers.modbus import ModbusRtuBus
from drivers.registry import driver_class
from firmware.auth.reservations import ReservationBook
from firmware.clock import ManualClock
from firmware.connector.checks import CHECK_PERIOD_S, SELF_TEST_DELAY_S
from firmware.connector.controller import ConnectorController
from firmware.connector.devices import ConnectorDevices
from firmware.safety.fault_catalogue import Condition, default_catalogue
from firmware.safety.gate import Safety
from firmware.session.events import ChargePointStatus
from firmware.session.pilot_detector import PilotState
from firmware.station.local_link import LocalLink
from firmware.station.operations import ConnectorLink
from firmware.storage.store import Store

if TYPE_CHECKING:  # the module is a plugin: imported by pytest, with assert rewriting
    from tests.support.sim_fixtures import SimStation

pytest_plugins = ("tests.support.sim_fixtures",)

PP_32A_OHM = 220.0  # a 32 A cable in the socket


async def eventually(predicate: Callable[[], bool], within_s: float = 3.0) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():
            await asyncio.sleep(0.002)


class ConnectorRig:
    """Connector 1 of the example station on simulated wires, on a manual clock."""

    def __init__(self, st: SimStation) -> None:
        self.st = st  # the example station's wires, started (the sim_station fixture)
        self.clock: ManualClock = st.clock
        self.buses: dict[str, Any] = {
            "main": I2CBus(st.bus_params("main"), st.ctx("buses.i2c.main")),
            "rs485": ModbusRtuBus(st.bus_params("rs485"), st.ctx("buses.modbus.rs485")),
        }
        cfg = st.config.connector(1)
        built = {role: driver_class(dev.role, dev.driver)(
                     dev.params, st.ctx(dev.key, 1, self.buses))
                 for role, dev in cfg.devices.items()}
        self.devices = ConnectorDevices(**built)
        link = ConnectorLink(LocalLink(self.clock), ReservationBook(Store(None)),
                             lambda _tag: None)
        self.connector = ConnectorController(
            cfg, self.devices, safety=Safety(), link=link,
            catalogue=default_catalogue(), clock=self.clock,
        )
        circuits = st.hw.connector(1)
        assert circuits.pilot is not None and circuits.lock is not None
        self.pilot_circuit = circuits.pilot
        circuits.lock.travel_s = 0.01  # within the test station's 30 ms lock pulse
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for bus in self.buses.values():
            await bus.start()
        for _role, device in self.devices.named():
            await device.start()
        self._task = asyncio.create_task(self.connector.run())
        # Asleep on the clock: the meter and supervision loops, and the checks, whose
        # lock self-test waits half a second of the connector's time first.
        await eventually(lambda: self.clock.sleepers >= 3)
        self.clock.advance(SELF_TEST_DELAY_S)
        await asyncio.wait_for(self.connector.checks.lock_self_test_done.wait(), 3)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        # The lifecycle contract: every device released, then the buses.
        for _role, device in self.devices.named():
            await device.release()
        for bus in self.buses.values():
            await bus.release()

    async def advance(self, seconds: float) -> None:
        """Move the connector's time and let its woken loops run (a few turns of the
        event loop, no real time: a loop that slept in real time would not be done)."""
        self.clock.advance(seconds)
        for _ in range(10):
            await asyncio.sleep(0)

    def active(self, condition: Condition) -> bool:
        return self.connector.faults.is_active(condition)


@pytest.fixture
async def rig(sim_station: SimStation) -> AsyncIterator[ConnectorRig]:
    rig = ConnectorRig(sim_station)
    await rig.start()
    try:
        yield rig
    finally:
        await rig.close()


async def test_cable_without_session_is_raised_after_two_minutes_of_clock_time(
    rig: ConnectorRig,
) -> None:
    started = time.monotonic()
    c = rig.connector
    assert not rig.active(Condition.LOCK_FAILED_SELFTEST)  # the self-test ran and passed
    rig.pilot_circuit.set_levels(9.0, -12.0, PP_32A_OHM)  # an EV plugged in (state B)
    await eventually(lambda: c.pilot_state is PilotState.B)
    assert c.session.status is ChargePointStatus.PREPARING

    await rig.advance(30.0)  # ConnectionTimeOut: no card came, the plug idles
    assert c.session.status is ChargePointStatus.AVAILABLE
    await rig.advance(89.9)
    await asyncio.sleep(0.05)
    assert not rig.active(Condition.CABLE_WITHOUT_SESSION)  # 119.9 s: not yet

    # 120 s plugged without a transaction, seen by the next round of the checks.
    await rig.advance(0.1 + CHECK_PERIOD_S)
    assert rig.active(Condition.CABLE_WITHOUT_SESSION)
    report = c.status_report()
    assert report.vendor_error_code == c.faults.definition(
        Condition.CABLE_WITHOUT_SESSION).vendor_error_code
    assert time.monotonic() - started < 2.0  # two minutes of the connector's time

    rig.pilot_circuit.set_levels(12.0, 12.0, None)  # unplugged: 304 goes with the cable
    await eventually(lambda: not rig.active(Condition.CABLE_WITHOUT_SESSION))


async def test_the_pilot_comes_back_after_the_safe_path_hold_on_clock_time(
    rig: ConnectorRig,
) -> None:
    pilot = rig.devices.pilot
    assert pilot is not None and pilot.duty == 100.0
    rig.connector.make_safe("test")  # the safe path: the pilot in state F at once
    assert pilot.duty == 0.0
    await asyncio.sleep(0.4)  # real time passes: the hold is on the connector's clock
    assert pilot.duty == 0.0
    await rig.advance(0.29)
    assert pilot.duty == 0.0
    await rig.advance(0.01)  # 300 ms: back to what the session wants (+12 V)
    await eventually(lambda: pilot.duty == 100.0)

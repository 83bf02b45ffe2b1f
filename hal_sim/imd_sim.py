"""A simulated Bender isoCHA425HV on the simulated RS-485 bus: the registers
:mod:`drivers.imd_bender` reads and writes, and the state its alarm relay follows.

The insulation resistance comes from the world's connector (``imd_ohm``, which fault 18
lowers) when a world is there, else from :attr:`BenderModel.insulation_ohm`. Writing
0x5445 to 8005 runs a self-test for ``self_test_s`` (the R_F channel shows "external
test" meanwhile); it ends with a device error when the world's ``imd_self_test_fails``
or :attr:`self_test_fails` says so. The alarm level follows the thresholds the master
wrote to 3005 / 3007 (kΩ).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from drivers.imd_bender import (
    REG_ALARM_KOHM,
    REG_PREALARM_KOHM,
    REG_R_F,
    REG_SELF_TEST,
    REG_U_N,
    SELF_TEST_COMMAND,
    BenderAlarm,
    BenderTest,
    encode_channel,
)
from hal_sim.modbus_sim import ModbusDeviceModel

log = logging.getLogger(__name__)

UNIT_OHM = 2
UNIT_VOLT = 4
DESCRIPTION_RF = 71
DESCRIPTION_VOLTAGE = 76


class BenderModel(ModbusDeviceModel):
    """The IMD of connector ``connector_id``; ``world_of`` finds the world (or None)."""

    register_space = 8010  # up to the self-test command register

    def __init__(
        self,
        connector_id: int,
        world_of: Callable[[], Any] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        self_test_s: float = 0.2,
    ) -> None:
        super().__init__()
        self.connector_id = connector_id
        self._world_of = world_of
        self._clock = clock
        self.self_test_s = self_test_s
        self.insulation_ohm = 10e6
        self.voltage_v = 0.0
        self.self_test_fails = False
        self.device_error = False  # a device error outside any test (e.g. broken)
        self.prealarm_kohm = 600  # factory settings until the master writes its own
        self.alarm_kohm = 500
        self.self_tests = 0
        self._test_until: float | None = None
        self._test_failed = False
        self._listeners: list[Callable[[], None]] = []
        self._world_hooks: list[Callable[[Any], None]] = []
        self._world_seen = False

    # ------------------------------------------------------------------ simulation side

    def on_change(self, callback: Callable[[], None]) -> None:
        """Called when something that moves the alarm relay changed."""
        self._listeners.append(callback)

    def changed(self) -> None:
        for callback in list(self._listeners):
            callback()

    def set_insulation(self, ohm: float) -> None:
        self.insulation_ohm = ohm
        self.changed()

    def on_world(self, hook: Callable[[Any], None]) -> None:
        """Call ``hook(connector_sim)`` once the world's connector is first seen (the world
        is built after the wiring; the first Modbus request finds it)."""
        self._world_hooks.append(hook)

    def _conn(self) -> Any:
        world = self._world_of()
        conn = None if world is None else world.connectors.get(self.connector_id)
        if conn is not None and not self._world_seen:
            self._world_seen = True
            for hook in self._world_hooks:
                hook(conn)
        return conn

    def resistance(self) -> float:
        conn = self._conn()
        return float(conn.imd_ohm) if conn is not None else self.insulation_ohm

    def _fails(self) -> bool:
        conn = self._conn()
        return self.self_test_fails or bool(conn is not None and conn.imd_self_test_fails)

    def testing(self) -> bool:
        """A self-test is running (ends by itself when its time is up)."""
        if self._test_until is None:
            return False
        if self._clock() < self._test_until:
            return True
        self._test_until = None
        self._test_failed = self._fails()
        if self._test_failed:
            log.info("connector %d: simulated IMD self-test failed", self.connector_id)
        self.changed()
        return False

    def alarm_level(self) -> BenderAlarm:
        if self.device_error or self._test_failed:
            return BenderAlarm.DEVICE_ERROR
        ohm = self.resistance()
        if ohm < self.alarm_kohm * 1000.0:
            return BenderAlarm.ALARM
        if ohm < self.prealarm_kohm * 1000.0:
            return BenderAlarm.PREWARNING
        return BenderAlarm.NONE

    def relay_alarm(self) -> bool:
        """The alarm relay: an alarm or a device error. It holds still during the
        self-test (the firmware would take a switching relay for an insulation fault)."""
        if self.testing():
            return False
        return self.alarm_level() in (BenderAlarm.ALARM, BenderAlarm.DEVICE_ERROR)

    def test_remaining_s(self) -> float | None:
        """Seconds until the running self-test ends, None when none runs."""
        if not self.testing() or self._test_until is None:
            return None
        return max(0.0, self._test_until - self._clock())

    # ------------------------------------------------------------------ Modbus side

    def registers(self) -> Mapping[int, int]:
        testing = self.testing()
        test = BenderTest.EXTERNAL if testing else BenderTest.NONE
        alarm = BenderAlarm.NONE if testing else self.alarm_level()
        regs: dict[int, int] = {}
        channel = encode_channel(self.resistance(), alarm, test, UNIT_OHM, 0, DESCRIPTION_RF)
        voltage = encode_channel(self.voltage_v, 0, test, UNIT_VOLT, 0, DESCRIPTION_VOLTAGE)
        for offset in range(4):
            regs[REG_R_F + offset] = channel[offset]
            regs[REG_U_N + offset] = voltage[offset]
        regs[REG_PREALARM_KOHM] = self.prealarm_kohm
        regs[REG_ALARM_KOHM] = self.alarm_kohm
        return regs

    def write(self, address: int, values: list[int]) -> None:
        super().write(address, values)
        self._conn()  # the firmware's first contact (thresholds at start) finds the world
        for offset, value in enumerate(values):
            register = address + offset
            if register == REG_PREALARM_KOHM:
                self.prealarm_kohm = value
            elif register == REG_ALARM_KOHM:
                self.alarm_kohm = value
            elif register == REG_SELF_TEST and value == SELF_TEST_COMMAND:
                self.self_tests += 1
                self._test_failed = False
                self._test_until = self._clock() + self.self_test_s
                log.info("connector %d: simulated IMD self-test started", self.connector_id)
        self.changed()

"""The DC part of a connector's glue: EV communication, IMD, power stack, control loop.

The control loop feeds the stack's measured output to the session at ``CONTROL_HZ`` and
the session answers with set-points; stack commands go through one ordered worker so a
set-point never overtakes the ``on`` it belongs to. The stack's ``off`` in the safe path
is :meth:`PowerStack.emergency_off`, synchronous, before the contactor opens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from drivers.errors import DeviceFaulted, DriverError
from drivers.interfaces import EvStatus
from firmware.config import ConnectorKind
from firmware.connector.cable_supervision import CableSupervision
from firmware.safety.fault_catalogue import EV_COMM_CONDITIONS, Condition
from firmware.safety.gate import follow_input
from firmware.session.events import (
    Action,
    EvUpdate,
    FaultCleared,
    ImdSelfTest,
    ImdSelfTestDone,
    InsulationMeasured,
    MeasureInsulation,
    OutputMeasured,
    PlugPresent,
    SessionFaultKind,
    StackOff,
    StackOn,
    StackSetpoint,
)

if TYPE_CHECKING:
    from firmware.connector.controller import ConnectorController

log = logging.getLogger(__name__)

CONTROL_HZ = 20.0
EV_VOLTAGE_SAFE_V = 60.0  # IEC 61851-23: a connector below this is dead


class DcControl:
    """Inputs and actions of a DC connector that the AC glue does not have."""

    def __init__(self, connector: ConnectorController) -> None:
        self.c = connector
        self.ev: EvStatus | None = None
        self._commands: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self.loop_count = 0
        self.cable = CableSupervision(connector)

    def start(self, tg: asyncio.TaskGroup) -> None:
        d = self.c.devices
        if d.ev_comm is not None:
            d.ev_comm.subscribe(self.on_ev)
            self.on_ev(d.ev_comm.status())
        if d.imd is not None:
            follow_input(d.imd.subscribe, d.imd.alarm, self._on_imd_alarm)
        self.c.start_task(tg, "control loop", self._control_loop())
        self.c.start_task(tg, "stack worker", self._stack_worker())
        self.cable.start(tg)  # cable sensors (20) and cooling unit (21), where fitted

    # ------------------------------------------------------------------ inputs
    def on_ev(self, status: EvStatus) -> None:
        previous = self.ev
        self.ev = status
        if self.c.cfg.kind == ConnectorKind.CHADEMO and (
            previous is None or previous.connected != status.connected
        ):
            if previous is not None and previous.connected and not status.connected:
                self.c.ev_left(PlugPresent(False))
            else:
                self.c.dispatch(PlugPresent(status.connected))
        self._check_autocharge_id(status)
        if status.error is not None:
            self.c.raise_fault(EV_COMM_CONDITIONS[status.error])
        elif previous is not None and previous.error is not None:
            self.c.end_fault(EV_COMM_CONDITIONS[previous.error])
        self.c.dispatch(EvUpdate(status))
        self.c._changed()  # a new EV request re-runs the power budget even without actions

    def _check_autocharge_id(self, status: EvStatus) -> None:
        """108: Autocharge (the AC list's Plug & Charge) is on but the EV sent no id
        (EVCCID) to start with: the session waits for a card instead."""
        if self.c.session.settings.autocharge and status.connected and not status.ev_id:
            self.c.raise_fault(Condition.PNC_ID_MISSING)
        else:
            self.c.end_fault(Condition.PNC_ID_MISSING)

    def _on_imd_alarm(self, active: bool) -> None:
        if active:
            self.c.safety.make_safe(self.c.id, "IMD alarm")
            ohm: float | str = "?"
            self.c.raise_fault(Condition.INSULATION, ohm=ohm)
        else:
            self.c.end_fault(Condition.INSULATION)

    async def _control_loop(self) -> None:
        stack = self.c.devices.power_stack
        assert stack is not None
        period = 1.0 / CONTROL_HZ
        contactor = self.c.devices.contactor
        while True:
            voltage, current = stack.measured()
            meter = self.c.meter
            if not contactor.commanded_closed and meter is not None and meter.voltage_v:
                # Contactor open: the stack's own output says nothing about the plug. The
                # DC meter sits on the connector side: what it sees is the EV's voltage
                # (pre-check, code 50) or a welded contactor (after opening).
                voltage = meter.voltage_v[0]
                self._ev_voltage_gone(voltage)
            self.loop_count += 1
            self.c.dispatch(OutputMeasured(voltage, current))
            if stack.faults():
                if not self.c.faults.is_active(Condition.STACK_FAULT):
                    self.c.safety.make_safe(self.c.id, "power stack fault")
                    names = ",".join(sorted(f.value for f in stack.faults()))
                    self.c.raise_fault(Condition.STACK_FAULT, detail=names)
            else:
                self.c.end_fault(Condition.STACK_FAULT)
            await asyncio.sleep(period)

    def _ev_voltage_gone(self, voltage: float) -> None:
        """Code 50 clears by itself (catalogue: auto) once the connector is dead again."""
        if voltage <= EV_VOLTAGE_SAFE_V and self.c.faults.is_active(
            Condition.EV_VOLTAGE_PRESENT
        ):
            self.c.end_fault(Condition.EV_VOLTAGE_PRESENT)
            self.c.dispatch(FaultCleared(SessionFaultKind.EV_VOLTAGE))

    async def _stack_worker(self) -> None:
        while True:
            command = await self._commands.get()
            try:
                await command()
            except DriverError as exc:
                log.error("connector %d: stack command failed: %s", self.c.id, exc)
                self.c.safety.make_safe(self.c.id, "stack command failed")
                self.c.raise_fault(Condition.STACK_FAULT)

    # ------------------------------------------------------------------ actions
    def execute(self, action: Action) -> bool:
        """Carry out a DC action; False if it is not one."""
        d = self.c.devices
        stack = d.power_stack
        assert stack is not None
        match action:
            case StackOff():
                stack.emergency_off()  # synchronous: ramp-down already brought I to ~0
            case StackOn():
                self._commands.put_nowait(stack.on)
            case StackSetpoint(voltage_v=v, current_a=a):
                self._commands.put_nowait(lambda: stack.set_output(v, a))
            case ImdSelfTest():
                self.c.spawn(self._imd_self_test(), "imd self-test")
            case MeasureInsulation():
                self.c.spawn(self._measure_insulation(), "insulation")
            case _:
                return False
        return True

    async def _imd_self_test(self) -> None:
        imd = self.c.devices.imd
        assert imd is not None
        try:
            await imd.self_test()
        except DeviceFaulted as exc:
            log.error("connector %d: IMD self-test failed: %s", self.c.id, exc)
            self.c.dispatch(ImdSelfTestDone(False))
            return
        self.c.dispatch(ImdSelfTestDone(True))

    async def _measure_insulation(self) -> None:
        imd = self.c.devices.imd
        assert imd is not None
        ohm = await imd.resistance_ohm()
        self.c.dispatch(InsulationMeasured(ohm))

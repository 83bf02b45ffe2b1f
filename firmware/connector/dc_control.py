"""The DC part of a connector's glue: EV communication, IMD, power stack, control loop.

The control loop feeds the stack's measured output to the session at ``CONTROL_HZ`` and
the session answers with set-points; stack commands go through one ordered worker so a
set-point never overtakes the ``on`` it belongs to. The stack's ``off`` in the safe path
is :meth:`PowerStack.emergency_off`, synchronous, before the contactor opens.

What it asks of its connector is a :class:`~firmware.connector.context.DcContext`; the
devices it drives come through its constructor. Its loops sleep on the connector's clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from drivers.errors import DeviceFaulted, DriverError
from drivers.interfaces import (
    Contactor,
    EvCommunication,
    EvStatus,
    InsulationMonitor,
    PowerStack,
)
from firmware.config import ConnectorKind
from firmware.connector.cable_supervision import CableSupervision
from firmware.connector.context import DcContext
from firmware.log_context import connector_logger
from firmware.safety.fault_book import FaultBook
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

_log = logging.getLogger(__name__)

CONTROL_HZ = 20.0
EV_VOLTAGE_SAFE_V = 60.0  # IEC 61851-23: a connector below this is dead


def autocharge_id_missing(autocharge: bool, status: EvStatus) -> bool:
    """108: Autocharge (the AC list's Plug & Charge) is on, an EV is connected, but it
    sent no id (EVCCID) to start with: the session waits for a card instead."""
    return autocharge and status.connected and not status.ev_id


class DcControl:
    """Inputs and actions of a DC connector that the AC glue does not have.

    ``kind`` tells CHAdeMO (plug presence from the EV communication) from CCS (the
    pilot); ``stack`` and ``contactor`` are the power path it measures and commands,
    ``ev_comm`` and ``imd`` the inputs it follows (None where not fitted); ``cable`` the
    cable supervision it starts with its own loops.
    """

    def __init__(
        self,
        ctx: DcContext,
        faults: FaultBook,
        kind: ConnectorKind,
        *,
        stack: PowerStack,
        contactor: Contactor,
        cable: CableSupervision,
        ev_comm: EvCommunication | None = None,
        imd: InsulationMonitor | None = None,
    ) -> None:
        self._ctx = ctx
        self._faults = faults
        self._kind = kind
        self._stack = stack
        self._contactor = contactor
        self._ev_comm = ev_comm
        self._imd = imd
        self._log = connector_logger(_log, ctx.id)
        self.ev: EvStatus | None = None
        self._commands: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self.loop_count = 0
        self.cable = cable

    def start(self) -> None:
        """Follow the EV and the IMD, start the control loop, the stack worker and the
        cable supervision as tasks of the (running) connector."""
        if self._ev_comm is not None:
            self._ev_comm.subscribe(self.on_ev)
            self.on_ev(self._ev_comm.status())
        imd = self._imd
        if imd is not None:
            follow_input(imd.subscribe, imd.alarm, self._on_imd_alarm)
        self._ctx.spawn(self._control_loop(), "control loop")
        self._ctx.spawn(self._stack_worker(), "stack worker")
        self.cable.start()  # cable sensors (20) and cooling unit (21), where fitted

    # ------------------------------------------------------------------ inputs
    def on_ev(self, status: EvStatus) -> None:
        """A new status from the EV communication."""
        ctx = self._ctx
        previous = self.ev
        self.ev = status
        if self._kind == ConnectorKind.CHADEMO and (
            previous is None or previous.connected != status.connected
        ):
            if previous is not None and previous.connected and not status.connected:
                ctx.ev_left(PlugPresent(False))
            else:
                ctx.dispatch(PlugPresent(status.connected))
        if autocharge_id_missing(ctx.settings.autocharge, status):
            ctx.raise_fault(Condition.PNC_ID_MISSING)
        else:
            ctx.end_fault(Condition.PNC_ID_MISSING)
        if status.error is not None:
            ctx.raise_fault(EV_COMM_CONDITIONS[status.error])
        elif previous is not None and previous.error is not None:
            ctx.end_fault(EV_COMM_CONDITIONS[previous.error])
        ctx.dispatch(EvUpdate(status))
        ctx.notify_change()  # a new EV request re-runs the power budget even without actions

    def _on_imd_alarm(self, active: bool) -> None:
        if active:
            self._ctx.make_safe("IMD alarm")
            ohm: float | str = "?"
            self._ctx.raise_fault(Condition.INSULATION, ohm=ohm)
        else:
            self._ctx.end_fault(Condition.INSULATION)

    async def _control_loop(self) -> None:
        ctx = self._ctx
        stack = self._stack
        period = 1.0 / CONTROL_HZ
        contactor = self._contactor
        while True:
            voltage, current = stack.measured()
            meter = ctx.meter
            if not contactor.commanded_closed and meter is not None and meter.voltage_v:
                # Contactor open: the stack's own output says nothing about the plug. The
                # DC meter sits on the connector side: what it sees is the EV's voltage
                # (pre-check, code 50) or a welded contactor (after opening).
                voltage = meter.voltage_v[0]
                self._ev_voltage_gone(voltage)
            self.loop_count += 1
            ctx.dispatch(OutputMeasured(voltage, current))
            if stack.faults():
                if not self._faults.is_active(Condition.STACK_FAULT):
                    ctx.make_safe("power stack fault")
                    names = ",".join(sorted(f.value for f in stack.faults()))
                    ctx.raise_fault(Condition.STACK_FAULT, detail=names)
            else:
                ctx.end_fault(Condition.STACK_FAULT)
            await ctx.clock.sleep(period)

    def _ev_voltage_gone(self, voltage: float) -> None:
        """Code 50 clears by itself (catalogue: auto) once the connector is dead again."""
        if voltage <= EV_VOLTAGE_SAFE_V and self._faults.is_active(
            Condition.EV_VOLTAGE_PRESENT
        ):
            self._ctx.end_fault(Condition.EV_VOLTAGE_PRESENT)
            self._ctx.dispatch(FaultCleared(SessionFaultKind.EV_VOLTAGE))

    async def _stack_worker(self) -> None:
        while True:
            command = await self._commands.get()
            try:
                await command()
            except DriverError as exc:
                self._log.error("stack command failed: %s", exc)
                self._ctx.make_safe("stack command failed")
                self._ctx.raise_fault(Condition.STACK_FAULT)

    # ------------------------------------------------------------------ actions
    def execute(self, action: Action) -> bool:
        """Carry out a DC action; False if it is not one."""
        stack = self._stack
        match action:
            case StackOff():
                stack.emergency_off()  # synchronous: ramp-down already brought I to ~0
            case StackOn():
                self._commands.put_nowait(stack.on)
            case StackSetpoint(voltage_v=v, current_a=a):
                self._commands.put_nowait(lambda: stack.set_output(v, a))
            case ImdSelfTest():
                self._ctx.spawn(self._imd_self_test(), "imd self-test")
            case MeasureInsulation():
                self._ctx.spawn(self._measure_insulation(), "insulation")
            case _:
                return False
        return True

    async def _imd_self_test(self) -> None:
        imd = self._imd
        assert imd is not None  # a DC connector has an IMD (the configuration checks it)
        try:
            await imd.self_test()
        except DeviceFaulted as exc:
            self._log.error("IMD self-test failed: %s", exc)
            self._ctx.dispatch(ImdSelfTestDone(False))
            return
        self._ctx.dispatch(ImdSelfTestDone(True))

    async def _measure_insulation(self) -> None:
        imd = self._imd
        assert imd is not None
        ohm = await imd.resistance_ohm()
        self._ctx.dispatch(InsulationMeasured(ohm))

"""The interlocks of one connector: what must hold, read at the instant a contactor would
close (:meth:`firmware.safety.gate.Safety.close`). Each reads cached driver state, never
does I/O, and says why when it does not hold."""

from __future__ import annotations

from collections.abc import Callable

from drivers.interfaces import ContactorFault
from firmware.connector.devices import ConnectorDevices
from firmware.safety.fault_book import FaultBook
from firmware.safety.gate import Safety
from firmware.session.pilot_detector import PilotState

_CHARGING = (PilotState.C, PilotState.D)


def attach_interlocks(
    safety: Safety,
    connector_id: int,
    devices: ConnectorDevices,
    *,
    pilot_state: Callable[[], PilotState | None],
    faults: FaultBook,
) -> None:
    """Register the interlocks of the roles this connector has: the EV asks for energy
    (pilot C/D), the cable is locked, the RCD and the IMD have not tripped, the contactor
    is not welded, and no blocking fault of the connector is active."""
    d = devices
    if d.pilot is not None:
        safety.add_interlock(
            connector_id, "pilot",
            lambda: None if pilot_state() in _CHARGING else f"pilot {pilot_state()}",
        )
    if d.lock is not None:
        lock = d.lock
        safety.add_interlock(
            connector_id, "lock", lambda: None if lock.locked else "cable not locked"
        )
    if d.rcd is not None:
        rcd = d.rcd
        safety.add_interlock(connector_id, "rcd", lambda: "RCD tripped" if rcd.tripped else None)
    if d.imd is not None:
        imd = d.imd
        safety.add_interlock(connector_id, "imd", lambda: "IMD alarm" if imd.alarm else None)
    contactor = d.contactor
    safety.add_interlock(
        connector_id, "contactor_feedback",
        lambda: "welded" if contactor.fault() == ContactorFault.WELDED else None,
    )
    safety.add_interlock(
        connector_id, "faults",
        lambda: ", ".join(f.fault.code for f in faults.blocking()) or None,
    )

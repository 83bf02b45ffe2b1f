"""A DC session (:class:`firmware.session.dc_session.DcSession`) on its own, driven event
by event: the rig of ``tests/unit/session/test_session_dc.py`` and
``tests/unit/connector/test_dc_lock.py``."""

from __future__ import annotations

import dataclasses

from drivers.interfaces import EvStatus
from firmware.config.model import ConnectorKind
from firmware.session.ac_session import create_session
from firmware.session.dc_session import DcPhase, DcSession
from firmware.session.events import (
    Action,
    Authorized,
    BeginTransaction,
    Event,
    EvUpdate,
    ImdSelfTestDone,
    InsulationMeasured,
    Lock,
    LockResult,
    OutputMeasured,
    PilotChanged,
    PlugPresent,
    StopRequested,
)
from firmware.session.pilot_detector import PilotState

EV = EvStatus(
    connected=True,
    ready=True,
    target_voltage_v=400.0,
    target_current_a=100.0,
    max_voltage_v=450.0,
    max_current_a=150.0,
    battery_voltage_v=380.0,
)


class Rig:
    """One DC session driven by events at a plain float time ``t``; ``log`` keeps every
    action it asked for. ``has_lock``: the connector has a lock actuator (the session
    locks from the authorization and begins the transaction once locked)."""

    def __init__(self, kind: ConnectorKind = ConnectorKind.CCS, max_voltage_v: float = 920.0,
                 *, has_lock: bool = False) -> None:
        session = create_session(kind, 125.0, max_voltage_v=max_voltage_v, max_power_w=50_000)
        assert isinstance(session, DcSession)
        session.has_lock = has_lock
        self.s = session
        self.t = 1000.0
        self.log: list[Action] = []

    def __call__(self, event: Event) -> list[Action]:
        out = self.s.handle(event, self.t)
        self.log.extend(out)
        return out

    def at(self, dt: float) -> list[Action]:
        self.t += dt
        return self.s.poll(self.t)

    def plug(self) -> list[Action]:
        if self.s.has_pilot:
            return self(PilotChanged(PilotState.B))
        return self(PlugPresent(True))

    def ev(self, **changes: object) -> list[Action]:
        return self(EvUpdate(dataclasses.replace(EV, **changes)))  # type: ignore[arg-type]

    def authorized(self) -> list[Action]:
        """Plugged, the EV not ready yet, a card: what the authorization asks for."""
        self.plug()
        self.ev(ready=False)
        return self(Authorized("TAG"))

    def to_wait_ev(self) -> None:
        out = self.authorized()
        if self.s.has_lock:
            assert Lock() in out
            assert BeginTransaction("TAG", False, False) in self(LockResult(True))
        assert self.s.phase is DcPhase.WAIT_EV

    def to_cable_check(self) -> None:
        self.to_wait_ev()
        self.ev()
        self(OutputMeasured(0.0, 0.0))
        self(ImdSelfTestDone(True))
        assert self.s.phase is DcPhase.CABLE_CHECK

    def to_precharge(self) -> None:
        self.to_cable_check()
        self(OutputMeasured(495.0, 0.0))
        self(InsulationMeasured(5e6))
        assert self.s.phase is DcPhase.PRECHARGE

    def to_charging(self) -> None:
        self.to_precharge()
        self(OutputMeasured(385.0, 0.0))
        assert self.s.phase is DcPhase.PRECHARGE  # the EV has not closed its contactors
        self.ev(power_delivery=True)
        assert self.s.phase is DcPhase.CHARGING

    def to_weld_check(self) -> None:
        self.to_charging()
        self(StopRequested("Local"))
        self(OutputMeasured(400.0, 0.5))
        assert self.s.phase is DcPhase.WELD_CHECK

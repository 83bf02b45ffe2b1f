"""The drivers of one connector, by hardware role."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.interfaces import (
    ConnectorLock,
    Contactor,
    ControlPilot,
    Device,
    EnergyMeter,
    EvCommunication,
    InsulationMonitor,
    PowerStack,
    ResidualCurrentMonitor,
)
from drivers.interfaces_station import CableCooler, CableMonitor, LedRing


@dataclass
class ConnectorDevices:
    """The drivers of one connector; roles a connector does not have are None."""

    contactor: Contactor
    meter: EnergyMeter
    pilot: ControlPilot | None = None
    lock: ConnectorLock | None = None
    rcd: ResidualCurrentMonitor | None = None
    power_stack: PowerStack | None = None
    imd: InsulationMonitor | None = None
    ev_comm: EvCommunication | None = None
    led: LedRing | None = None
    cable: CableMonitor | None = None  # a liquid-cooled DC cable's contact sensors
    cooler: CableCooler | None = None  # ... and its cooling unit

    def named(self) -> list[tuple[str, Device]]:
        """(role, driver) of every device this connector has, in start order."""
        # The pilot first (state F until the session says otherwise), the contactor
        # before anything that could want it closed.
        roles: tuple[tuple[str, Device | None], ...] = (
            ("pilot", self.pilot),
            ("contactor", self.contactor),
            ("lock", self.lock),
            ("rcd", self.rcd),
            ("meter", self.meter),
            ("power_stack", self.power_stack),
            ("imd", self.imd),
            ("ev_comm", self.ev_comm),
            ("led", self.led),
            ("cable", self.cable),
            ("cooler", self.cooler),
        )
        return [(role, device) for role, device in roles if device is not None]

"""Station-level supervision wired into the station: the station devices (doors, stop
button, temperature, tilt, modem, display, LED rings), their monitor, the faults of
connector 0 and what the connectors show.

Station faults that block charging (door open on a DC station, stop button, temperature,
tilt, supply voltage) are handed to every connector's session as a blocking fault, so no
connector tries to start while they last; connector 0 reports them to the central system.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from drivers.interfaces import DcResidualCurrentMonitor
from drivers.interfaces_station import LedRing
from firmware.clock import Clock
from firmware.ports import StatusReport
from firmware.safety.fault_book import FaultBook
from firmware.safety.gate import Safety
from firmware.session.events import Event, FaultCleared, FaultRaised, StopReason
from firmware.station.devices import StationDevices
from firmware.station.indicators import ConnectorIndicators
from firmware.station.monitor import StationMonitor

log = logging.getLogger(__name__)

# GUIprimaryLanguage holds a two-letter code; the manual's screen names map to them.
_LANGUAGES = {
    "deutsch": "de", "english": "en", "nederlands": "nl", "italiano": "it",
    "français": "fr", "francais": "fr", "español": "es", "espanol": "es",
}


def language_code(value: str | None) -> str:
    if not value:
        return "en"
    value = value.strip().lower()
    return _LANGUAGES.get(value, value[:2])


class SupervisedConnector(Protocol):
    """What station supervision needs of a connector (a ``ConnectorController``)."""

    @property
    def id(self) -> int: ...

    def dispatch(self, event: Event) -> None: ...

    def report_status(self) -> None:
        """Report the connector's status again (a station fault changed what it shows)."""

    def status_report(self) -> StatusReport: ...

    def display_text(self) -> str: ...


class Supervision:
    """Connector 0's faults and the station devices (see the module docstring).

    ``faults`` is connector 0's fault book (the connectors show it when a station fault
    makes them unusable); ``stop_all(reason)`` stops every transaction (the stop button);
    ``station_status_changed()`` re-reports connector 0. ``leds`` are the connectors'
    LED rings, ``rcd_monitors`` the RDC-DDs that keep their DC reading fresh in a task of
    their own."""

    def __init__(
        self,
        devices: StationDevices,
        faults: FaultBook,
        safety: Safety,
        thresholds: Mapping[str, float],
        clock: Clock,
        connectors: Mapping[int, SupervisedConnector],
        *,
        stop_all: Callable[[str], None],
        station_status_changed: Callable[[], None],
        door_interlock: bool,
        leds: Mapping[int, LedRing],
        rcd_monitors: Mapping[int, DcResidualCurrentMonitor],
        holder_colors: str,
        language: str,
    ) -> None:
        self.faults = faults
        self.language = language
        self._connectors = connectors
        self._stop_all = stop_all
        self._station_status_changed = station_status_changed
        self._rcd_monitors = rcd_monitors
        self.monitor = StationMonitor(
            devices,
            safety,
            faults,
            thresholds,
            stop_sessions=self._stop_sessions,
            on_change=self._changed,
            door_interlock=door_interlock,
            clock=clock,
        )
        self.indicators = ConnectorIndicators(
            leds, devices.display, holder_colors, language
        ) if (leds or devices.display is not None) else None
        self._blocking: set[str] = set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.monitor.run(), name="station-monitor")
            if self.indicators is not None:
                tg.create_task(self.indicators.run(), name="indicators")
            for cid, rdc in self._rcd_monitors.items():  # RDC-DDs keep their DC reading fresh
                tg.create_task(rdc.run(), name=f"rcd-{cid}")

    # ------------------------------------------------------------------ faults
    def _stop_sessions(self, reason: str) -> None:
        self._stop_all(reason or StopReason.EMERGENCY_STOP)

    def _changed(self) -> None:
        """A station fault was raised or cleared: tell the sessions, then report."""
        blocking = {f.fault.code for f in self.faults.blocking()}
        for code in sorted(blocking - self._blocking):
            for connector in self._connectors.values():
                connector.dispatch(FaultRaised(code, blocking=True))
        for code in sorted(self._blocking - blocking):
            for connector in self._connectors.values():
                connector.dispatch(FaultCleared(code))
        self._blocking = blocking
        self._station_status_changed()
        for connector in self._connectors.values():
            connector.report_status()
        self.show(0)

    def show(self, connector_id: int) -> None:
        """Update the LED ring and the display of a connector (0: the station text)."""
        if self.indicators is None:
            return
        if connector_id == 0:
            self.indicators.update(0, "", self.faults.display())
            return
        connector = self._connectors[connector_id]
        report = connector.status_report()
        self.indicators.update(connector_id, report.status, connector.display_text())

    def mobile_info(self) -> dict[str, str]:
        return self.monitor.mobile_info()

    def state(self) -> dict[str, Any]:
        return {"station_monitor": self.monitor.state(),
                "faults": [f.state() for f in self.faults.active]}

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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from drivers.interfaces import MeterReading
from firmware.ports import StatusReport
from firmware.safety.fault_book import FaultBook
from firmware.session.events import FaultCleared, FaultRaised, StopReason
from firmware.station.indicators import ConnectorIndicators
from firmware.station.monitor import StationMonitor

if TYPE_CHECKING:
    from firmware.connector.controller import ConnectorController
    from firmware.station.station import Station

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


class Supervision:
    """Connector 0's faults and the station devices, for one :class:`Station`."""

    def __init__(self, station: Station, key: Callable[[str], str | None]) -> None:
        self.station = station
        hw = station.hardware
        devices = hw.station_devices
        devices.token_reader = hw.token_reader
        has_dc = any(c.is_dc for c in station.config.connectors)
        self.language = language_code(key("GUIprimaryLanguage"))
        self.faults = FaultBook(station.catalogue, 0, has_dc, station.clock.now, self.language)
        self.monitor = StationMonitor(
            devices,
            station.safety,
            self.faults,
            station.catalogue.thresholds,
            stop_sessions=self._stop_sessions,
            on_change=self._changed,
            door_interlock=has_dc,
            monotonic=station.clock.monotonic,
        )
        leds = {cid: d.led for cid, d in hw.connectors.items() if d.led is not None}
        self.indicators = ConnectorIndicators(
            leds, devices.display, key("GUIConnectorHolderColors") or "", self.language
        ) if (leds or devices.display is not None) else None
        self._blocking: set[str] = set()
        for connector in station.connectors.values():
            connector.faults.language = self.language
            connector.station_faults = self.faults
            if not connector.cfg.is_dc:
                connector.on_meter = self._meter_hook(connector)

    def _meter_hook(self, connector: ConnectorController) -> Callable[[MeterReading], None]:
        phases = connector.cfg.phases

        def hook(reading: MeterReading) -> None:
            self.monitor.on_meter_reading(connector.id, phases, reading)

        return hook

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.monitor.run(), name="station-monitor")
            if self.indicators is not None:
                tg.create_task(self.indicators.run(), name="indicators")
            for cid, devices in self.station.hardware.connectors.items():
                dc = devices.rcd.dc_monitor() if devices.rcd is not None else None
                if dc is not None:  # an RDC-DD that keeps its DC reading fresh
                    tg.create_task(dc.run(), name=f"rcd-{cid}")

    # ------------------------------------------------------------------ faults
    def _stop_sessions(self, reason: str) -> None:
        self.station.stop_all(reason or StopReason.EMERGENCY_STOP)

    def _changed(self) -> None:
        """A station fault was raised or cleared: tell the sessions, then report."""
        blocking = {f.fault.code for f in self.faults.blocking()}
        for code in sorted(blocking - self._blocking):
            for connector in self.station.connectors.values():
                connector.dispatch(FaultRaised(code, blocking=True))
        for code in sorted(self._blocking - blocking):
            for connector in self.station.connectors.values():
                connector.dispatch(FaultCleared(code))
        self._blocking = blocking
        self.station.report_station_status()
        for connector in self.station.connectors.values():
            connector.report_status()
        self.show(0, "")

    def report(self, status: str) -> StatusReport:
        """Connector 0: Faulted while a blocking station fault lasts."""
        if self.faults.blocking():
            status = "Faulted"
        return self.faults.report(status)

    def show(self, connector_id: int, _status: str) -> None:
        """Update the LED ring and the display of a connector (0: the station text)."""
        if self.indicators is None:
            return
        if connector_id == 0:
            self.indicators.update(0, "", self.faults.display())
            return
        connector = self.station.connectors[connector_id]
        report = connector.status_report()
        self.indicators.update(connector_id, report.status, connector.display_text())

    def mobile_info(self) -> dict[str, str]:
        return self.monitor.mobile_info()

    def state(self) -> dict[str, Any]:
        return {"station_monitor": self.monitor.state(),
                "faults": [f.state() for f in self.faults.active]}

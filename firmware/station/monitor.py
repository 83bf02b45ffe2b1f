"""Supervision of the station-level devices: doors, stop button, temperature, tilt, the
protective earth (PE monitor), the grid (from the AC meters), the NFC reader and the
mobile modem.

Everything found goes into the station's :class:`~firmware.safety.fault_book.FaultBook`
(connector 0) as a catalogue condition; a *blocking* station fault (door open on a DC
station, supply voltage out of range, missing phase, too cold, PE missing: its rule is in
:mod:`firmware.station.pe_verdict`) makes every connector safe first and is reported second, and
holds the station interlock ``station_faults`` until it clears. The stop button makes
everything safe, stops every session with reason ``EmergencyStop`` and holds the
interlock ``stop_button`` while pressed.

The monitor does no I/O on its own: it reads the drivers it is given, from the tasks of
:meth:`StationMonitor.run` (one TaskGroup). The poll methods are public so a test (or a
service page) can run one check now.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from drivers.errors import DriverError
from drivers.grid import GridIssue, GridLimits, GridMonitor
from drivers.interfaces import MeterReading, ReaderFault
from drivers.interfaces_station import ModemInfo, TiltReading
from firmware.clock import Clock
from firmware.safety.fault_book import FaultBook
from firmware.safety.fault_catalogue import Condition, Effect
from firmware.safety.gate import Safety, follow_input
from firmware.station.devices import StationDevices
from firmware.station.pe_verdict import PeSupervision, PeVerdict
from firmware.tasks import supervised

log = logging.getLogger(__name__)

TEMPERATURE_HYSTERESIS_C = 5.0  # the catalogue: 401 clears 5 degrees below, 402 above
TILT_HYSTERESIS_DEG = 2.0

_GRID_CONDITIONS = {
    GridIssue.UNDERVOLTAGE: Condition.UNDERVOLTAGE,
    GridIssue.OVERVOLTAGE: Condition.OVERVOLTAGE,
    GridIssue.PHASE_MISSING: Condition.PHASE_MISSING,
}


@dataclass(frozen=True)
class MonitorPeriods:
    """How often each check runs (seconds)."""

    supervise_s: float = 1.0  # reader, end of the door-closed report
    temperature_s: float = 10.0
    tilt_s: float = 5.0
    modem_s: float = 60.0
    pe_s: float = 1.0  # one ADC conversion: cheap
    door_closed_hold_s: float = 2.0  # how long "door closed" (1000) stays reported


class StationMonitor:
    """Supervises the station devices; see the module docstring.

    ``stop_sessions(reason)`` stops every running transaction (the stop button);
    ``on_change()`` is called after the station's faults changed (report connector 0's
    status, re-check the connectors). ``door_interlock``: the doors are a station
    interlock of their own (DC stations: live parts behind the doors)."""

    def __init__(
        self,
        devices: StationDevices,
        safety: Safety,
        faults: FaultBook,
        thresholds: Mapping[str, float],
        *,
        stop_sessions: Callable[[str], None],
        on_change: Callable[[], None] = lambda: None,
        door_interlock: bool = False,
        clock: Clock,
        periods: MonitorPeriods = MonitorPeriods(),
        frequency_hz: tuple[float, float] = (49.0, 51.0),
    ) -> None:
        self.devices = devices
        self.safety = safety
        self.faults = faults
        self.periods = periods
        self._stop_sessions = stop_sessions
        self._on_change = on_change
        self._clock = clock
        self._high_c = float(thresholds.get("high_temperature_c", 70.0))
        self._low_c = float(thresholds.get("low_temperature_c", -40.0))
        self._tilt_deg = float(thresholds.get("tilt_deg", 10.0))
        self.pe = PeSupervision(float(thresholds.get("pe_resistance_max_ohm", 100.0)))
        self._grid_limits = GridLimits.from_thresholds(thresholds, frequency_hz=frequency_hz)
        self._grids: dict[int, GridMonitor] = {}
        self._door_closed_until: float | None = None
        self.temperature_c: float | None = None
        self.tilt: TiltReading | None = None
        self.modem: ModemInfo = ModemInfo()
        self.grid_warnings: dict[int, str] = {}  # connector -> frequency out of range
        self.device_problems: dict[str, str] = {}  # role -> why it cannot be read
        self._install_interlocks(door_interlock)

    # ------------------------------------------------------------------ wiring up

    def _install_interlocks(self, door_interlock: bool) -> None:
        doors, stop = self.devices.doors, self.devices.stop_button
        if doors is not None and door_interlock:
            self.safety.add_station_interlock(
                "door", lambda: "service door open" if doors.open else None
            )
        if stop is not None:
            self.safety.add_station_interlock(
                "stop_button", lambda: "stop button pressed" if stop.pressed else None
            )
        self.safety.add_station_interlock(
            "station_faults",
            lambda: ", ".join(f.fault.code for f in self.faults.blocking()) or None,
        )

    def _subscribe(self) -> None:
        d = self.devices
        if d.doors is not None:
            follow_input(d.doors.subscribe, d.doors.open, self._on_doors)
        if d.stop_button is not None:
            follow_input(d.stop_button.subscribe, d.stop_button.pressed, self._on_stop_button)

    async def run(self) -> None:
        """Supervise until cancelled (every check in one TaskGroup)."""
        self._subscribe()
        d, p = self.devices, self.periods
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._every("supervise", p.supervise_s, self._supervise_async))
            if d.temperature is not None:
                tg.create_task(self._every("temperature", p.temperature_s,
                                           self.poll_temperature))
            if d.tilt is not None:
                tg.create_task(self._tilt_loop())
            if d.modem is not None:
                tg.create_task(self._every("modem", p.modem_s, self.poll_modem))
            if d.pe_monitor is not None:
                tg.create_task(self._every("pe", p.pe_s, self.poll_pe))

    async def _every(self, what: str, period_s: float,
                     check: Callable[[], Coroutine[Any, Any, None]]) -> None:
        while True:
            await self.guarded(what, check)
            await self._clock.sleep(period_s)

    async def guarded(self, what: str, check: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run one check; an unexpected error in it (not a device fault the driver knows,
        which the check handles itself) is the generic fault 001: every connector is made
        safe and stays blocked until a reset, because a supervision that cannot run leaves
        a hazard unwatched. The check keeps running on its period, so the log shows whether
        the error persists."""
        # A bug in one check must not end the others.
        await supervised(check(), f"station monitor: {what} check", self._check_failed, log)

    def _check_failed(self, what: str, exc: Exception) -> None:
        self.internal_error(what.removeprefix("station monitor: "), exc)

    def internal_error(self, what: str, exc: BaseException) -> None:
        """An unexpected error in ``what`` (a check, a station task, a device's start):
        the generic fault 001 on connector 0, every connector safe first."""
        self._raise(Condition.GENERIC, f"{what} failed", what=what, error=type(exc).__name__)

    def start_failed(self, role: str, exc: Exception) -> None:
        """A station device did not start: a fault its driver knows is a device problem
        (its check finds what it means when it runs); anything else is 001."""
        if isinstance(exc, DriverError):
            self._device_problem(role, f"did not start: {exc}")
        else:
            self.internal_error(f"{role} start", exc)

    async def check(self, what: str) -> None:
        """Run the periodic check ``what`` (temperature, tilt, modem, pe) now, guarded as on
        its period (a service page's "check now", a test)."""
        checks = {"temperature": self.poll_temperature, "tilt": self.poll_tilt,
                  "modem": self.poll_modem, "pe": self.poll_pe}
        await self.guarded(what, checks[what])

    async def _supervise_async(self) -> None:
        self.supervise()

    async def _tilt_loop(self) -> None:
        tilt = self.devices.tilt
        assert tilt is not None
        try:
            await tilt.self_test()
        except DriverError as exc:
            self._device_problem("tilt", f"self-test: {exc}")
        await self._every("tilt", self.periods.tilt_s, self.poll_tilt)

    # ------------------------------------------------------------------ faults

    def _raise(self, condition: Condition, safe_reason: str, **values: object) -> None:
        """Record a station fault; a blocking one makes every connector safe first."""
        if self.faults.holds(condition):
            return
        definition = self.faults.definition(condition)
        if definition.blocks:
            self.safety.make_all_safe(f"{definition.code}: {safe_reason}")
        if self.faults.raise_(condition, **values) is not None:
            self._on_change()

    def _end(self, condition: Condition) -> None:
        if self.faults.is_active(condition) and self.faults.condition_ended(condition):
            self._on_change()

    def _device_problem(self, role: str, problem: str | None) -> None:
        if problem is None:
            if self.device_problems.pop(role, None) is not None:
                log.info("station monitor: %s readable again", role)
            return
        if self.device_problems.get(role) != problem:
            log.warning("station monitor: %s: %s", role, problem)
        self.device_problems[role] = problem

    # ------------------------------------------------------------------ doors, button

    def _on_doors(self, any_open: bool) -> None:
        if any_open:
            self._door_closed_until = None
            # Safe path first (1001 makes every connector safe), reports after.
            self._raise(Condition.DOOR_OPENED, "service door open")
            self._end(Condition.DOOR_CLOSED)
        else:
            self._end(Condition.DOOR_OPENED)
            self._door_closed_until = self._clock.monotonic() + self.periods.door_closed_hold_s
            self._raise(Condition.DOOR_CLOSED, "doors closed")

    def _on_stop_button(self, pressed: bool) -> None:
        if pressed:
            # Power path first: stacks off, contactors open, pilots to F; then the
            # transactions end with the reason OCPP has for it.
            self.safety.make_all_safe("stop button pressed")
            self._stop_sessions("EmergencyStop")
            log.warning("stop button pressed: every connector stopped")
        else:
            log.info("stop button released")
        self._on_change()

    def supervise(self) -> None:
        """The quick checks: end of the door-closed report, the NFC reader."""
        until = self._door_closed_until
        if until is not None and self._clock.monotonic() >= until:
            self._door_closed_until = None
            self._end(Condition.DOOR_CLOSED)
        reader = self.devices.token_reader
        if reader is not None:
            if reader.fault is ReaderFault.LOST:
                self._raise(Condition.READER_LOST, "NFC reader lost")
            else:
                self._end(Condition.READER_LOST)

    # ------------------------------------------------------------------ sensors

    async def poll_temperature(self) -> None:
        sensor = self.devices.temperature
        if sensor is None:
            return
        try:
            celsius = await sensor.read_c()
        except DriverError as exc:
            self.temperature_c = None
            self._device_problem("temperature", str(exc))
            return
        self._device_problem("temperature", None)
        self.temperature_c = celsius
        if celsius > self._high_c:
            self._raise(Condition.HIGH_TEMPERATURE, "too hot", actual_c=celsius)
        elif celsius < self._high_c - TEMPERATURE_HYSTERESIS_C:
            self._end(Condition.HIGH_TEMPERATURE)
        if celsius < self._low_c:
            self._raise(Condition.LOW_TEMPERATURE, "too cold", actual_c=celsius)
        elif celsius > self._low_c + TEMPERATURE_HYSTERESIS_C:
            self._end(Condition.LOW_TEMPERATURE)

    async def poll_tilt(self) -> None:
        sensor = self.devices.tilt
        if sensor is None:
            return
        try:
            reading = await sensor.read()
        except DriverError as exc:
            self.tilt = None
            self._device_problem("tilt", str(exc))
            return
        self._device_problem("tilt", None)
        self.tilt = reading
        if reading.tilt_deg > self._tilt_deg:
            x, y, z = reading.raw
            self._raise(Condition.TILTED, "tilted", x=x, y=y, z=z)
        elif reading.tilt_deg < self._tilt_deg - TILT_HYSTERESIS_DEG:
            self._end(Condition.TILTED)

    async def poll_pe(self) -> None:
        """Read the PE monitor: raise 201 when the earth loop is above the limit or open,
        end it after a run of good readings
        (:class:`~firmware.station.pe_verdict.PeSupervision`)."""
        monitor = self.devices.pe_monitor
        if monitor is None:
            return
        try:
            ohm = await monitor.read_ohm()
        except DriverError as exc:
            self.pe.unreadable()
            self._device_problem("pe_monitor", str(exc))
            return
        self._device_problem("pe_monitor", None)
        verdict = self.pe.feed(ohm)
        if verdict is PeVerdict.BAD:
            if not self.faults.is_active(Condition.PE_MISSING):
                log.warning("connector 0: PE earth loop %s (limit %.0f Ohm)",
                            "open" if math.isinf(ohm) else f"{ohm:.1f} Ohm", self.pe.max_ohm)
            self._raise(Condition.PE_MISSING, "protective earth missing",
                        actual_ohm=ohm, max_ohm=self.pe.max_ohm)
        elif verdict is PeVerdict.CLEAR:
            self._end(Condition.PE_MISSING)

    async def poll_modem(self) -> None:
        modem = self.devices.modem
        if modem is None:
            return
        try:
            info = await modem.read()
        except DriverError as exc:
            # The SIM does not change while the modem is silent; the signal is unknown.
            self.modem = ModemInfo(iccid=self.modem.iccid, imsi=self.modem.imsi)
            self._device_problem("modem", str(exc))
            return
        self._device_problem("modem", None if modem.fault is None else str(modem.fault))
        self.modem = info

    def mobile_info(self) -> dict[str, str]:
        """The read-only keys MobileRSSI (dBm), MobileProvider, MobileConnectionStandard
        and the BootNotification's ``iccid`` / ``imsi``: only what is known."""
        m = self.modem
        values = {
            "MobileRSSI": None if m.rssi_dbm is None else str(m.rssi_dbm),
            "MobileProvider": m.operator,
            "MobileConnectionStandard": m.technology,
            "iccid": m.iccid,
            "imsi": m.imsi,
        }
        return {k: v for k, v in values.items() if v is not None}

    # ------------------------------------------------------------------ grid

    def on_meter_reading(self, connector_id: int, phases: int, reading: MeterReading) -> None:
        """An AC meter reading of a connector (call it from the meter loop)."""
        grid = self._grids.get(connector_id)
        if grid is None:
            grid = self._grids[connector_id] = GridMonitor(phases, self._grid_limits)
        raised, cleared = grid.feed(reading)
        for finding in raised:
            if finding.issue is GridIssue.FREQUENCY:
                text = f"frequency {finding.value:.2f} Hz out of range"
                self.grid_warnings[connector_id] = text
                log.warning("connector %d: grid %s", connector_id, text)
                continue
            condition = _GRID_CONDITIONS[finding.issue]
            log.warning("connector %d: grid %s (%.0f V, phase %s)", connector_id,
                        finding.issue, finding.value, finding.phase)
            self._raise(condition, f"grid {finding.issue}", voltage_v=finding.value,
                        phase=finding.phase)
        for issue in cleared:
            if issue is GridIssue.FREQUENCY:
                self.grid_warnings.pop(connector_id, None)
                log.info("connector %d: grid frequency back in range", connector_id)
                continue
            if not any(issue in g.active for g in self._grids.values()):
                log.info("connector %d: grid %s ended", connector_id, issue)
                self._end(_GRID_CONDITIONS[issue])

    # ------------------------------------------------------------------ queries

    def derate_a(self) -> float | None:
        """The current limit of the active derating station faults (401), if any."""
        limits = [f.fault.derate_a for f in self.faults.active
                  if f.fault.effect is Effect.DERATE and f.fault.derate_a is not None]
        return min(limits) if limits else None

    def state(self) -> dict[str, Any]:
        """The supervised values, JSON-ready (service pages, /api/status extras)."""
        d = self.devices
        tilt = self.tilt
        return {
            "doors_open": list(d.doors.open_doors) if d.doors is not None else None,
            "stop_button": d.stop_button.pressed if d.stop_button is not None else None,
            "temperature_c": self.temperature_c,
            "pe_ohm": self.pe.shown(),
            "tilt": None if tilt is None else {"raw": list(tilt.raw),
                                               "deg": round(tilt.tilt_deg, 1)},
            "mobile": self.mobile_info(),
            "grid_warnings": dict(self.grid_warnings),
            "device_problems": dict(self.device_problems),
        }

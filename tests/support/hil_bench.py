"""The bench file of a hardware-in-the-loop (HIL) test bench, and its loader.

A bench is a controller board with real devices on its pins and buses, plus the test
equipment that acts on them (relays that open a door contact, press the stop button,
switch a test resistor between DC+ and PE...). ``EVSE_HIL_CONFIG`` names its bench file
(TOML); without it every test marked ``hil`` skips. Format (docs/hil.md has the wiring)::

    station = "bench-station.toml"   # the devices under test: an ordinary station file
                                     # (relative to this file), checked by the loader
    # Every key is optional: what a bench lacks, the tests that need it skip.
    [stimulus.doors]                 # one table per role the bench can act on
    open_pins = [5]                  # relay outputs that open door 1, 2, ... (high = open)
    [stimulus.stop_button]
    press_pin = 6                    # relay output that presses the stop button
    [stimulus.temperature]
    expect_c = [15.0, 35.0]          # what the sensor must read on the bench
    [stimulus.tilt]
    max_deg = 5.0                    # the bench stands level
    [stimulus.modem]
    sim = true                       # a SIM card is inserted
    [stimulus.imd]
    connector = 1
    fault_pin = 13                   # relay putting a 50 kOhm resistor from DC+ to PE
    [stimulus.rcd]
    connector = 1
    leak_pin = 19                    # relay letting a DC residual current flow (> 6 mA)
    [stimulus.led]
    connector = 1                    # no actuator: the colours are written, not checked
    [stimulus.display]               # no actuator: the text is written, not checked
    [stimulus.pilot]                 # EV simulator on the CP / PP lines
    connector = 1
    state_pins = { B = 7, C = 8, D = 9, E = 10 }  # relays: B 2.74 kOhm + diode CP-PE,
                                     # C / D 1.3 kOhm / 270 Ohm beside B's, E CP shorted
    pp_pins = { "220" = 11, "680" = 14 }  # relays: that resistor from PP to PE
    tolerance_v = 0.5                # how close the measured CP levels must be
    pp_tolerance = 0.05              # relative, for the PP resistance
    adc_power_pin = 15               # relay cutting the pilot ADC's supply
    [stimulus.contactor]
    sense_pin = 21                   # input: a second aux contact to GND (closed = low)
    weld_pin = 19                    # relay across the feedback contact (reads closed)
    coil_cut_pin = 20                # relay in the coil supply (contacts stay open)
    mech_ms = 100                    # how long the contacts take to move
    [stimulus.lock]
    sense_pin = 2                    # input: a second end switch to GND (locked = low)
    jam_pin = 3                      # relay cutting the motor supply (cannot move)
    block_pin = 12                   # solenoid holding the lock pin (stall current)
    [stimulus.rcd]                   # (also for a "gpio" RCD)
    reset_pin = 18                   # relay pulsing the RCD's reset input ...
    reset_ms = 200                   # ... for this long
    test_cut_pin = 0                 # relay in series with the test wire (test fails)
    [stimulus.meter]
    line_cut_pin = 1                 # relay opening the meter's RS-485 A line
    expect_v = [207.0, 253.0]        # plausible phase voltages of the bench supply
    [stimulus.token_reader]
    card_pins = { "04A2B3C4D5E6F7" = 27 }  # solenoid holding that card to the antenna
    power_pin = 26                   # relay cutting the reader's supply (unplugged)
    [stimulus.pe_monitor]
    expect_ohm = [0.0, 10.0]         # the bench's earth loop as the monitor must read it
    open_pin = 15                    # relay opening the PE conductor of the earth loop
    series_pin = 18                  # relay opening the bypass of a resistor in the loop
    series_ohm = 150.0               # ... of this value

The station file's pins, buses and addresses are the bench's; the stimulus pins are
outputs of the same board and must not be used by the station file (checked here).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware.config import StationConfig, load_station

ENV = "EVSE_HIL_CONFIG"
STIMULUS_ROLES = ("doors", "stop_button", "temperature", "tilt", "modem", "imd", "rcd",
                  "led", "display", "token_reader", "pilot", "contactor", "lock", "meter",
                  "pe_monitor")
# Keys whose value is a table of name -> GPIO (a pilot state, a PP resistance, a card UID).
PIN_TABLES = {("pilot", "state_pins"): ("B", "C", "D", "E"), ("pilot", "pp_pins"): None,
              ("token_reader", "card_pins"): None}


class BenchError(ValueError):
    """A bench file that cannot be used (the message names the file and the key)."""


@dataclass(frozen=True)
class Bench:
    """A loaded bench: its station configuration and what the bench can do per role."""

    path: Path
    station: StationConfig
    stimulus: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def has(self, role: str) -> bool:
        """The device of ``role`` is wired on this bench (in the station file)."""
        if role in self.station.devices:
            return True
        return any(role in c.devices for c in self.station.connectors)

    def can(self, role: str, key: str) -> bool:
        """The bench's stimulus for ``role`` has ``key`` (e.g. doors.open_pins)."""
        return key in self.stimulus.get(role, {})

    def connector_for(self, role: str) -> int:
        """The connector whose ``role`` device the bench tests (stimulus ``connector``,
        else the first connector that has one)."""
        wanted = self.stimulus.get(role, {}).get("connector")
        if isinstance(wanted, int):
            return wanted
        for c in self.station.connectors:
            if role in c.devices:
                return c.id
        raise BenchError(f"{self.path}: no connector has a {role}")


def load_bench(path: str | Path) -> Bench:
    """Read a bench file; raises :class:`BenchError` or the station's ``ConfigError``."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BenchError(f"{path}: {exc}") from None
    unknown = set(doc) - {"station", "stimulus"}
    if unknown:
        raise BenchError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    station_name = doc.get("station")
    if not isinstance(station_name, str):
        raise BenchError(f"{path}: station: the station file's name is required")
    station = load_station(path.parent / station_name)
    stimulus = doc.get("stimulus", {})
    if not isinstance(stimulus, dict):
        raise BenchError(f"{path}: stimulus: must be a table")
    for role, table in stimulus.items():
        if role not in STIMULUS_ROLES:
            raise BenchError(f"{path}: stimulus.{role}: unknown role")
        if not isinstance(table, dict):
            raise BenchError(f"{path}: stimulus.{role}: must be a table")
    _check_stimulus_pins(path, station, stimulus)
    return Bench(path, station, stimulus)


def _station_pins(station: StationConfig) -> dict[int, str]:
    used: dict[int, str] = {}
    sections = [*station.devices.values()]
    for c in station.connectors:
        sections.extend(c.devices.values())
    for device in sections:
        for name, value in device.params.items():
            values = value if isinstance(value, tuple) else (value,)
            if name.endswith(("pin", "pins")):
                for v in values:
                    if isinstance(v, int) and v >= 0:
                        used[v] = f"{device.key}.{name}"
    return used


def _check_stimulus_pins(path: Path, station: StationConfig,
                         stimulus: Mapping[str, Mapping[str, Any]]) -> None:
    used = _station_pins(station)
    for role, table in stimulus.items():
        for key, value in table.items():
            if not key.endswith(("pin", "pins")):
                continue
            if isinstance(value, dict):
                _check_pin_table(path, role, key, value)
                values = list(value.values())
            else:
                values = value if isinstance(value, list) else [value]
            for v in values:
                if not isinstance(v, int) or not 0 <= v <= 27:
                    raise BenchError(f"{path}: stimulus.{role}.{key}: {v!r} is not a GPIO")
                if v in used:
                    raise BenchError(
                        f"{path}: stimulus.{role}.{key}: GPIO {v} is {used[v]} of the station"
                    )
                used[v] = f"stimulus.{role}.{key}"


def _check_pin_table(path: Path, role: str, key: str, table: Mapping[str, Any]) -> None:
    if (role, key) not in PIN_TABLES:
        raise BenchError(f"{path}: stimulus.{role}.{key}: must be a GPIO or a list of them")
    names = PIN_TABLES[(role, key)]
    for name in table:
        if names is not None and name not in names:
            raise BenchError(f"{path}: stimulus.{role}.{key}.{name}: not one of "
                             f"{', '.join(names)}")
        if key == "pp_pins":
            try:
                float(name)
            except ValueError:
                raise BenchError(
                    f"{path}: stimulus.{role}.{key}.{name}: not a resistance in Ohm"
                ) from None


def bench_from_env() -> Bench | None:
    """The bench ``EVSE_HIL_CONFIG`` names, or None when it is not set."""
    name = os.environ.get(ENV)
    return load_bench(name) if name else None

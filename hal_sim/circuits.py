"""What sits behind the simulated wires of each connector.

The world model (``hal_sim.world``) works through these circuits: it sets the pilot
voltages the ADC sees, and watches the physical contactor, lock and RCD, which follow
the firmware's output pins the way the real parts do (with mechanical delays), unless a
fault flag says otherwise. Everything runs on the event loop thread: mock pin callbacks
run in the thread that changes the pin, and the firmware changes its outputs from the
loop. Delays use the running loop's ``call_later``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from firmware.config.model import StationConfig
from hal_sim.fake_smbus import Ads1115Model
from hal_sim.modbus_sim import Sdm630Model
from hal_sim.nfc_sim import FakeClf
from hal_sim.pins import SimPinFactory
from hal_sim.sim_wiring import SimWiring


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # e.g. a driver closed after the loop stopped
        return None


class PilotCircuit:
    """The CP generator output and the CP/PP measurement inputs of the ADC.

    ``set_levels`` takes the pilot as the EV side makes it (volts, PP ohms) and puts the
    ADC voltages the driver's conversion expects (the inverse of it) on the channels.
    """

    def __init__(
        self, params: Mapping[str, Any], pins: SimPinFactory, adc: Ads1115Model
    ) -> None:
        self._pins = pins
        self._adc = adc
        self._pwm_pin: int = params["pwm_pin"]
        self._cp_high_ch: int = params.get("cp_high_channel", 0)
        self._cp_low_ch: int = params.get("cp_low_channel", 1)
        self._pp_ch: int = params.get("pp_channel", -1)
        self._offset_v: float = params.get("cp_offset_v", 1.65)
        self._gain: float = params.get("cp_gain", 8.0)
        self._pullup_ohm: float = params.get("pp_pullup_ohm", 1000.0)
        self._vref_v: float = params.get("pp_vref_v", 3.3)
        self._levels: tuple[float, float, float | None] = (12.0, 12.0, None)
        self.set_levels(12.0, 12.0, None)  # state A, no PWM: both peaks at +12 V

    @property
    def adc(self) -> Ads1115Model:
        return self._adc

    def set_levels(self, cp_high_v: float, cp_low_v: float, pp_ohm: float | None) -> None:
        """Pilot high/low levels (volts) and PP-PE resistance (None or inf: open)."""
        self._levels = (cp_high_v, cp_low_v, pp_ohm)
        self._adc.set_channel(self._cp_high_ch, cp_high_v / self._gain + self._offset_v)
        self._adc.set_channel(self._cp_low_ch, cp_low_v / self._gain + self._offset_v)
        if self._pp_ch >= 0:
            if pp_ohm is None or math.isinf(pp_ohm):
                pp_v = self._vref_v
            else:
                pp_v = self._vref_v * pp_ohm / (pp_ohm + self._pullup_ohm)
            self._adc.set_channel(self._pp_ch, pp_v)

    @property
    def levels(self) -> tuple[float, float, float | None]:
        """What was last set: (cp_high_v, cp_low_v, pp_ohm)."""
        return self._levels

    @property
    def duty(self) -> float:
        """The CP duty the firmware drives, percent: 100 = +12 V, 0 = -12 V (also before
        the firmware claims the pin)."""
        return self._pins.level(self._pwm_pin) * 100.0

    @property
    def frequency_hz(self) -> float | None:
        frequency = self._pins.pin(self._pwm_pin).frequency
        return None if frequency is None else float(frequency)

    def on_duty(self, callback: Callable[[float], None]) -> None:
        """Call ``callback(duty_percent)`` whenever the firmware changes the PWM."""
        self._pins.observe(self._pwm_pin, lambda value: callback(value * 100.0))


class ContactorCircuit:
    """Coil relay output -> contacts -> auxiliary contact (feedback) input.

    The contacts follow the coil after ``mech_delay_s``. Fault flags take effect at
    once: ``welded = True`` holds the contacts closed, ``stuck_open = True`` holds them
    open (``welded`` wins if both are set); clearing a flag lets them follow the coil
    again after the mechanical delay.
    """

    def __init__(
        self, params: Mapping[str, Any], pins: SimPinFactory, mech_delay_s: float = 0.02
    ) -> None:
        self._pins = pins
        self._out_pin: int = params["pin"]
        self._active_high: bool = params.get("active_high", True)
        self._fb_pin: int = params.get("feedback_pin", -1)
        self._fb_active_high: bool = params.get("feedback_active_high", True)
        self.mech_delay_s = mech_delay_s
        self._welded = False
        self._stuck_open = False
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self._callbacks: list[Callable[[bool], None]] = []
        self.last_open_command_t: float | None = None  # time.perf_counter(), for benchmarks
        self.last_close_command_t: float | None = None
        self._drive_feedback()
        pins.observe(self._out_pin, self._on_output)

    @property
    def closed(self) -> bool:
        """The physical state of the main contacts."""
        return self._closed

    @property
    def coil_energised(self) -> bool:
        return (self._pins.level(self._out_pin) >= 0.5) == self._active_high

    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(closed)`` whenever the contacts move."""
        self._callbacks.append(callback)

    @property
    def welded(self) -> bool:
        return self._welded

    @welded.setter
    def welded(self, value: bool) -> None:
        self._welded = value
        if value:
            self._apply(True)
        else:
            self._schedule()

    @property
    def stuck_open(self) -> bool:
        return self._stuck_open

    @stuck_open.setter
    def stuck_open(self, value: bool) -> None:
        self._stuck_open = value
        if value and not self._welded:
            self._apply(False)
        else:
            self._schedule()

    def _target(self) -> bool:
        if self._welded:
            return True
        if self._stuck_open:
            return False
        return self.coil_energised

    def _on_output(self, value: float) -> None:
        if self.coil_energised:
            self.last_close_command_t = time.perf_counter()
        else:
            self.last_open_command_t = time.perf_counter()
        self._schedule()

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = _running_loop()
        if loop is None:
            self._settle()
        else:
            self._timer = loop.call_later(self.mech_delay_s, self._settle)

    def _settle(self) -> None:
        self._timer = None
        self._apply(self._target())

    def _apply(self, closed: bool) -> None:
        if closed == self._closed:
            return
        self._closed = closed
        self._drive_feedback()
        for callback in list(self._callbacks):
            callback(closed)

    def _drive_feedback(self) -> None:
        if self._fb_pin >= 0:
            self._pins.pin(self._fb_pin).drive(self._closed == self._fb_active_high)


class LockCircuit:
    """H-bridge -> lock motor -> end-position switch, and the motor current on an ADC.

    The motor moves while exactly one direction pin is high; after ``travel_s`` of drive
    in one direction it reaches the end and the switch reports it. Partial moves are
    remembered. Fault flags: ``jammed`` (the pin does not move, the current looks
    normal: only the switch shows it), ``open_load`` (motor wire open: no current, no
    movement) and ``blocked`` (the pin is held, e.g. the plug is not fully in: stall
    current, no movement).

    With an ``adc`` (the lock's current sensing: ``bus`` / ``address`` / ``channel``
    of its section) the motor current is put on that channel through the amplifier's
    scale: 0 A undriven, ``STALL_A`` for ``inrush_s`` after the motor starts, then
    ``RUN_A`` while it moves and ``STALL_A`` when it is held (blocked, or driven against
    its end stop).
    """

    RUN_A = 0.3
    STALL_A = 2.5

    def __init__(
        self,
        params: Mapping[str, Any],
        pins: SimPinFactory,
        travel_s: float = 0.15,
        adc: Ads1115Model | None = None,
    ) -> None:
        self._pins = pins
        self._lock_pin: int = params["lock_pin"]
        self._unlock_pin: int = params["unlock_pin"]
        self._fb_pin: int = params["feedback_pin"]
        self._fb_locked_high: bool = params.get("feedback_locked_high", True)
        self._adc = adc
        self._adc_ch: int = params.get("channel", 0)
        self._a_per_volt: float = params.get("current_a_per_volt", 1.0)
        self._offset_v: float = params.get("current_offset_v", 0.0)
        self.travel_s = travel_s
        self.inrush_s = 0.01
        self._jammed = False
        self._open_load = False
        self._blocked = False
        self.both_driven = 0  # times the firmware drove both H-bridge inputs at once
        self.last_drive_s: float | None = None  # how long the last drive lasted (loop time)
        self._drive_started = 0.0
        self._position = 0.0  # 0 = unlocked, 1 = locked
        self._direction = 0
        self._since = 0.0
        self._inrush = False
        self._timer: asyncio.TimerHandle | None = None
        self._inrush_timer: asyncio.TimerHandle | None = None
        self._callbacks: list[Callable[[bool], None]] = []
        self._drive_feedback()
        self._drive_current()
        pins.observe(self._lock_pin, self._on_drive)
        pins.observe(self._unlock_pin, self._on_drive)

    @property
    def locked(self) -> bool:
        """The physical state: the lock pin is fully out."""
        return self._position >= 1.0

    @property
    def position(self) -> float:
        """0.0 unlocked .. 1.0 locked."""
        return self._position

    @property
    def jammed(self) -> bool:
        return self._jammed

    @jammed.setter
    def jammed(self, value: bool) -> None:
        self._set_flag("_jammed", value)

    @property
    def open_load(self) -> bool:
        return self._open_load

    @open_load.setter
    def open_load(self, value: bool) -> None:
        self._set_flag("_open_load", value)

    @property
    def blocked(self) -> bool:
        return self._blocked

    @blocked.setter
    def blocked(self, value: bool) -> None:
        self._set_flag("_blocked", value)

    @property
    def current_a(self) -> float:
        """The motor current now."""
        if self._direction == 0 or self._open_load:
            return 0.0
        if self._blocked or self._inrush:
            return self.STALL_A
        if self._jammed:
            return self.RUN_A
        at_end = self._position >= 1.0 if self._direction > 0 else self._position <= 0.0
        return self.STALL_A if at_end else self.RUN_A

    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(locked)`` whenever the end position changes."""
        self._callbacks.append(callback)

    def _stuck(self) -> bool:
        return self._jammed or self._open_load or self._blocked

    def _set_flag(self, name: str, value: bool) -> None:
        loop = _running_loop()
        now = loop.time() if loop is not None else 0.0
        self._advance(now)  # the move so far counts under the old flags
        self._since = now
        setattr(self, name, value)
        self._schedule_arrival(loop)
        self._drive_current()

    def _on_drive(self, _value: float) -> None:
        lock_on = self._pins.level(self._lock_pin) >= 0.5
        unlock_on = self._pins.level(self._unlock_pin) >= 0.5
        if lock_on and unlock_on:
            self.both_driven += 1
        direction = (1 if lock_on else 0) - (1 if unlock_on else 0)
        if direction == self._direction:
            return
        loop = _running_loop()
        now = loop.time() if loop is not None else 0.0
        self._advance(now)
        started = self._direction == 0 and direction != 0
        if started:
            self._drive_started = now
        elif direction == 0:
            self.last_drive_s = now - self._drive_started
        self._direction = direction
        self._since = now
        if self._inrush_timer is not None:
            self._inrush_timer.cancel()
            self._inrush_timer = None
        self._inrush = started and loop is not None and self.inrush_s > 0
        if self._inrush and loop is not None:
            self._inrush_timer = loop.call_later(self.inrush_s, self._inrush_over)
        self._schedule_arrival(loop)
        self._drive_current()

    def _schedule_arrival(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._direction != 0 and loop is not None and not self._stuck():
            remaining = (1.0 - self._position) if self._direction > 0 else self._position
            self._timer = loop.call_later(remaining * self.travel_s, self._arrive)

    def _inrush_over(self) -> None:
        self._inrush_timer = None
        self._inrush = False
        self._drive_current()

    def _advance(self, now: float) -> None:
        if self._direction == 0 or self._stuck() or self.travel_s <= 0:
            return
        moved = (now - self._since) / self.travel_s * self._direction
        self._set_position(min(1.0, max(0.0, self._position + moved)))

    def _arrive(self) -> None:
        self._timer = None
        if not self._stuck():
            self._set_position(1.0 if self._direction > 0 else 0.0)
            self._drive_current()

    def _set_position(self, position: float) -> None:
        was_locked = self.locked
        self._position = position
        self._drive_feedback()
        if self.locked != was_locked:
            for callback in list(self._callbacks):
                callback(self.locked)

    def _drive_feedback(self) -> None:
        self._pins.pin(self._fb_pin).drive(self.locked == self._fb_locked_high)

    def _drive_current(self) -> None:
        if self._adc is not None:
            self._adc.set_channel(self._adc_ch,
                                  self.current_a / self._a_per_volt + self._offset_v)


class RcdCircuit:
    """The RCD's trip contact on the trip input, and its test input.

    ``trip()`` / ``reset()`` make the residual-current trip happen and clear it. While
    the firmware drives the test pin high the trip contact follows (self-test), unless
    ``test_broken = True``.
    """

    def __init__(self, params: Mapping[str, Any], pins: SimPinFactory) -> None:
        self._pins = pins
        self._trip_pin: int = params["trip_pin"]
        self._active_low: bool = params.get("trip_active_low", True)
        self._test_pin: int = params.get("test_pin", -1)
        self.test_broken = False
        self._fault = False
        self._testing = False
        self.tests = 0
        self._callbacks: list[Callable[[bool], None]] = []
        self._tripped = False
        self._drive()
        if self._test_pin >= 0:
            pins.observe(self._test_pin, self._on_test)

    @property
    def tripped(self) -> bool:
        """The trip contact as the firmware sees it (fault or test)."""
        return self._tripped

    def on_change(self, callback: Callable[[bool], None]) -> None:
        self._callbacks.append(callback)

    def trip(self) -> None:
        """A residual current trips the device."""
        self._fault = True
        self._drive()

    def reset(self) -> None:
        """The trip is reset (the residual current is gone)."""
        self._fault = False
        self._drive()

    def _on_test(self, value: float) -> None:
        testing = value >= 0.5
        if testing and not self._testing:
            self.tests += 1
        self._testing = testing
        self._drive()

    def _drive(self) -> None:
        tripped = self._fault or (self._testing and not self.test_broken)
        self._pins.pin(self._trip_pin).drive(tripped != self._active_low)
        if tripped != self._tripped:
            self._tripped = tripped
            for callback in list(self._callbacks):
                callback(tripped)


@dataclass
class ConnectorCircuits:
    """The circuits of one connector (None where the connector has no such part)."""

    connector_id: int
    pilot: PilotCircuit | None = None
    contactor: ContactorCircuit | None = None
    lock: LockCircuit | None = None
    rcd: RcdCircuit | None = None
    meter: Sdm630Model | None = None
    led: Any = None  # hal_sim.station_circuits.LedRingView
    imd: Any = None  # hal_sim.station_circuits.ImdCircuit (Bender IMD's alarm relay)


@dataclass
class SimHardware:
    """Every connector's circuits plus the station's NFC reader and the station-level
    circuits (``station``: doors, stop button, temperature, tilt, display, modem, LED
    rings; see :mod:`hal_sim.station_circuits`)."""

    connectors: dict[int, ConnectorCircuits] = field(default_factory=dict)
    reader: FakeClf = field(default_factory=FakeClf)
    station: Any = None  # hal_sim.station_circuits.StationCircuits

    def connector(self, connector_id: int) -> ConnectorCircuits:
        return self.connectors[connector_id]

    @classmethod
    def build(cls, config: StationConfig, wiring: SimWiring) -> SimHardware:
        """Put a circuit behind every configured wire-level device."""
        pins = wiring.pin_factory()
        hw = cls(reader=wiring.nfc)
        for connector in config.connectors:
            circuits = ConnectorCircuits(connector.id)
            devices = connector.devices
            pilot = devices.get("pilot")
            if pilot is not None and pilot.driver == "ads1115":
                adc = wiring.adc(pilot.params)
                if adc is not None:
                    circuits.pilot = PilotCircuit(pilot.params, pins, adc)
            contactor = devices.get("contactor")
            if contactor is not None and contactor.driver == "gpio":
                circuits.contactor = ContactorCircuit(contactor.params, pins)
            lock = devices.get("lock")
            if lock is not None and lock.driver == "gpio_hbridge":
                # With current sensing (a `bus`), the motor current goes to its ADS1115.
                circuits.lock = LockCircuit(lock.params, pins, adc=wiring.adc(lock.params))
            rcd = devices.get("rcd")
            if rcd is not None and rcd.driver == "gpio":
                circuits.rcd = RcdCircuit(rcd.params, pins)
            meter = devices.get("meter")
            if meter is not None and meter.driver == "sdm630":
                circuits.meter = wiring.meter_model(meter.params["bus"], meter.params["address"])
            hw.connectors[connector.id] = circuits
        from hal_sim.station_circuits import build_station_circuits  # late: imports this one

        hw.station = build_station_circuits(wiring, hw.connectors, hw.reader)
        return hw

    def readings(self) -> dict[str, Any]:
        """Every simulated station device's physical state, JSON-ready (for
        ``GET /api/sim/state``)."""
        return dict(self.station.readings()) if self.station is not None else {}

    def attach_world(self, world: Any) -> None:
        """Let circuits that follow the world (IMD relays) subscribe to it; call once the
        ``hal_sim.world.World`` is built."""
        if self.station is not None:
            self.station.attach_world(world)

"""What sits behind the station-level wires (and the connector extras of this issue).

* :class:`ContactCircuit`: door contacts / the stop button, wired fail-safe: the contact
  drives the safe level, a broken wire leaves the pin to its pull resistor.
* :class:`RdcCircuit`: an RDC-DD module (an :class:`~hal_sim.circuits.RcdCircuit` with a
  latching trip, a reset input and an analog output on an ADS1115 channel).
* :class:`ImdCircuit`: the Bender IMD's alarm relay on its GPIO input.
* :class:`LedRingView`: the colour a PCA9685 shows on a connector's three channels.
* :class:`StationCircuits`: all of the above plus the TMP117, ADXL345, LCD and modem
  models, the PE monitor front end (:class:`hal_sim.pe_sim.PeCircuit`), and
  :meth:`StationCircuits.readings` for ``GET /api/sim/state``.

Everything runs on the event loop thread, like :mod:`hal_sim.circuits`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drivers.params import normalise_port
from hal_sim.circuits import RcdCircuit
from hal_sim.fake_smbus import Ads1115Model
from hal_sim.i2c_models import Adxl345Model, Hd44780Model, Pca9685Model, Tmp117Model
from hal_sim.imd_sim import BenderModel
from hal_sim.modem_sim import ModemPeer
from hal_sim.nfc_sim import FakeClf
from hal_sim.pe_sim import PeCircuit
from hal_sim.pins import SimPinFactory
from hal_sim.station_models import chip_at

if TYPE_CHECKING:
    from hal_sim.circuits import ConnectorCircuits
    from hal_sim.sim_wiring import SimWiring

# --------------------------------------------------------------------------- contacts


class ContactCircuit:
    """Fail-safe contacts: each one, while ``safe``, drives ``safe_level`` on its pin;
    unsafe (door open, button pressed) it opens and the pull resistor sets the level.
    ``break_wire(n)`` cuts contact n's wire (reads unsafe whatever the contact does);
    ``short_wire(n)`` ties it to the safe level (reads safe whatever happens: the fault
    a single contact cannot show). Contacts are numbered from 1."""

    def __init__(self, pins: SimPinFactory, numbers: tuple[int, ...], safe_level: str) -> None:
        self._pins = pins
        self.numbers = numbers
        self._safe_high = safe_level == "high"
        self._safe = [True] * len(numbers)
        self._broken = [False] * len(numbers)
        self._shorted = [False] * len(numbers)
        for n in range(1, len(numbers) + 1):
            self._drive(n)

    def set_safe(self, n: int, safe: bool) -> None:
        self._safe[n - 1] = safe
        self._drive(n)

    def break_wire(self, n: int, broken: bool = True) -> None:
        self._broken[n - 1] = broken
        self._drive(n)

    def short_wire(self, n: int, shorted: bool = True) -> None:
        self._shorted[n - 1] = shorted
        self._drive(n)

    def broken(self, n: int) -> bool:
        return self._broken[n - 1]

    def unsafe(self) -> list[int]:
        """Contacts physically in the unsafe state (not what the wires show)."""
        return [n for n, safe in enumerate(self._safe, 1) if not safe]

    def _drive(self, n: int) -> None:
        pin = self._pins.pin(self.numbers[n - 1])
        if self._shorted[n - 1]:
            pin.drive(self._safe_high)
        elif self._broken[n - 1] or not self._safe[n - 1]:
            # An open contact drives nothing: the input's pull resistor sets the level.
            pin.release()
        else:
            pin.drive(self._safe_high)


class DoorCircuit(ContactCircuit):
    """The service doors' contacts (safe = closed)."""

    def set_open(self, door: int, open_: bool) -> None:
        self.set_safe(door, not open_)

    def set_all_open(self, open_: bool) -> None:
        for n in range(1, len(self.numbers) + 1):
            self.set_safe(n, not open_)

    @property
    def open_doors(self) -> list[int]:
        return self.unsafe()


class StopButtonCircuit(ContactCircuit):
    """The stop button (safe = released)."""

    def press(self) -> None:
        self.set_safe(1, False)

    def release_button(self) -> None:
        self.set_safe(1, True)

    @property
    def pressed(self) -> bool:
        return bool(self.unsafe())


# --------------------------------------------------------------------------- RDC-DD


class RdcCircuit(RcdCircuit):
    """An RDC-DD module: the trip latches (a DC residual current at or above the trip
    level, the test current, or the AC trip) until the firmware pulses the reset input
    with the cause gone. ``reset()`` (the world clearing fault 106) is the engineer's
    reset on site: cause gone and latch released. The analog output shows the DC
    residual current (or the test current during a test) on the ADC channel.

    Faults: ``test_broken`` (the test current does not flow), ``stuck_tripped`` (the
    trip output wire stuck at the tripped level), ``output_override_v`` (the analog
    output at a fixed, e.g. impossible, voltage), ``adc.silent``."""

    TEST_CURRENT_MA = 10.0

    def __init__(self, params: Mapping[str, Any], pins: SimPinFactory,
                 adc: Ads1115Model | None) -> None:
        self._rdc_ready = False
        self._latched = False
        self._dc_ma = 0.0
        self.stuck_tripped = False
        self.output_override_v: float | None = None
        self.resets = 0
        self._adc = adc
        self._channel: int = params.get("channel", 0)
        self._offset_v: float = params.get("offset_v", 0.0)
        self._ma_per_volt: float = params.get("ma_per_volt", 10.0)
        self._trip_ma: float = params.get("dc_trip_ma", 6.0)
        self._reset_pin: int = params.get("reset_pin", -1)
        self._resetting = False
        super().__init__(params, pins)
        self._rdc_ready = True
        if self._reset_pin >= 0:
            pins.observe(self._reset_pin, self._on_reset)
        self._drive()

    @property
    def adc(self) -> Ads1115Model | None:
        return self._adc

    @property
    def dc_leakage_ma(self) -> float:
        return self._dc_ma

    def set_dc_leakage(self, ma: float) -> None:
        """A smooth DC residual current flows (trips and latches at the trip level)."""
        self._dc_ma = max(0.0, ma)
        self._drive()

    def reset(self) -> None:
        self._dc_ma = 0.0
        self._latched = False
        super().reset()

    def _on_reset(self, value: float) -> None:
        pulsing = value >= 0.5
        if pulsing and not self._resetting:
            self.resets += 1
            # The module releases only when nothing would trip it again at once.
            if not self._fault and self._dc_ma < self._trip_ma and not self._testing:
                self._latched = False
        self._resetting = pulsing
        self._drive()

    def _drive(self) -> None:
        if not self._rdc_ready:  # the base class drives once before we are set up
            super()._drive()
            return
        test_current = self._testing and not self.test_broken
        if self._fault or test_current or self._dc_ma >= self._trip_ma:
            self._latched = True
        tripped = self._latched or self.stuck_tripped
        self._pins.pin(self._trip_pin).drive(tripped != self._active_low)
        if self._adc is not None:
            ma = max(self._dc_ma, self.TEST_CURRENT_MA if test_current else 0.0)
            volts = self._offset_v + ma / self._ma_per_volt
            if self.output_override_v is not None:
                volts = self.output_override_v
            self._adc.set_channel(self._channel, volts)
        if tripped != self._tripped:
            self._tripped = tripped
            for callback in list(self._callbacks):
                callback(tripped)


# --------------------------------------------------------------------------- IMD relay


class ImdCircuit:
    """The alarm relay of a Bender IMD on its GPIO input: alarm (or device error) opens
    the contact and the pull resistor shows the alarm level. ``relay_broken`` cuts the
    relay wire (reads alarm)."""

    def __init__(self, params: Mapping[str, Any], pins: SimPinFactory, model: BenderModel
                 ) -> None:
        self.model = model
        self._relay = ContactCircuit(pins, (int(params["alarm_pin"]),),
                                     params.get("ok_level", "low"))
        self._timer: asyncio.TimerHandle | None = None
        self._world_attached = False
        model.on_change(self.update)
        model.on_world(lambda conn: self.attach_world(conn.subscribe_imd))
        self.update()

    @property
    def relay_broken(self) -> bool:
        return self._relay.broken(1)

    @relay_broken.setter
    def relay_broken(self, value: bool) -> None:
        self._relay.break_wire(1, value)

    @property
    def alarm(self) -> bool:
        """The relay's state (not what the wire shows)."""
        return bool(self._relay.unsafe())

    def update(self) -> None:
        """Move the relay to where the IMD's state says; re-check when a test ends."""
        self._relay.set_safe(1, not self.model.relay_alarm())
        remaining = self.model.test_remaining_s()
        if remaining is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_later(remaining + 0.001, self.update)

    def attach_world(self, subscribe: Callable[[Callable[[bool], None]], None]) -> None:
        """Follow the world's insulation changes (``ConnectorSim.subscribe_imd``); done
        by itself at the IMD's first Modbus request, or earlier by
        :meth:`StationCircuits.attach_world`."""
        if self._world_attached:
            return
        self._world_attached = True
        subscribe(lambda _alarm: self.update())
        self.update()


# --------------------------------------------------------------------------- LED ring


@dataclass
class LedRingView:
    """A connector's LED ring: three channels of a PCA9685 model."""

    chip: Pca9685Model
    channels: tuple[int, int, int]

    @property
    def rgb(self) -> tuple[int, int, int]:
        return self.chip.rgb(self.channels)

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


# --------------------------------------------------------------------------- station


@dataclass
class StationCircuits:
    """The station-level parts of a simulated station (None where not configured)."""

    doors: DoorCircuit | None = None
    stop_button: StopButtonCircuit | None = None
    temperature: Tmp117Model | None = None
    tilt: Adxl345Model | None = None
    display: Hd44780Model | None = None
    display_size: tuple[int, int] = (20, 4)
    modem: ModemPeer | None = None
    reader: FakeClf | None = None
    pe_monitor: PeCircuit | None = None
    leds: dict[int, LedRingView] = field(default_factory=dict)
    rdcs: dict[int, RdcCircuit] = field(default_factory=dict)
    imds: dict[int, ImdCircuit] = field(default_factory=dict)

    def readings(self) -> dict[str, Any]:
        """Every simulated station device's physical state, JSON-ready."""
        data: dict[str, Any] = {}
        if self.doors is not None:
            data["doors"] = {"open_doors": self.doors.open_doors,
                             "open": bool(self.doors.open_doors)}
        if self.stop_button is not None:
            data["stop_button"] = {"pressed": self.stop_button.pressed}
        if self.temperature is not None:
            data["temperature"] = {"celsius": round(self.temperature.temperature_c, 2),
                                   "silent": self.temperature.silent}
        if self.tilt is not None:
            g = self.tilt.gravity_g
            data["tilt"] = {"g": [round(v, 3) for v in g], "raw": list(self.tilt.counts()),
                            "silent": self.tilt.silent}
        if self.display is not None:
            columns, rows = self.display_size
            data["display"] = {"lines": self.display.lines(columns, rows),
                               "backlight": self.display.backlight}
        if self.modem is not None:
            data["modem"] = self.modem.state()
        if self.reader is not None:
            data["token_reader"] = {"plugged": self.reader.plugged}
        if self.pe_monitor is not None:
            data["pe_monitor"] = self.pe_monitor.readings()
        connectors: dict[str, Any] = {}
        for cid in sorted({*self.leds, *self.rdcs, *self.imds}):
            view: dict[str, Any] = {}
            if cid in self.leds:
                view["led"] = self.leds[cid].hex
            if cid in self.rdcs:
                rdc = self.rdcs[cid]
                view["rdc"] = {"tripped": rdc.tripped, "dc_leakage_ma": rdc.dc_leakage_ma}
            if cid in self.imds:
                imd = self.imds[cid]
                view["imd"] = {"insulation_ohm": imd.model.resistance(),
                               "relay_alarm": imd.alarm, "self_tests": imd.model.self_tests}
            connectors[str(cid)] = view
        data["connectors"] = connectors
        return data

    def attach_world(self, world: Any) -> None:
        """Let the IMD relays follow the world's insulation (fault 18 on DC); the PE
        monitor shows the world's earth loop."""
        if self.pe_monitor is not None:
            self.pe_monitor.set_ohm(world.pe_ohm)
        for cid, imd in self.imds.items():
            conn = world.connectors.get(cid)
            if conn is not None:
                imd.attach_world(conn.subscribe_imd)


def build_station_circuits(
    wiring: SimWiring, connectors: Mapping[int, ConnectorCircuits], reader: FakeClf | None
) -> StationCircuits:
    """Circuits behind the station devices' wires, and the connector extras (an RDC-DD
    replaces the connector's ``rcd`` circuit; ``led`` and ``imd`` are set)."""
    config = wiring.config
    pins = wiring.pin_factory()
    st = StationCircuits(reader=reader if "token_reader" in config.devices else None)
    devices = config.devices
    doors = devices.get("doors")
    if doors is not None and doors.driver == "gpio":
        st.doors = DoorCircuit(pins, tuple(doors.params["pins"]),
                               doors.params.get("closed_level", "low"))
    stop = devices.get("stop_button")
    if stop is not None and stop.driver == "gpio":
        st.stop_button = StopButtonCircuit(pins, (int(stop.params["pin"]),),
                                           stop.params.get("released_level", "low"))
    for role, attr in (("temperature", "temperature"), ("tilt", "tilt"),
                       ("display", "display")):
        device = devices.get(role)
        if device is not None and "address" in device.params:
            setattr(st, attr, chip_at(wiring, device.params))
    display = devices.get("display")
    if display is not None and display.driver == "hd44780":
        st.display_size = (int(display.params["columns"]), int(display.params["rows"]))
    pe = devices.get("pe_monitor")
    if pe is not None and pe.driver == "ads1115":
        adc = wiring.adc(pe.params)
        if adc is not None:
            st.pe_monitor = PeCircuit(pe.params, adc)
    modem = devices.get("modem")
    if modem is not None:
        st.modem = wiring.serial_peers.get(normalise_port(modem.params["port"]))
    for connector in config.connectors:
        circuits = connectors.get(connector.id)
        if circuits is None:
            continue
        _connector_extras(wiring, pins, st, connector.id, connector.devices, circuits)
    return st


def _connector_extras(wiring: SimWiring, pins: SimPinFactory, st: StationCircuits, cid: int,
                      devices: Mapping[str, Any], circuits: ConnectorCircuits) -> None:
    led = devices.get("led")
    if led is not None and led.driver == "pca9685":
        chip = chip_at(wiring, led.params)
        if isinstance(chip, Pca9685Model):
            p = led.params
            view = LedRingView(chip, (p["red_channel"], p["green_channel"], p["blue_channel"]))
            st.leds[cid] = circuits.led = view
    rcd = devices.get("rcd")
    if rcd is not None and rcd.driver == "rdc_dd":
        adc = chip_at(wiring, rcd.params) if rcd.params.get("bus") else None
        rdc = RdcCircuit(rcd.params, pins, adc if isinstance(adc, Ads1115Model) else None)
        st.rdcs[cid] = rdc
        circuits.rcd = rdc
    imd = devices.get("imd")
    if imd is not None and imd.driver == "bender_isocha425":
        model = wiring.modbus_device(imd.params["bus"], imd.params["address"])
        if isinstance(model, BenderModel):
            st.imds[cid] = circuits.imd = ImdCircuit(imd.params, pins, model)

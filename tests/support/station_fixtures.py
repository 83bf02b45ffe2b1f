"""Rigs for the contract tests of the station devices (doors, stop button, RDC-DD, Bender
IMD, TMP117, ADXL345, PCA9685 LED ring, HD44780 display, AT modem).

Each rig fixture runs twice: on the simulator (``sim``, every CI run) and on a bench
(``hil``, marked ``hil``: ``make hil`` / ``EVSE_HIL=1 pytest -m hil``), which skips unless
``EVSE_HIL_CONFIG`` names a bench file that has the device (:mod:`tests.support.hil_bench`). A
test uses only the rig's methods; what a rig cannot do (a bench cannot break a wire on
command) it refuses with ``rig.require("capability")``, which skips the test.

Use from a test module: ``pytest_plugins = ("tests.support.station_fixtures",)`` and import names
from here only under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

from drivers.adxl345 import Adxl345Tilt
from drivers.context import DriverContext
from drivers.display import Hd44780Display
from drivers.doors import GpioDoors, GpioStopButton
from drivers.imd_bender import BenderIsoCha425
from drivers.leds import Pca9685Ring
from drivers.modem import AtModem
from drivers.rdc import RdcDd
from drivers.registry import driver_class
from drivers.tmp117 import Tmp117
from drivers.wiring import BoardWiring
from firmware.clock import ManualClock
from firmware.config.model import (
    DeviceConfig,
    StationConfig,
)
from hal_sim.circuits import SimHardware
from hal_sim.i2c_models import Adxl345Model
from hal_sim.sim_wiring import SimWiring
from hal_sim.station_circuits import StationCircuits
from tests.support.hil_bench import Bench, bench_from_env
from tests.support.station_configs import rig_station


async def eventually(predicate: Callable[[], bool], within_s: float = 3.0) -> None:
    """Wait until ``predicate()`` holds; fail after ``within_s``."""
    async with asyncio.timeout(within_s):
        while not predicate():
            await asyncio.sleep(0.002)


RIG_KINDS = ["sim", pytest.param("hil", marks=pytest.mark.hil)]


# ------------------------------------------------------------------ sim / bench stations


class RigStation:
    """A station's wiring with its bus owners (started on demand) and drivers."""

    kind = ""

    def __init__(self, config: StationConfig, wiring: Any) -> None:
        self.config = config
        self.wiring = wiring
        self.clock = ManualClock()
        self.buses: dict[str, Any] = {}

    async def bus(self, name: str) -> Any:
        if name not in self.buses:
            cfg = self.config.buses[name]
            ctx = DriverContext(self.wiring, 0, cfg.key, {}, time.monotonic)
            owner = driver_class(f"bus.{cfg.kind}", cfg.driver)(cfg.params, ctx)
            await owner.start()
            self.buses[name] = owner
        return self.buses[name]

    async def build(self, device: DeviceConfig, connector_id: int = 0) -> Any:
        """The driver of ``device``, started, with its bus borrowed."""
        bus_name = device.params.get("bus")
        if bus_name:
            await self.bus(bus_name)
        ctx = DriverContext(self.wiring, connector_id, device.key, self.buses,
                            self.clock.monotonic)
        driver = driver_class(device.role, device.driver)(device.params, ctx)
        await driver.start()
        return driver

    async def close(self) -> None:
        for owner in self.buses.values():
            await owner.release()


class SimRigStation(RigStation):
    """The rig station on simulated wires."""

    kind = "sim"

    def __init__(self, config: StationConfig) -> None:
        super().__init__(config, SimWiring(config))
        self.hw = SimHardware.build(config, self.wiring)

    @property
    def station(self) -> StationCircuits:
        assert isinstance(self.hw.station, StationCircuits)
        return self.hw.station

    async def close(self) -> None:
        await super().close()
        await self.wiring.stop()


class HilRigStation(RigStation):
    """The bench's station on the board's real pins and buses; relays for stimulus."""

    kind = "hil"

    def __init__(self, bench: Bench) -> None:
        super().__init__(bench.station, BoardWiring())
        self.bench = bench
        self._relays: dict[int, Any] = {}

    def relay(self, pin: int, on: bool) -> None:
        from gpiozero import DigitalOutputDevice

        if pin not in self._relays:
            self._relays[pin] = DigitalOutputDevice(
                pin, initial_value=False, pin_factory=self.wiring.pin_factory()
            )
        self._relays[pin].value = on

    def stimulus(self, role: str) -> Mapping[str, Any]:
        return self.bench.stimulus.get(role, {})

    async def close(self) -> None:
        for relay in self._relays.values():
            relay.off()
            relay.close()
        await super().close()


@pytest.fixture(params=RIG_KINDS)
async def rig_station_kind(request: pytest.FixtureRequest) -> AsyncIterator[RigStation]:
    if request.param == "hil":
        bench = bench_from_env()
        if bench is None:
            pytest.skip("EVSE_HIL_CONFIG is not set: no bench")
        st: RigStation = HilRigStation(bench)
    else:
        sim = SimRigStation(rig_station())
        await sim.wiring.start()
        st = sim
    try:
        yield st
    finally:
        await st.close()


class Rig:
    """Base of every rig: capabilities, the station and its kind."""

    capabilities: frozenset[str] = frozenset()

    def __init__(self, st: RigStation) -> None:
        self.st = st
        self.clock = st.clock

    @property
    def sim(self) -> StationCircuits:
        """The simulated circuits (sim rigs only)."""
        assert isinstance(self.st, SimRigStation)
        return self.st.station

    @staticmethod
    def _pin(pin: int | None) -> int:
        assert pin is not None  # the capability was required first
        return pin

    def require(self, capability: str) -> None:
        if capability not in self.capabilities:
            pytest.skip(f"{type(self).__name__} on {self.st.kind} cannot {capability}")

    async def eventually(self, predicate: Callable[[], bool], within_s: float = 3.0) -> None:
        await eventually(predicate, within_s)


def _need(st: RigStation, role: str) -> None:
    if isinstance(st, HilRigStation) and not st.bench.has(role):
        pytest.skip(f"the bench has no {role}")


def _hil_connector(st: RigStation, role: str, default: int) -> int:
    return st.bench.connector_for(role) if isinstance(st, HilRigStation) else default


# ------------------------------------------------------------------ doors, stop button


class DoorsRig(Rig):
    def __init__(self, st: RigStation, doors: GpioDoors) -> None:
        super().__init__(st)
        self.doors = doors
        self.count = len(st.config.devices["doors"].params["pins"])
        if isinstance(st, HilRigStation):
            self._open_pins: list[int] = list(st.stimulus("doors").get("open_pins", []))
            self.capabilities = frozenset({"open_door"} if self._open_pins else set())
        else:
            self.capabilities = frozenset({"open_door", "break_wire", "short_wire"})

    def open_door(self, door: int, open_: bool) -> None:
        if isinstance(self.st, HilRigStation):
            self.st.relay(self._open_pins[door - 1], open_)
        else:
            circuit = self.sim.doors
            assert circuit is not None
            circuit.set_open(door, open_)

    def break_wire(self, door: int, broken: bool = True) -> None:
        circuit = self.sim.doors
        assert circuit is not None
        circuit.break_wire(door, broken)

    def short_wire(self, door: int, shorted: bool = True) -> None:
        circuit = self.sim.doors
        assert circuit is not None
        circuit.short_wire(door, shorted)


@pytest.fixture
async def doors_rig(rig_station_kind: RigStation) -> AsyncIterator[DoorsRig]:
    st = rig_station_kind
    _need(st, "doors")
    doors = await st.build(st.config.devices["doors"])
    try:
        yield DoorsRig(st, doors)
    finally:
        await doors.release()


class StopButtonRig(Rig):
    def __init__(self, st: RigStation, button: GpioStopButton) -> None:
        super().__init__(st)
        self.button = button
        if isinstance(st, HilRigStation):
            self._press_pin: int | None = st.stimulus("stop_button").get("press_pin")
            self.capabilities = frozenset({"press"} if self._press_pin is not None else set())
        else:
            self.capabilities = frozenset({"press", "break_wire"})

    def press(self, on: bool) -> None:
        if isinstance(self.st, HilRigStation):
            self.st.relay(self._pin(self._press_pin), on)
            return
        circuit = self.sim.stop_button
        assert circuit is not None
        if on:
            circuit.press()
        else:
            circuit.release_button()

    def break_wire(self, broken: bool = True) -> None:
        circuit = self.sim.stop_button
        assert circuit is not None
        circuit.break_wire(1, broken)


@pytest.fixture
async def stop_button_rig(rig_station_kind: RigStation) -> AsyncIterator[StopButtonRig]:
    st = rig_station_kind
    _need(st, "stop_button")
    button = await st.build(st.config.devices["stop_button"])
    try:
        yield StopButtonRig(st, button)
    finally:
        await button.release()


# ------------------------------------------------------------------ sensors


class TemperatureRig(Rig):
    def __init__(self, st: RigStation, sensor: Tmp117) -> None:
        super().__init__(st)
        self.sensor = sensor
        if isinstance(st, HilRigStation):
            low, high = st.stimulus("temperature").get("expect_c", [-20.0, 60.0])
            self.expect_c = (float(low), float(high))
            self.capabilities = frozenset()
        else:
            self.expect_c = (24.0, 26.0)
            self.model = self.sim.temperature
            assert self.model is not None
            self.capabilities = frozenset({"set", "silence", "no_conversion", "wrong_device"})

    def set_c(self, celsius: float) -> None:
        assert self.model is not None
        self.model.temperature_c = celsius

    def silence(self, on: bool) -> None:
        assert self.model is not None
        self.model.silent = on


@pytest.fixture
async def temperature_rig(rig_station_kind: RigStation) -> AsyncIterator[TemperatureRig]:
    st = rig_station_kind
    _need(st, "temperature")
    sensor = await st.build(st.config.devices["temperature"])
    try:
        yield TemperatureRig(st, sensor)
    finally:
        await sensor.release()


class TiltRig(Rig):
    def __init__(self, st: RigStation, sensor: Adxl345Tilt) -> None:
        super().__init__(st)
        self.sensor = sensor
        if isinstance(st, HilRigStation):
            self.level_max_deg = float(st.stimulus("tilt").get("max_deg", 5.0))
            self.capabilities = frozenset()
        else:
            self.level_max_deg = 0.5
            model = self.sim.tilt
            assert model is not None
            self.model: Adxl345Model = model
            self.capabilities = frozenset({"tilt", "silence", "stick", "break_self_test"})


@pytest.fixture
async def tilt_rig(rig_station_kind: RigStation) -> AsyncIterator[TiltRig]:
    st = rig_station_kind
    _need(st, "tilt")
    sensor = await st.build(st.config.devices["tilt"])
    try:
        yield TiltRig(st, sensor)
    finally:
        await sensor.release()


# ------------------------------------------------------------------ RDC-DD, IMD


class RdcRig(Rig):
    def __init__(self, st: RigStation, rdc: RdcDd, connector_id: int) -> None:
        super().__init__(st)
        self.rdc = rdc
        self.connector_id = connector_id
        if isinstance(st, HilRigStation):
            self._leak_pin: int | None = st.stimulus("rcd").get("leak_pin")
            self.capabilities = frozenset({"leak"} if self._leak_pin is not None else set())
        else:
            self.circuit = self.sim.rdcs[connector_id]
            self.capabilities = frozenset(
                {"leak", "set_leak", "trip_ac", "break_test", "stick_trip", "output",
                 "silence"}
            )

    def leak(self, ma: float) -> None:
        """A DC residual current (a bench switches its fixed one on for any ma > 0)."""
        if isinstance(self.st, HilRigStation):
            self.st.relay(self._pin(self._leak_pin), ma > 0)
        else:
            self.circuit.set_dc_leakage(ma)


@pytest.fixture
async def rdc_rig(rig_station_kind: RigStation) -> AsyncIterator[RdcRig]:
    st = rig_station_kind
    _need(st, "rcd")
    cid = _hil_connector(st, "rcd", 1)
    device = st.config.connector(cid).devices["rcd"]
    if device.driver != "rdc_dd":
        pytest.skip("the bench's RCD is not an RDC-DD")
    rdc = await st.build(device, cid)
    try:
        yield RdcRig(st, rdc, cid)
    finally:
        await rdc.release()


class ImdRig(Rig):
    def __init__(self, st: RigStation, imd: BenderIsoCha425, connector_id: int) -> None:
        super().__init__(st)
        self.imd = imd
        self.connector_id = connector_id
        if isinstance(st, HilRigStation):
            self._fault_pin: int | None = st.stimulus("imd").get("fault_pin")
            self.capabilities = frozenset({"fault"} if self._fault_pin is not None else set())
        else:
            circuit = self.sim.imds[connector_id]
            self.circuit = circuit
            self.model = circuit.model
            self.model.self_test_s = 0.1
            self.capabilities = frozenset(
                {"fault", "set_ohm", "break_self_test", "device_error", "silence",
                 "break_relay"}
            )

    def insulation_fault(self, on: bool) -> None:
        """Insulation falls to 50 kΩ (a bench switches its test resistor in)."""
        if isinstance(self.st, HilRigStation):
            self.st.relay(self._pin(self._fault_pin), on)
        else:
            self.model.set_insulation(50e3 if on else 10e6)


@pytest.fixture
async def imd_rig(rig_station_kind: RigStation) -> AsyncIterator[ImdRig]:
    st = rig_station_kind
    _need(st, "imd")
    cid = _hil_connector(st, "imd", 2)
    device = st.config.connector(cid).devices["imd"]
    if device.driver != "bender_isocha425":
        pytest.skip("the bench's IMD is not a Bender isoCHA425HV")
    imd = await st.build(device, cid)
    try:
        yield ImdRig(st, imd, cid)
    finally:
        await imd.release()


# ------------------------------------------------------------------ LED ring, display


class LedRig(Rig):
    def __init__(self, st: RigStation, ring: Pca9685Ring, connector_id: int) -> None:
        super().__init__(st)
        self.ring = ring
        if isinstance(st, HilRigStation):
            self.capabilities = frozenset()
        else:
            self.view = self.sim.leds[connector_id]
            self.capabilities = frozenset({"see", "silence"})

    def shown(self) -> tuple[int, int, int]:
        return self.view.rgb

    def silence(self, on: bool) -> None:
        self.view.chip.silent = on


@pytest.fixture
async def led_rig(rig_station_kind: RigStation) -> AsyncIterator[LedRig]:
    st = rig_station_kind
    _need(st, "led")
    cid = _hil_connector(st, "led", 1)
    ring = await st.build(st.config.connector(cid).devices["led"], cid)
    try:
        yield LedRig(st, ring, cid)
    finally:
        await ring.release()


class DisplayRig(Rig):
    def __init__(self, st: RigStation, display: Hd44780Display) -> None:
        super().__init__(st)
        self.display = display
        if isinstance(st, HilRigStation):
            self.capabilities = frozenset()
        else:
            self.model = self.sim.display
            self.columns, self.rows = self.sim.display_size
            self.capabilities = frozenset({"see", "silence"})

    def lines(self) -> list[str]:
        assert self.model is not None
        return self.model.lines(self.columns, self.rows)

    def silence(self, on: bool) -> None:
        assert self.model is not None
        self.model.silent = on


@pytest.fixture
async def display_rig(rig_station_kind: RigStation) -> AsyncIterator[DisplayRig]:
    st = rig_station_kind
    _need(st, "display")
    display = await st.build(st.config.devices["display"])
    if not isinstance(display, Hd44780Display):
        pytest.skip("the bench's display is not an HD44780 LCD")
    try:
        yield DisplayRig(st, display)
    finally:
        await display.release()


# ------------------------------------------------------------------ modem


class ModemRig(Rig):
    def __init__(self, st: RigStation, modem: AtModem) -> None:
        super().__init__(st)
        self.modem = modem
        if isinstance(st, HilRigStation):
            self.has_sim = bool(st.stimulus("modem").get("sim", True))
            self.capabilities = frozenset()
        else:
            self.has_sim = True
            peer = self.sim.modem
            assert peer is not None
            self.peer = peer
            self.capabilities = frozenset({"set", "silence", "remove_sim", "garbage"})


@pytest.fixture
async def modem_rig(rig_station_kind: RigStation) -> AsyncIterator[ModemRig]:
    st = rig_station_kind
    _need(st, "modem")
    modem = await st.build(st.config.devices["modem"])
    try:
        yield ModemRig(st, modem)
    finally:
        await modem.release()


__all__ = [
    "DisplayRig", "DoorsRig", "ImdRig", "LedRig", "ModemRig", "RdcRig", "StopButtonRig",
    "TemperatureRig", "TiltRig", "eventually", "rig_station",
]

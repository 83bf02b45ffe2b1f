"""Rigs for the driver contract tests: a started driver plus a way to act on its wires.

Each contract test takes a rig and uses only the rig's interface, so the same test can
run against real hardware: a hardware-in-the-loop rig (tests/hil/spine_rigs.py, selected
with ``EVSE_HIL_CONFIG``, see docs/hil.md) implements the same interface (``PilotRig``,
``ContactorRig``, ``LockRig``, ``RcdRig``, ``MeterRig``, ``NfcRig``) with the bench's
relays, sense inputs and EV simulator.
A test that needs something a rig cannot do calls ``rig.require("capability")``, which
skips it.

The simulated rigs run the real drivers on ``hal_sim`` wires (SimWiring + SimHardware),
built from a small station configuration, with a :class:`ManualClock` as the drivers'
clock wherever a test must move time.

Use from a test module: ``pytest_plugins = ("tests.support.sim_fixtures",)``, and import names
from here only under ``TYPE_CHECKING`` (importing it first would keep pytest from
registering it as a plugin with assertion rewriting).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from drivers.contactor import GpioContactor
from drivers.context import DriverContext
from drivers.i2c import I2CBus
from drivers.lock import HBridgeLock
from drivers.modbus import ModbusBus, ModbusRtuBus, ModbusTcpBus
from drivers.nfc import NfcpyReader
from drivers.pilot import Ads1115Pilot
from drivers.rcd import GpioRcd
from drivers.registry import driver_params
from drivers.sdm630 import Sdm630Meter
from firmware.clock import ManualClock
from firmware.config.model import (
    BusConfig,
    ConnectorConfig,
    ConnectorKind,
    DeviceConfig,
    Identity,
    StationConfig,
)
from hal_sim.circuits import SimHardware
from hal_sim.sim_wiring import SimWiring

# ------------------------------------------------------------------ configuration


def _filled(role: str, driver: str, params: Mapping[str, Any]) -> MappingProxyType[str, Any]:
    """``params`` with the driver's declared defaults filled in (what the loader does)."""
    full = {k: p.default for k, p in driver_params(role, driver).items() if not p.required}
    full.update(params)
    return MappingProxyType(full)


def device(role: str, driver: str, key: str, **params: Any) -> DeviceConfig:
    return DeviceConfig(role, driver, _filled(role, driver, params), key)


def bus(kind: str, name: str, driver: str, **params: Any) -> BusConfig:
    return BusConfig(kind, name, driver, _filled(f"bus.{kind}", driver, params),
                     f"buses.{kind}.{name}")


def connector(cid: int, kind: str = "type2_socket", **devices: DeviceConfig) -> ConnectorConfig:
    return ConnectorConfig(id=cid, kind=ConnectorKind(kind), max_current_a=32,
                           devices=MappingProxyType(dict(devices)))


def station(
    connectors: list[ConnectorConfig],
    buses: Sequence[BusConfig] = (),
    devices: Mapping[str, DeviceConfig] | None = None,
    station_id: str = "TEST-ST-1",
) -> StationConfig:
    return StationConfig(
        path=Path("test.toml"),
        identity=Identity(station_id, "Test", "Rig"),
        max_grid_power_w=44000,
        connectors=tuple(connectors),
        buses=MappingProxyType({b.name: b for b in buses}),
        devices=MappingProxyType(dict(devices or {})),
    )


def example_station(station_id: str = "TEST-ST-1", lock_sensing: bool = False
                    ) -> StationConfig:
    """#1 a full Type 2 socket (pilot with PP, contactor with feedback, lock, RCD with
    test pin, SDM630 id 1 on RS-485 8N1), #2 an SDM630 id 2 on the same line, #3 an
    SDM630 id 5 over Modbus TCP, #4 an SDM630 id 7 on a second RS-485 line at 8E1 (a
    different simulated line end); an NFC reader. ``lock_sensing``: #1's lock senses its
    motor current (ADS1115 0x49 ch 3 on "main", longer pulses)."""
    c1 = "connectors[1]"
    sensing: dict[str, Any] = (
        dict(bus="main", address=0x49, channel=3, pulse_ms=600, blanking_ms=15, sample_ms=2)
        if lock_sensing else dict(pulse_ms=30)
    )
    return station(
        [
            connector(
                1,
                pilot=device("pilot", "ads1115", f"{c1}.pilot", pwm_pin=12, bus="main",
                             address=0x48, pp_channel=2, sample_period_ms=2.0),
                contactor=device("contactor", "gpio", f"{c1}.contactor", pin=17,
                                 feedback_pin=27, settle_ms=150),
                lock=device("lock", "gpio_hbridge", f"{c1}.lock", lock_pin=5, unlock_pin=6,
                            feedback_pin=22, check_delay_ms=5, retries=1, **sensing),
                rcd=device("rcd", "gpio", f"{c1}.rcd", trip_pin=23, test_pin=24,
                           self_test_timeout_ms=200),
                meter=device("meter", "sdm630", f"{c1}.meter", bus="rs485", address=1),
            ),
            connector(2, "type2_cable",
                      meter=device("meter", "sdm630", "connectors[2].meter", bus="rs485",
                                   address=2)),
            connector(3, "type2_cable",
                      meter=device("meter", "sdm630", "connectors[3].meter", bus="lan",
                                   address=5)),
            connector(4, "type2_cable",
                      meter=device("meter", "sdm630", "connectors[4].meter", bus="rs485e",
                                   address=7)),
        ],
        buses=[
            bus("i2c", "main", "smbus", bus=1),
            bus("modbus", "rs485", "rtu", port="/dev/ttyAMA0", baudrate=9600, timeout_ms=150),
            bus("modbus", "rs485e", "rtu", port="/dev/ttyUSB0", baudrate=19200, parity="E",
                timeout_ms=150),
            bus("modbus", "lan", "tcp", host="meter.example", port=502, timeout_ms=150),
        ],
        devices={"token_reader": device("token_reader", "nfcpy", "devices.token_reader",
                                        device="tty:AMA0:pn532", lost_after_s=1.0)},
        station_id=station_id,
    )


# ------------------------------------------------------------------ helpers


async def eventually(predicate: Callable[[], bool], within_s: float = 3.0) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``within_s``.

    Polls: the conditions tested live on simulated wires and in driver threads, which
    have nothing to await."""
    async with asyncio.timeout(within_s):
        while not predicate():
            await asyncio.sleep(0.002)


class Rig:
    """Base of every rig: capabilities and the clock the driver was given."""

    capabilities: frozenset[str] = frozenset()

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock

    def can(self, capability: str) -> bool:
        """The rig can do ``capability`` (for a check a test makes only where possible)."""
        return capability in self.capabilities

    def require(self, capability: str) -> None:
        if capability not in self.capabilities:
            pytest.skip(f"{type(self).__name__} cannot {capability}")

    async def eventually(self, predicate: Callable[[], bool], within_s: float = 3.0) -> None:
        """See :func:`eventually` (a method so test modules need not import this one)."""
        await eventually(predicate, within_s)


class SimStation:
    """A simulated station's wires and circuits, started, with a manual clock."""

    def __init__(self, config: StationConfig) -> None:
        self.config = config
        self.clock = ManualClock()
        self.wiring = SimWiring(config)
        self.hw = SimHardware.build(config, self.wiring)

    def ctx(self, where: str, connector_id: int = 0, buses: Mapping[str, Any] | None = None,
            real_time: bool = False) -> DriverContext:
        import time

        clock = time.monotonic if real_time else self.clock.monotonic
        return DriverContext(self.wiring, connector_id, where, dict(buses or {}), clock)

    def params(self, connector_id: int, role: str) -> Mapping[str, Any]:
        return self.config.connector(connector_id).devices[role].params

    def bus_params(self, name: str) -> Mapping[str, Any]:
        return self.config.buses[name].params


def _hil_wanted() -> bool:
    return bool(os.environ.get("EVSE_HIL_CONFIG"))


def rig_kinds() -> list[Any]:
    """Rig kinds to run the contract tests on: the simulator, and real hardware, marked
    ``hil`` (``make hil`` selects it; it skips unless ``EVSE_HIL_CONFIG`` names a bench
    file, see tests/support/hil_bench.py and docs/hil.md)."""
    return ["sim", pytest.param("hil", marks=pytest.mark.hil)]


def _no_bench() -> None:
    """Skip a ``hil`` rig before anything touches hardware when there is no bench. The
    bench rigs (tests/hil/spine_rigs.py) are imported only past this point: they import
    gpiozero's board factory and the station-device fixtures."""
    if not _hil_wanted():
        pytest.skip("EVSE_HIL_CONFIG is not set: no bench")


@pytest.fixture
async def sim_station() -> AsyncIterator[SimStation]:
    st = SimStation(example_station())
    await st.wiring.start()
    try:
        yield st
    finally:
        await st.wiring.stop()


# ------------------------------------------------------------------ pilot


class PilotRig(Rig):
    """A started pilot driver and the EV side of its wire."""

    pilot: Ads1115Pilot
    has_pp: bool = True
    level_tolerance_v: float = 0.05  # how close a measured CP level must come
    pp_tolerance: float = 0.01  # relative, for the PP resistance

    def set_levels(self, cp_high_v: float, cp_low_v: float, pp_ohm: float | None) -> None:
        """Put the CP levels and the PP resistance (None: open) on the wire."""
        raise NotImplementedError

    def pwm_duty(self) -> float:
        """The duty cycle measured on the PWM pin, in %."""
        raise NotImplementedError

    def adc_silent(self, silent: bool) -> None:
        """Make the ADC stop answering (or answer again)."""
        raise NotImplementedError

    async def close(self) -> None:
        await self.pilot.release()


class SimPilotRig(PilotRig):
    capabilities = frozenset({"set_levels", "read_pwm", "adc_silent"})

    def __init__(self, st: SimStation) -> None:
        super().__init__(st.clock)
        self.st = st
        self.bus = I2CBus(st.bus_params("main"), st.ctx("buses.i2c.main"))
        self.pilot = Ads1115Pilot(st.params(1, "pilot"), st.ctx("connectors[1].pilot", 1,
                                                                {"main": self.bus}))
        self.circuit = st.hw.connector(1).pilot
        assert self.circuit is not None
        self.has_pp = True

    async def start(self) -> None:
        await self.bus.start()
        await self.pilot.start()

    async def close(self) -> None:
        await self.pilot.release()
        await self.bus.release()

    def set_levels(self, cp_high_v: float, cp_low_v: float, pp_ohm: float | None) -> None:
        assert self.circuit is not None
        self.circuit.set_levels(cp_high_v, cp_low_v, pp_ohm)

    def pwm_duty(self) -> float:
        assert self.circuit is not None
        return self.circuit.duty

    def adc_silent(self, silent: bool) -> None:
        assert self.circuit is not None
        self.circuit.adc.silent = silent


@pytest.fixture(params=rig_kinds())
async def pilot_rig(request: pytest.FixtureRequest, sim_station: SimStation
                    ) -> AsyncIterator[PilotRig]:
    if request.param == "hil":
        _no_bench()
        from tests.hil.spine_rigs import hil_pilot_rig

        async with hil_pilot_rig() as hil:
            yield hil
        return
    rig = SimPilotRig(sim_station)
    await rig.start()
    try:
        yield rig
    finally:
        await rig.close()


# ------------------------------------------------------------------ contactor


class ContactorRig(Rig):
    """A started contactor driver and a way to see and upset its contacts."""

    contactor: GpioContactor

    def physically_closed(self) -> bool:
        """The main contacts are closed (seen independently of the driver's feedback)."""
        raise NotImplementedError

    async def settle(self) -> None:
        """Wait until the mechanics have done what they are going to do."""
        raise NotImplementedError

    def weld(self, on: bool) -> None:
        """The feedback stays closed whatever the coil does."""
        raise NotImplementedError

    def stick_open(self, on: bool) -> None:
        """The contacts stay open whatever the coil is commanded to do."""
        raise NotImplementedError


class SimContactorRig(ContactorRig):
    capabilities = frozenset({"weld", "stick_open", "sense"})

    def __init__(self, st: SimStation) -> None:
        super().__init__(st.clock)
        self.contactor = GpioContactor(st.params(1, "contactor"),
                                       st.ctx("connectors[1].contactor", 1))
        circuit = st.hw.connector(1).contactor
        assert circuit is not None
        self.circuit = circuit

    def physically_closed(self) -> bool:
        return self.circuit.closed

    async def settle(self) -> None:
        await asyncio.sleep(self.circuit.mech_delay_s * 3)

    def weld(self, on: bool) -> None:
        self.circuit.welded = on

    def stick_open(self, on: bool) -> None:
        self.circuit.stuck_open = on


@pytest.fixture(params=rig_kinds())
async def contactor_rig(request: pytest.FixtureRequest, sim_station: SimStation
                        ) -> AsyncIterator[ContactorRig]:
    if request.param == "hil":
        _no_bench()
        from tests.hil.spine_rigs import hil_contactor_rig

        async with hil_contactor_rig() as hil:
            yield hil
        return
    rig = SimContactorRig(sim_station)
    await rig.contactor.start()
    try:
        yield rig
    finally:
        await rig.contactor.release()


# ------------------------------------------------------------------ lock


class LockRig(Rig):
    """A started cable lock driver and a way to see and jam the actuator (and, for a lock
    that senses its motor current, to open its motor wire or block its pin)."""

    lock: HBridgeLock
    pulse_s: float = 0.0  # the lock's pulse time (set where "watch_drive" is possible)

    def physically_locked(self) -> bool:
        """The pin is out (seen independently of the driver's feedback switch)."""
        raise NotImplementedError

    def jam(self, on: bool) -> None:
        """The actuator cannot move (the motor current looks normal)."""
        raise NotImplementedError

    def open_load(self, on: bool) -> None:
        """The motor wire is open: no current, no movement."""
        raise NotImplementedError

    def block(self, on: bool) -> None:
        """The pin is held (e.g. a plug not fully in): stall current, no movement."""
        raise NotImplementedError

    def both_driven(self) -> int:
        """How often both H-bridge inputs were driven at once."""
        raise NotImplementedError

    def motor_driven(self) -> bool:
        """One of the H-bridge inputs is on now."""
        raise NotImplementedError

    def last_drive_s(self) -> float:
        """How long the last motor drive lasted."""
        raise NotImplementedError

    async def close(self) -> None:
        await self.lock.release()


class SimLockRig(LockRig):
    capabilities = frozenset({"jam", "shoot_through_counter", "sense", "open_load", "block",
                              "watch_drive"})

    def __init__(self, st: SimStation) -> None:
        super().__init__(st.clock)
        self.bus: I2CBus | None = None
        params = st.params(1, "lock")
        buses: dict[str, Any] = {}
        if params.get("bus"):
            self.bus = I2CBus(st.bus_params("main"), st.ctx("buses.i2c.main"))
            buses["main"] = self.bus
        self.lock = HBridgeLock(params, st.ctx("connectors[1].lock", 1, buses))
        self._pins = (st.wiring.pins, params["lock_pin"], params["unlock_pin"])
        circuit = st.hw.connector(1).lock
        assert circuit is not None
        # The test station pulses for 30 ms (600 ms with sensing, judged after 15 ms).
        circuit.travel_s = 0.04 if self.bus is not None else 0.01
        self.pulse_s = params["pulse_ms"] / 1000.0
        self.circuit = circuit

    async def start(self) -> None:
        if self.bus is not None:
            await self.bus.start()
        await self.lock.start()

    async def close(self) -> None:
        await self.lock.release()
        if self.bus is not None:
            await self.bus.release()

    def physically_locked(self) -> bool:
        return self.circuit.locked

    def jam(self, on: bool) -> None:
        self.circuit.jammed = on

    def open_load(self, on: bool) -> None:
        self.circuit.open_load = on

    def block(self, on: bool) -> None:
        self.circuit.blocked = on

    def both_driven(self) -> int:
        return self.circuit.both_driven

    def motor_driven(self) -> bool:
        pins, lock_pin, unlock_pin = self._pins
        return pins.level(lock_pin) >= 0.5 or pins.level(unlock_pin) >= 0.5

    def last_drive_s(self) -> float:
        assert self.circuit.last_drive_s is not None
        return self.circuit.last_drive_s


@pytest.fixture(params=rig_kinds())
async def lock_rig(request: pytest.FixtureRequest, sim_station: SimStation
                   ) -> AsyncIterator[LockRig]:
    if request.param == "hil":
        _no_bench()
        from tests.hil.spine_rigs import hil_lock_rig

        async with hil_lock_rig() as hil:
            yield hil
        return
    rig = SimLockRig(sim_station)
    await rig.start()
    try:
        yield rig
    finally:
        await rig.close()


@pytest.fixture(params=rig_kinds())
async def sensing_lock_rig(request: pytest.FixtureRequest) -> AsyncIterator[LockRig]:
    """A lock that senses its motor current (skips on a bench whose lock does not)."""
    if request.param == "hil":
        _no_bench()
        from tests.hil.spine_rigs import hil_lock_rig

        async with hil_lock_rig() as hil:
            if not hil.lock.senses_current:
                pytest.skip("the bench's lock has no current sensing (its `bus` is unset)")
            yield hil
        return
    st = SimStation(example_station(lock_sensing=True))
    await st.wiring.start()
    rig = SimLockRig(st)
    try:
        await rig.start()
        yield rig
    finally:
        await rig.close()
        await st.wiring.stop()


# ------------------------------------------------------------------ RCD


class RcdRig(Rig):
    """A started GPIO RCD driver and a way to trip it and to break its self-test."""

    rcd: GpioRcd
    has_test_pin: bool = True

    def trip(self) -> None:
        """Make the RCD trip (a residual current)."""
        raise NotImplementedError

    def reset(self) -> None:
        """Take the residual current away and reset the RCD."""
        raise NotImplementedError

    def break_test(self, on: bool) -> None:
        """The self-test output no longer makes the RCD trip."""
        raise NotImplementedError


class SimRcdRig(RcdRig):
    capabilities = frozenset({"trip", "break_test"})

    def __init__(self, st: SimStation) -> None:
        super().__init__(st.clock)
        self.rcd = GpioRcd(st.params(1, "rcd"), st.ctx("connectors[1].rcd", 1))
        circuit = st.hw.connector(1).rcd
        assert circuit is not None
        self.circuit = circuit
        self.has_test_pin = True

    def trip(self) -> None:
        self.circuit.trip()

    def reset(self) -> None:
        self.circuit.reset()

    def break_test(self, on: bool) -> None:
        self.circuit.test_broken = on


@pytest.fixture(params=rig_kinds())
async def rcd_rig(request: pytest.FixtureRequest, sim_station: SimStation
                  ) -> AsyncIterator[RcdRig]:
    if request.param == "hil":
        _no_bench()
        from tests.hil.spine_rigs import hil_rcd_rig

        async with hil_rcd_rig() as hil:
            yield hil
        return
    rig = SimRcdRig(sim_station)
    await rig.rcd.start()
    try:
        yield rig
    finally:
        await rig.rcd.release()


# ------------------------------------------------------------------ meter


class MeterRig(Rig):
    """A started SDM630 driver, its Modbus bus and a way to act on the meter."""

    bus: ModbusBus
    meter: Sdm630Meter
    timeout_s: float
    expect_v: tuple[float, float] = (229.0, 231.0)  # plausible phase voltages

    def set_values(self, **values: Any) -> None:
        """Make the meter measure these values (names as in hal_sim's meter model)."""
        raise NotImplementedError

    def silence(self, on: bool) -> None:
        """Make the meter stop answering (or answer again)."""
        raise NotImplementedError

    def writes(self) -> list[tuple[int, list[int]]]:
        """The holding register writes the meter received."""
        raise NotImplementedError


class SimMeterRig(MeterRig):
    capabilities = frozenset({"set_values", "silence", "see_writes"})

    def __init__(self, st: SimStation, bus_name: str, connector_id: int) -> None:
        super().__init__(st.clock)
        params = st.bus_params(bus_name)
        owner = ModbusRtuBus if st.config.buses[bus_name].driver == "rtu" else ModbusTcpBus
        self.bus: ModbusBus = owner(params, st.ctx(f"buses.modbus.{bus_name}"))
        self.timeout_s = params["timeout_ms"] / 1000.0
        where = f"connectors[{connector_id}].meter"
        self.meter = Sdm630Meter(st.params(connector_id, "meter"),
                                 st.ctx(where, connector_id, {bus_name: self.bus}))
        model = st.hw.connector(connector_id).meter
        assert model is not None
        self.model = model

    def set_values(self, **values: Any) -> None:
        self.model.set(**values)

    def silence(self, on: bool) -> None:
        self.model.silent = on

    def writes(self) -> list[tuple[int, list[int]]]:
        return list(self.model.writes)


@pytest.fixture(params=[(k, b) for k in rig_kinds() for b in ("rtu", "rtu8e1", "tcp")],
                ids=lambda p: f"{p[0]}-{p[1]}")
async def meter_rig(request: pytest.FixtureRequest, sim_station: SimStation
                    ) -> AsyncIterator[MeterRig]:
    kind, transport = request.param
    if kind == "hil":
        _no_bench()
        from tests.hil.spine_rigs import hil_meter_rig

        async with hil_meter_rig(transport) as hil:
            yield hil
        return
    bus_name, cid = {"rtu": ("rs485", 1), "rtu8e1": ("rs485e", 4), "tcp": ("lan", 3)}[transport]
    rig = SimMeterRig(sim_station, bus_name, cid)
    await rig.bus.start()
    await rig.meter.start()
    try:
        yield rig
    finally:
        await rig.meter.release()
        await rig.bus.release()


# ------------------------------------------------------------------ NFC


class NfcRig(Rig):
    """A started NFC reader driver and cards to present to it."""

    reader: NfcpyReader
    lost_after_s: float

    def card(self, index: int) -> str:
        """The UID (upper-case hex) of the rig's ``index``-th card; skips if it has none."""
        raise NotImplementedError

    def present(self, uid_hex: str, hold_s: float | None = 0.3) -> None:
        """Hold the card ``uid_hex`` to the reader (for ``hold_s``, None: until removed)."""
        raise NotImplementedError

    def remove(self) -> None:
        """Take every card away."""
        raise NotImplementedError

    def unplug(self) -> None:
        """The reader goes away (unplugged, unpowered)."""
        raise NotImplementedError

    def replug(self) -> None:
        """The reader comes back."""
        raise NotImplementedError


class SimNfcRig(NfcRig):
    capabilities = frozenset({"present", "unplug"})
    CARDS = ("04A2B3C4D5E6F7", "0A0B0C0D")

    def __init__(self, st: SimStation) -> None:
        super().__init__(st.clock)
        cfg = st.config.devices["token_reader"]
        self.reader = NfcpyReader(cfg.params, st.ctx(cfg.key))
        self.lost_after_s: float = cfg.params["lost_after_s"]
        self.clf = st.hw.reader

    def card(self, index: int) -> str:
        return self.CARDS[index]

    def present(self, uid_hex: str, hold_s: float | None = 0.3) -> None:
        self.clf.present(uid_hex, hold_s)

    def remove(self) -> None:
        self.clf.remove()

    def unplug(self) -> None:
        self.clf.unplug()

    def replug(self) -> None:
        self.clf.replug()


@pytest.fixture(params=rig_kinds())
async def nfc_rig(request: pytest.FixtureRequest, sim_station: SimStation
                  ) -> AsyncIterator[NfcRig]:
    if request.param == "hil":
        _no_bench()
        from tests.hil.spine_rigs import hil_nfc_rig

        async with hil_nfc_rig() as hil:
            yield hil
        return
    rig = SimNfcRig(sim_station)
    await rig.reader.start()
    yield rig
    await rig.reader.release()

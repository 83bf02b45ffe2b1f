"""Hardware-in-the-loop rigs of the spine drivers: pilot, contactor, lock, GPIO RCD,
SDM630 meter and NFC reader.

Each rig builds the real driver from the bench's station file on the board's real pins and
buses (:class:`tests.support.station_fixtures.HilRigStation` on ``BoardWiring``, as the station
device rigs do) and acts on the wire with the bench's test equipment, described per role
in the bench file's ``[stimulus.<role>]`` table (tests/support/hil_bench.py, docs/hil.md): relays
of an EV simulator on the CP and PP lines, relays that bridge a feedback contact or cut a
coil, motor, line or supply, solenoids that hold a card to the reader, and sense inputs
that see a contact independently of the driver. What a bench lacks, its rig lacks as a
capability: ``rig.require(...)`` then skips with the missing bench key as the reason.

Imported only by the ``hil`` branch of the fixtures in tests/support/sim_fixtures.py, after the
bench check: never at collection time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest

from drivers.contactor import GpioContactor
from drivers.lock import HBridgeLock
from drivers.nfc import NfcpyReader
from drivers.pilot import Ads1115Pilot
from drivers.rcd import GpioRcd
from drivers.sdm630 import Sdm630Meter
from firmware.config.model import DeviceConfig
from tests.support.hil_bench import bench_from_env
from tests.support.sim_fixtures import ContactorRig, LockRig, MeterRig, NfcRig, PilotRig, RcdRig
from tests.support.station_fixtures import HilRigStation

# The pilot states an EV simulator makes, by the (CP high, CP low) levels the contract
# tests ask for, and the bench relays each needs (C and D add their resistor to B's).
PILOT_STATES: dict[tuple[float, float], str] = {
    (12.0, 12.0): "A", (9.0, -12.0): "B", (6.0, -12.0): "C", (3.0, -12.0): "D",
    (0.0, 0.0): "E", (-12.0, -12.0): "F",
}
STATE_RELAYS: dict[str, tuple[str, ...]] = {
    "A": (), "B": ("B",), "C": ("B", "C"), "D": ("B", "D"), "E": ("E",), "F": (),
}


@asynccontextmanager
async def bench_station() -> AsyncIterator[HilRigStation]:
    """The bench of ``EVSE_HIL_CONFIG`` on the board's wiring; relays off on exit."""
    bench = bench_from_env()
    if bench is None:
        pytest.skip("EVSE_HIL_CONFIG is not set: no bench")
    st = HilRigStation(bench)
    try:
        yield st
    finally:
        await st.close()


def bench_device(st: HilRigStation, role: str, driver: str) -> tuple[int, DeviceConfig]:
    """The connector and configuration of the bench's ``role`` device; skips when the
    bench has none or has one of another driver."""
    if not st.bench.has(role):
        pytest.skip(f"the bench has no {role}")
    if role in st.config.devices:
        cid, device = 0, st.config.devices[role]
    else:
        cid = st.bench.connector_for(role)
        device = st.config.connector(cid).devices[role]
    if device.driver != driver:
        pytest.skip(f"the bench's {role} is driver {device.driver!r}, not {driver!r}")
    return cid, device


class BenchParts:
    """The bench side of a rig: its stimulus table, relays, sense inputs and timers."""

    def __init__(self, st: HilRigStation, role: str) -> None:
        self.st = st
        self.role = role
        self.stim: Mapping[str, Any] = st.stimulus(role)
        self._inputs: dict[int, Any] = {}
        self._timers: list[asyncio.TimerHandle] = []

    def pin(self, key: str) -> int | None:
        value = self.stim.get(key)
        return value if isinstance(value, int) else None

    def missing(self, key: str, what: str) -> str:
        return f"the bench cannot {what} (no stimulus.{self.role}.{key})"

    def relay(self, pin: int, on: bool) -> None:
        self.st.relay(pin, on)

    def relay_for(self, pin: int, seconds: float) -> None:
        """Energise ``pin`` for ``seconds`` without blocking the loop."""
        self.relay(pin, True)
        loop = asyncio.get_running_loop()
        self._timers.append(loop.call_later(seconds, self.relay, pin, False))

    def sensed(self, pin: int) -> bool:
        """A sense contact to GND on ``pin`` (internal pull-up) is closed."""
        if pin not in self._inputs:
            from gpiozero import DigitalInputDevice

            self._inputs[pin] = DigitalInputDevice(
                pin, pull_up=True, pin_factory=self.st.wiring.pin_factory()
            )
        return bool(self._inputs[pin].is_active)

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for device in self._inputs.values():
            device.close()


class HilRigMixin:
    """``require`` with the bench key that would give the capability as skip reason."""

    capabilities: frozenset[str]
    reasons: dict[str, str]

    def require(self, capability: str) -> None:
        if capability not in self.capabilities:
            pytest.skip(self.reasons.get(capability, f"the bench cannot {capability}"))


def _caps(parts: BenchParts, wanted: Mapping[str, tuple[str, str]],
          always: tuple[str, ...] = ()) -> tuple[frozenset[str], dict[str, str]]:
    """Capabilities whose bench key is present, and skip reasons for the others;
    ``wanted`` maps capability -> (bench key, what it does)."""
    caps = set(always)
    reasons: dict[str, str] = {}
    for capability, (key, what) in wanted.items():
        if key in parts.stim:
            caps.add(capability)
        else:
            reasons[capability] = parts.missing(key, what)
    return frozenset(caps), reasons


# ------------------------------------------------------------------ pilot


class HilPilotRig(HilRigMixin, PilotRig):
    """The pilot on the bench's EV simulator: relays switch the state resistors (B:
    2.74 kOhm via the diode, C: + 1.3 kOhm, D: + 270 Ohm, E: CP shorted to PE) and the PP
    resistors; the bench cannot make arbitrary levels, only these states."""

    def __init__(self, st: HilRigStation, parts: BenchParts, pilot: Ads1115Pilot) -> None:
        super().__init__(st.clock)
        self.parts = parts
        self.pilot = pilot
        stim = parts.stim
        self.state_pins: dict[str, int] = dict(stim.get("state_pins", {}))
        self.pp_pins: dict[float, int] = {float(k): v for k, v in
                                          stim.get("pp_pins", {}).items()}
        self.level_tolerance_v = float(stim.get("tolerance_v", 0.5))
        self.pp_tolerance = float(stim.get("pp_tolerance", 0.05))
        self.has_pp = bool(self.pp_pins)
        self.capabilities, self.reasons = _caps(parts, {
            "set_levels": ("state_pins", "switch the pilot states (no EV simulator)"),
            "adc_silent": ("adc_power_pin", "cut the pilot ADC's supply"),
        })
        self.reasons["read_pwm"] = ("the bench cannot measure the PWM duty "
                                    "(check it with a scope)")

    def set_levels(self, cp_high_v: float, cp_low_v: float, pp_ohm: float | None) -> None:
        state = PILOT_STATES.get((cp_high_v, cp_low_v))
        if state is None:
            pytest.skip(f"the bench's EV simulator cannot make CP {cp_high_v:+.1f} / "
                        f"{cp_low_v:+.1f} V")
        relays = STATE_RELAYS[state]
        lacking = [r for r in relays if r not in self.state_pins]
        if lacking:
            pytest.skip(f"the bench cannot make pilot state {state} "
                        f"(no stimulus.pilot.state_pins.{lacking[0]})")
        pp_pin: int | None = None
        if pp_ohm is not None:
            pp_pin = self.pp_pins.get(pp_ohm)
            if pp_pin is None:
                pytest.skip(f"the bench has no {pp_ohm:g} Ohm PP resistor "
                            f"(stimulus.pilot.pp_pins)")
        # Everything off first, so no two state resistors are briefly in parallel.
        for pin in (*self.state_pins.values(), *self.pp_pins.values()):
            self.parts.relay(pin, False)
        for name in relays:
            self.parts.relay(self.state_pins[name], True)
        if pp_pin is not None:
            self.parts.relay(pp_pin, True)
        # The EVSE side of the levels: A is +12 V steady, F -12 V steady, B..D show their
        # -12 V half only while the EVSE oscillates.
        if state == "A":
            self.pilot.set_duty(100.0)
        elif state == "F":
            self.pilot.set_duty(0.0)
        elif state != "E" and self.pilot.duty in (0.0, 100.0):
            self.pilot.set_duty(50.0)

    def adc_silent(self, silent: bool) -> None:
        pin = self.parts.pin("adc_power_pin")
        assert pin is not None  # the capability was required first
        self.parts.relay(pin, silent)

    async def close(self) -> None:
        await self.pilot.release()
        self.parts.close()


@asynccontextmanager
async def hil_pilot_rig() -> AsyncIterator[PilotRig]:
    async with bench_station() as st:
        cid, device = bench_device(st, "pilot", "ads1115")
        parts = BenchParts(st, "pilot")
        rig = HilPilotRig(st, parts, await st.build(device, cid))
        try:
            yield rig
        finally:
            await rig.close()


# ------------------------------------------------------------------ contactor


class HilContactorRig(HilRigMixin, ContactorRig):
    """The bench's contactor: a second auxiliary contact to sense it, a relay across the
    feedback contact (a weld as the driver sees it) and one in the coil supply."""

    def __init__(self, st: HilRigStation, parts: BenchParts,
                 contactor: GpioContactor) -> None:
        super().__init__(st.clock)
        self.parts = parts
        self.contactor = contactor
        self.mech_s = float(parts.stim.get("mech_ms", 100)) / 1000.0
        self.capabilities, self.reasons = _caps(parts, {
            "sense": ("sense_pin", "see the contacts apart from the feedback"),
            "weld": ("weld_pin", "weld the feedback contact"),
            "stick_open": ("coil_cut_pin", "keep the contacts open"),
        })

    def physically_closed(self) -> bool:
        self.require("sense")
        return self.parts.sensed(self._pin("sense_pin"))

    async def settle(self) -> None:
        await asyncio.sleep(self.mech_s * 3)

    def weld(self, on: bool) -> None:
        self.parts.relay(self._pin("weld_pin"), on)

    def stick_open(self, on: bool) -> None:
        self.parts.relay(self._pin("coil_cut_pin"), on)

    def _pin(self, key: str) -> int:
        pin = self.parts.pin(key)
        assert pin is not None  # the capability was required first
        return pin


@asynccontextmanager
async def hil_contactor_rig() -> AsyncIterator[ContactorRig]:
    async with bench_station() as st:
        cid, device = bench_device(st, "contactor", "gpio")
        parts = BenchParts(st, "contactor")
        rig = HilContactorRig(st, parts, await st.build(device, cid))
        try:
            yield rig
        finally:
            await rig.contactor.release()
            parts.close()


# ------------------------------------------------------------------ lock


class HilLockRig(HilRigMixin, LockRig):
    """The bench's lock actuator: a second end-position switch to sense it, a relay
    that cuts the motor supply (the pin cannot move: jammed; for a lock that senses its
    motor current that is an open load) and a solenoid that holds the pin (blocked)."""

    def __init__(self, st: HilRigStation, parts: BenchParts, lock: HBridgeLock) -> None:
        super().__init__(st.clock)
        self.parts = parts
        self.lock = lock
        self.capabilities, self.reasons = _caps(parts, {
            "sense": ("sense_pin", "see the lock pin apart from the feedback"),
            "jam": ("jam_pin", "jam the actuator"),
            "block": ("block_pin", "hold the lock pin (stall)"),
        })
        if lock.senses_current and "jam" in self.capabilities:
            # With current sensing a cut supply reads as no current: an open load.
            self.capabilities = (self.capabilities - {"jam"}) | {"open_load"}
            self.reasons["jam"] = ("the bench's jam_pin cuts the motor supply, which a lock "
                                   "sensing its current sees as an open load")
        self.reasons["shoot_through_counter"] = (
            "the bench cannot count H-bridge shoot-through (watch both bridge inputs "
            "with a logic analyser)")
        self.reasons["watch_drive"] = ("the bench cannot watch the H-bridge inputs (use a "
                                       "logic analyser)")

    def physically_locked(self) -> bool:
        self.require("sense")
        pin = self.parts.pin("sense_pin")
        assert pin is not None
        return self.parts.sensed(pin)

    def jam(self, on: bool) -> None:
        pin = self.parts.pin("jam_pin")
        assert pin is not None  # the capability was required first
        self.parts.relay(pin, on)

    def open_load(self, on: bool) -> None:
        self.jam(on)  # the same relay: no motor supply

    def block(self, on: bool) -> None:
        pin = self.parts.pin("block_pin")
        assert pin is not None  # the capability was required first
        self.parts.relay(pin, on)


@asynccontextmanager
async def hil_lock_rig() -> AsyncIterator[LockRig]:
    async with bench_station() as st:
        cid, device = bench_device(st, "lock", "gpio_hbridge")
        parts = BenchParts(st, "lock")
        rig = HilLockRig(st, parts, await st.build(device, cid))
        try:
            yield rig
        finally:
            await rig.lock.release()
            parts.close()


# ------------------------------------------------------------------ RCD


class HilRcdRig(HilRigMixin, RcdRig):
    """The bench's RCD: a relay that lets a residual current flow (trip), one pulsing its
    reset input, one in series with its test wire (a broken self-test)."""

    def __init__(self, st: HilRigStation, parts: BenchParts, rcd: GpioRcd,
                 device: DeviceConfig) -> None:
        super().__init__(st.clock)
        self.parts = parts
        self.rcd = rcd
        self.has_test_pin = device.params.get("test_pin", -1) >= 0
        self.reset_s = float(parts.stim.get("reset_ms", 200)) / 1000.0
        self.capabilities, self.reasons = _caps(parts, {
            "trip": ("leak_pin", "make a residual current"),
            "break_test": ("test_cut_pin", "break the self-test wire"),
        })

    def trip(self) -> None:
        pin = self.parts.pin("leak_pin")
        assert pin is not None  # the capability was required first
        self.parts.relay(pin, True)

    def reset(self) -> None:
        leak = self.parts.pin("leak_pin")
        if leak is not None:
            self.parts.relay(leak, False)
        reset = self.parts.pin("reset_pin")
        if reset is not None:  # without one, the bench's RCD resets by itself
            self.parts.relay_for(reset, self.reset_s)

    def break_test(self, on: bool) -> None:
        pin = self.parts.pin("test_cut_pin")
        assert pin is not None  # the capability was required first
        self.parts.relay(pin, on)


@asynccontextmanager
async def hil_rcd_rig() -> AsyncIterator[RcdRig]:
    async with bench_station() as st:
        cid, device = bench_device(st, "rcd", "gpio")
        parts = BenchParts(st, "rcd")
        rig = HilRcdRig(st, parts, await st.build(device, cid), device)
        try:
            yield rig
        finally:
            await rig.rcd.release()
            parts.close()


# ------------------------------------------------------------------ meter


def _transport(st: HilRigStation, bus_name: str) -> str:
    cfg = st.config.buses[bus_name]
    if cfg.driver == "tcp":
        return "tcp"
    return "rtu8e1" if cfg.params.get("parity", "N") == "E" else "rtu"


class HilMeterRig(HilRigMixin, MeterRig):
    """The bench's SDM630 (measuring whatever the bench supply is) and a relay that opens
    its RS-485 line (or its Ethernet link) to make it silent."""

    def __init__(self, st: HilRigStation, parts: BenchParts, meter: Sdm630Meter,
                 bus_name: str) -> None:
        super().__init__(st.clock)
        self.parts = parts
        self.meter = meter
        self.bus = st.buses[bus_name]
        self.timeout_s = st.config.buses[bus_name].params["timeout_ms"] / 1000.0
        low, high = parts.stim.get("expect_v", [207.0, 253.0])
        self.expect_v = (float(low), float(high))
        self.capabilities, self.reasons = _caps(parts, {
            "silence": ("line_cut_pin", "cut the meter off its bus"),
        })
        self.reasons["set_values"] = "the bench cannot set what a real meter measures"
        self.reasons["see_writes"] = ("the bench does not write a real meter's holding "
                                      "registers (they are its configuration)")

    def silence(self, on: bool) -> None:
        pin = self.parts.pin("line_cut_pin")
        assert pin is not None  # the capability was required first
        self.parts.relay(pin, on)


@asynccontextmanager
async def hil_meter_rig(transport: str) -> AsyncIterator[MeterRig]:
    async with bench_station() as st:
        cid, device = bench_device(st, "meter", "sdm630")
        bus_name: str = device.params["bus"]
        if _transport(st, bus_name) != transport:
            pytest.skip(f"the bench's meter is on {_transport(st, bus_name)}, "
                        f"not {transport}")
        parts = BenchParts(st, "meter")
        rig = HilMeterRig(st, parts, await st.build(device, cid), bus_name)
        try:
            yield rig
        finally:
            await rig.meter.release()
            parts.close()


# ------------------------------------------------------------------ NFC


class HilNfcRig(HilRigMixin, NfcRig):
    """The bench's reader: solenoids (or relays) that each hold one known card to the
    antenna, and a relay that cuts the reader's supply (unplugged)."""

    def __init__(self, st: HilRigStation, parts: BenchParts, reader: NfcpyReader,
                 device: DeviceConfig) -> None:
        super().__init__(st.clock)
        self.parts = parts
        self.reader = reader
        self.lost_after_s = float(device.params["lost_after_s"])
        self.cards: dict[str, int] = {uid.upper(): pin for uid, pin in
                                      sorted(parts.stim.get("card_pins", {}).items())}
        self.capabilities, self.reasons = _caps(parts, {
            "present": ("card_pins", "present a card"),
            "unplug": ("power_pin", "unplug the reader"),
        })

    def card(self, index: int) -> str:
        uids = list(self.cards)
        if index >= len(uids):
            pytest.skip(f"the bench has {len(uids)} card(s) in stimulus.token_reader."
                        f"card_pins, the test needs {index + 1}")
        return uids[index]

    def present(self, uid_hex: str, hold_s: float | None = 0.3) -> None:
        pin = self.cards.get(uid_hex.upper())
        if pin is None:
            pytest.skip(f"the bench has no card {uid_hex.upper()}")
        if hold_s is None:
            self.parts.relay(pin, True)
        else:
            self.parts.relay_for(pin, hold_s)

    def remove(self) -> None:
        for pin in self.cards.values():
            self.parts.relay(pin, False)

    def unplug(self) -> None:
        self._power(cut=True)

    def replug(self) -> None:
        self._power(cut=False)

    def _power(self, cut: bool) -> None:
        pin = self.parts.pin("power_pin")
        assert pin is not None  # the capability was required first
        self.parts.relay(pin, cut)


@asynccontextmanager
async def hil_nfc_rig() -> AsyncIterator[NfcRig]:
    async with bench_station() as st:
        _, device = bench_device(st, "token_reader", "nfcpy")
        parts = BenchParts(st, "token_reader")
        rig = HilNfcRig(st, parts, await st.build(device), device)
        try:
            yield rig
        finally:
            await rig.reader.release()
            parts.close()


__all__ = [
    "BenchParts", "HilContactorRig", "HilLockRig", "HilMeterRig", "HilNfcRig",
    "HilPilotRig", "HilRcdRig", "bench_device", "bench_station", "hil_contactor_rig",
    "hil_lock_rig", "hil_meter_rig", "hil_nfc_rig", "hil_pilot_rig", "hil_rcd_rig",
]

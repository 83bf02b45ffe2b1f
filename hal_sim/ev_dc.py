"""A simulated DC EV (CCS / CHAdeMO) and the DC output it is charged from.

Pure physics: no I/O, no asyncio. The world steps both with the time, the pilot duty (CCS)
and the contactor state; the interface-level DC devices (``hal_sim.dc_devices``) read and
command them.

The EV's battery voltage follows its SoC (330 V + 70 V × SoC for a 400 V pack, scaled
with ``max_voltage_v``). It accepts its full current up to 80 % SoC and tapers above. It
closes its own battery contactors once it is ready and the station has precharged the
output to the battery voltage (setpoint and output within :data:`PRECHARGE_TOLERANCE_V`),
so cable check runs at test voltage against an open battery, as it does on a real car.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hal_sim.ev_ac import EV_OHM, REACTION_S

PRECHARGE_TOLERANCE_V = 20.0
CABLE_OHM = 0.05  # cable and battery internal resistance
VOLTAGE_SLEW_V_PER_S = 1000.0
CURRENT_SLEW_A_PER_S = 200.0
CURRENT_FALL_A_PER_S = 5000.0  # a module switched off drops its current within ~25 ms
DISCHARGE_V_PER_S = 1000.0  # output discharge resistor after off
BULK_SOC = 80.0
DIGITAL_COMM_DUTY = (3.0, 7.0)  # 5 % nominal: ISO 15118 / DIN 70121 requested


@dataclass(frozen=True)
class DcEvParams:
    """The plug request's DC EV fields (sim-api.md)."""

    max_voltage_v: float = 500.0
    max_current_a: float = 125.0
    battery_kwh: float = 60.0
    soc: float = 20.0
    target_soc: float = 80.0

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "max_voltage_v": (100.0, 1000.0),
        "max_current_a": (1.0, 1000.0),
        "battery_kwh": (1.0, 300.0),
        "soc": (0.0, 100.0),
        "target_soc": (0.0, 100.0),
    }


class DcEv:
    """One plugged-in DC EV.

    ``ccs`` EVs signal on the pilot (B when plugged, C once they see 5 % PWM and are
    ready); CHAdeMO EVs have no pilot and become ready a reaction time after plug-in.
    """

    def __init__(self, params: DcEvParams, ccs: bool, connector_id: int, now: float) -> None:
        self.params = params
        self.ccs = ccs
        self.soc = params.soc
        self.paused = False
        self.error = False  # the EV reports an error (vendor code 51)
        self.state = "B"  # pilot state (CCS); CHAdeMO keeps "B" until ready, then "C"
        self.battery_connected = False  # the EV's own contactors
        self.energy_wh = 0.0
        self.ev_id = f"02:00:00:00:00:{connector_id:02X}"
        self.present_v = 0.0  # what the station last told the EV (EvCommunication.present)
        self.present_a = 0.0
        self.present_limit_a = 0.0
        self._duty = 100.0
        self._due: float | None = None if ccs else now + REACTION_S

    @property
    def full(self) -> bool:
        return self.soc >= self.params.target_soc

    @property
    def wants_energy(self) -> bool:
        return not self.paused and not self.full and not self.error

    @property
    def ev_ohm(self) -> float:
        """The pilot load (CCS): B or C resistor."""
        return EV_OHM[self.state]

    @property
    def ready(self) -> bool:
        """The EV wants energy now and its communication is up (CCS: it saw 5 % PWM)."""
        return self.wants_energy and self.state == "C"

    def battery_voltage(self) -> float:
        scale = self.params.max_voltage_v / 500.0
        return scale * (330.0 + 70.0 * self.soc / 100.0)

    def max_charge_voltage(self) -> float:
        return self.params.max_voltage_v * 0.8

    def acceptance_a(self) -> float:
        """What the battery takes now: full current up to 80 %, then tapering to 5 %."""
        if not self.wants_energy:
            return 0.0
        if self.soc <= BULK_SOC:
            return self.params.max_current_a
        taper = max(0.05, (100.0 - self.soc) / (100.0 - BULK_SOC))
        return self.params.max_current_a * taper

    def _desired_state(self) -> str:
        if not self.wants_energy:
            return "B"
        if not self.ccs:
            return "C"
        lo, hi = DIGITAL_COMM_DUTY
        return "C" if lo <= self._duty <= hi else "B"

    def set_duty(self, duty: float, now: float) -> None:
        self._duty = duty
        self._reschedule(now)

    def pause(self, now: float) -> None:
        self.paused = True
        self._reschedule(now, immediate=True)

    def resume(self, now: float) -> None:
        self.paused = False
        self._reschedule(now)

    def set_error(self, error: bool, now: float) -> None:
        self.error = error
        self._reschedule(now, immediate=error)

    def _reschedule(self, now: float, immediate: bool = False) -> None:
        desired = self._desired_state()
        if desired == self.state:
            self._due = None
        elif immediate or (desired == "B" and not self.wants_energy):
            self._enter(desired)
        elif self._due is None:
            self._due = now + REACTION_S

    def _enter(self, state: str) -> None:
        self.state = state
        self._due = None
        if state != "C":
            self.battery_connected = False

    def step_state(self, now: float) -> bool:
        """Apply a pending state change that is due. True when the state changed."""
        if self._due is None or now < self._due:
            return False
        old = self.state
        self._enter(self._desired_state())
        return old != self.state

    def charge(self, volts: float, amps: float, dt: float) -> None:
        if amps <= 0.0:
            return
        wh = volts * amps * dt / 3600.0
        self.energy_wh += wh
        self.soc = min(100.0, self.soc + wh / (self.params.battery_kwh * 10.0))
        if self.full:
            self._enter("B")

    def times_s(self, power_w: float) -> tuple[int | None, int | None]:
        """Time to bulk (80 %) and to full at the present power; None while not charging."""
        if power_w < 100.0:
            return None, None
        per_pct_s = self.params.battery_kwh * 10.0 * 3600.0 / power_w
        bulk = max(0.0, BULK_SOC - self.soc) * per_pct_s
        # Above bulk the taper halves the mean power: count that part double.
        full = bulk + (100.0 - max(self.soc, BULK_SOC)) * per_pct_s * 2.0
        return round(bulk), round(full)


class DcOutput:
    """The DC output of a connector: the power stack's output and the connector side.

    The power stack sets ``enabled``/``set_v``/``set_a``; :meth:`step` moves the output
    toward them. ``voltage`` / ``current`` are the stack's output; :meth:`connector_v`
    is what a meter or IMD sees beyond the contactor.
    """

    def __init__(self) -> None:
        self.enabled = False
        self.faulted = False  # a module is in fault (vendor code 19): output off
        self.set_v = 0.0
        self.set_a = 0.0
        self.voltage = 0.0
        self.current = 0.0
        self.foreign_v = 0.0  # voltage from the EV side while our contactor is open (50)
        self._contactor = False

    def connector_v(self) -> float:
        """Voltage at the vehicle connector."""
        return self.voltage if self._contactor else self.foreign_v

    def step(self, dt: float, contactor_closed: bool, ev: DcEv | None) -> None:
        self._contactor = contactor_closed
        on = self.enabled and not self.faulted
        if ev is not None and (not contactor_closed or not ev.ready):
            ev.battery_connected = False
        if (
            ev is not None
            and not ev.battery_connected
            and contactor_closed
            and on
            and ev.ready
            and abs(self.set_v - ev.battery_voltage()) <= PRECHARGE_TOLERANCE_V
            and abs(self.voltage - ev.battery_voltage()) <= PRECHARGE_TOLERANCE_V
        ):
            # Precharge done: the station aims at the battery voltage (not at a cable
            # check's test voltage) and the output got there; the EV closes its contactors.
            ev.battery_connected = True
        if ev is not None and ev.battery_connected:
            target_a = 0.0
            if on and self.set_v >= ev.battery_voltage():
                target_a = min(self.set_a, ev.acceptance_a())
            self._slew_current(target_a, dt)
            self.voltage = ev.battery_voltage() + self.current * CABLE_OHM
            ev.charge(self.voltage, self.current, dt)
            return
        self._slew_current(0.0, dt)
        if on:
            self.voltage = _toward(self.voltage, self.set_v, VOLTAGE_SLEW_V_PER_S * dt)
        else:
            self.voltage = _toward(self.voltage, 0.0, DISCHARGE_V_PER_S * dt)

    def _slew_current(self, target: float, dt: float) -> None:
        rate = CURRENT_SLEW_A_PER_S if target > self.current else CURRENT_FALL_A_PER_S
        self.current = _toward(self.current, target, rate * dt)


def _toward(value: float, target: float, step: float) -> float:
    return value + max(-step, min(step, target - value))

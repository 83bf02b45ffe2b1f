"""The HAL contract: one interface per hardware role.

Each role has its commands, its readings and a closed set of faults. The charging logic
(``firmware``) talks only to these interfaces; real drivers implement them on GPIO, I2C,
Modbus and CAN, and the simulator runs those same drivers on simulated wires.

Threading rule: every callback a driver hands to the firmware runs on the event loop
thread. Drivers whose library blocks or calls back from its own thread (smbus2, gpiozero
on real pins, nfcpy) bridge with :class:`drivers.loop_bridge.LoopBridge`.

Lifecycle rule (:class:`Device`): a driver is built from its configuration section (no I/O
in ``__init__``), ``await start()`` claims and initialises the hardware, ``await
release()`` leaves outputs in their safe state (contactor open, PWM at +12 V or off,
stacks off) and frees the hardware. Bus owners follow the same rule. A device that needs
a task of its own for its whole life is a :class:`SupervisedDevice` (``run()``).
Every role protocol below extends :class:`Device`, so mypy checks each driver's lifecycle
with its role. Optional capabilities are declared by an accessor that answers ``None``
where a device lacks them (:meth:`ResidualCurrentMonitor.dc_monitor`), never found by
looking for attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

# --------------------------------------------------------------------------- lifecycle


class Device(Protocol):
    """The lifecycle every driver and every bus owner follows (see the module docstring).

    The station starts its devices in a fixed order (buses first; the pilot before the
    contactor before anything that could want it closed) and releases them in the same
    order, devices before buses. ``release()`` is the one lifecycle end: ``close`` is not
    used for it because :meth:`Contactor.close` closes the contacts."""

    async def start(self) -> None:
        """Claim and initialise the hardware, outputs in their safe state. Raises
        :class:`drivers.errors.DriverError` for a fault the driver knows (the station
        starts without the device and reports it)."""

    async def release(self) -> None:
        """Leave the outputs safe and free the hardware. Called once at the end of the
        station's life, also for a device whose ``start()`` failed or never ran, so it
        must cope with a device that holds nothing."""


class SupervisedDevice(Device, Protocol):
    """A device that needs a task of its own between ``start()`` and ``release()`` (the
    NFC reader's polling thread, the RDC-DD keeping its DC reading fresh)."""

    async def run(self) -> None:
        """Work until cancelled. Raises :class:`drivers.errors.DriverError` when the device
        stops working (the station reports it)."""


# --------------------------------------------------------------------------- control pilot


@dataclass(frozen=True, slots=True)
class PilotSample:
    """One measurement of the control pilot and proximity pilot of a connector.

    ``cp_high_v`` / ``cp_low_v`` are the high and low levels of the CP signal in volts
    (read through peak-hold circuits, so valid with and without PWM). ``pp_ohm`` is the
    resistance between PP and PE, ``None`` where the connector has no PP (fixed cable).
    ``t`` is the monotonic time of the sample (the driver's clock).
    """

    t: float
    cp_high_v: float
    cp_low_v: float
    pp_ohm: float | None = None


class PilotFault(StrEnum):
    ADC_SILENT = "adc_silent"  # the ADC does not answer on its bus
    PWM_FAILURE = "pwm_failure"  # the PWM output cannot be set


class ControlPilot(Device, Protocol):
    """CP generator (PWM output) and CP/PP measurement of one connector."""

    def set_duty(self, duty_percent: float) -> None:
        """Set the CP output: 100 = constant +12 V (no PWM), 0 = constant -12 V (state F),
        anything between = 1 kHz PWM with that duty cycle. Takes effect immediately."""

    @property
    def duty(self) -> float:
        """The duty cycle last commanded (percent)."""

    async def run(self, on_sample: Callable[[PilotSample], None]) -> None:
        """Sample CP/PP until cancelled, calling ``on_sample`` on the event loop thread.

        Raises :class:`drivers.errors.DeviceSilent` when the ADC stops answering."""


# --------------------------------------------------------------------------- contactor


class ContactorFault(StrEnum):
    WELDED = "welded"  # feedback says closed while commanded open
    FAILED_TO_CLOSE = "failed_to_close"  # feedback says open while commanded closed


class Contactor(Device, Protocol):
    """The main contactor (power switch) of one connector, with optional feedback.

    ``close()`` closes the contacts; the lifecycle end is :meth:`Device.release`."""

    def close(self) -> None:
        """Command the contactor closed. Callers must have checked every interlock."""

    def open(self) -> None:
        """Command the contactor open, synchronously, before returning."""

    @property
    def commanded_closed(self) -> bool: ...

    @property
    def feedback_closed(self) -> bool | None:
        """Auxiliary contact state, ``None`` where no feedback is wired."""

    def fault(self) -> ContactorFault | None:
        """Feedback disagreeing with the command for longer than the settle time."""


# --------------------------------------------------------------------------- lock


class LockFault(StrEnum):
    NO_FEEDBACK = "no_feedback"  # motor driven, feedback never reached the end position
    OPEN_LOAD = "open_load"  # no motor current during the pulse
    OVER_CURRENT = "over_current"  # stall current before the end position


class ConnectorLock(Device, Protocol):
    """Cable lock actuator of a socket outlet."""

    async def lock(self) -> None:
        """Drive to locked and verify; retries, then raises ``DeviceFaulted(LockFault)``."""

    async def unlock(self) -> None:
        """Drive to unlocked and verify; retries, then raises ``DeviceFaulted(LockFault)``."""

    @property
    def locked(self) -> bool | None:
        """Feedback: True locked, False unlocked, None unknown / between positions."""


# --------------------------------------------------------------------------- RCD


class RcdFault(StrEnum):
    TRIPPED_AC = "tripped_ac"  # Type A 30 mA AC trip (Alfen 106)
    DC_LEAKAGE = "dc_leakage"  # RDC-DD 6 mA DC (Alfen 101)
    SELF_TEST_FAILED = "self_test_failed"


class ResidualCurrentMonitor(Device, Protocol):
    """RCD / RDC-DD of an AC connector: trip input, optional DC leakage reading."""

    @property
    def tripped(self) -> bool: ...

    @property
    def dc_leakage_ma(self) -> float | None:
        """Measured smooth DC residual current, where the device reports it."""

    def subscribe(self, on_change: Callable[[bool], None]) -> None:
        """Call ``on_change(tripped)`` on the event loop whenever the trip input changes."""

    async def self_test(self) -> None:
        """Pulse the test input and expect the trip; raises ``DeviceFaulted``."""

    def dc_monitor(self) -> DcResidualCurrentMonitor | None:
        """The device's DC residual current capability: itself for an RDC-DD, ``None``
        for an RCD that only reports its trip contact."""


class DcResidualCurrentMonitor(ResidualCurrentMonitor, SupervisedDevice, Protocol):
    """An RDC-DD (IEC 62955) with a DC residual current reading and a reset input.

    ``run()`` keeps :attr:`dc_leakage_ma` fresh (it returns at once where no reading is
    wired); :meth:`read_dc_leakage_ma` measures now, to tell a DC trip (AC list 101)
    from an AC one (106)."""

    async def read_dc_leakage_ma(self) -> float:
        """Measure the smooth DC residual current now (mA); also updates
        ``dc_leakage_ma``. Raises ``DeviceSilent`` / ``DeviceFaulted(SensorFault)``."""

    async def reset(self) -> None:
        """Run the reset sequence after a trip; raises ``DeviceFaulted(RcdFault)`` when the
        trip does not clear (the residual current is still there, or the device is
        stuck)."""


# --------------------------------------------------------------------------- energy meter


@dataclass(frozen=True, slots=True)
class MeterReading:
    """A snapshot of an energy meter. Per-phase tuples hold L1, L2, L3 (DC: one entry)."""

    energy_import_wh: float
    power_w: float
    voltage_v: tuple[float, ...] = ()
    current_a: tuple[float, ...] = ()
    power_phase_w: tuple[float, ...] = ()
    frequency_hz: float | None = None
    energy_export_wh: float | None = None


class EnergyMeter(Device, Protocol):
    """An energy meter (AC: SDM630 over Modbus RTU/TCP; DC: a DC meter)."""

    async def read(self) -> MeterReading:
        """Read all values; raises :class:`drivers.errors.DeviceSilent` on no answer."""


# --------------------------------------------------------------------------- DC roles


@dataclass(frozen=True, slots=True)
class PowerCapabilities:
    min_voltage_v: float
    max_voltage_v: float
    max_current_a: float
    max_power_w: float


class PowerStackFault(StrEnum):
    OVER_TEMPERATURE = "over_temperature"
    OUTPUT_OVER_VOLTAGE = "output_over_voltage"
    PHASE_LOST = "phase_lost"
    INPUT_UNDER_VOLTAGE = "input_under_voltage"
    INPUT_OVER_VOLTAGE = "input_over_voltage"
    FAN = "fan"
    COMMS = "comms"  # module silent / lost
    GENERIC = "generic"


class PowerStack(Device, Protocol):
    """The DC power modules assigned to one connector, seen as one controllable source.

    Mirrors EVerest's power_supply_DC: set export voltage/current, on/off, measured
    output. ``off()`` returns once the output current is below a safe level."""

    def capabilities(self) -> PowerCapabilities: ...

    async def set_output(self, voltage_v: float, current_a: float) -> None: ...

    async def on(self) -> None: ...

    async def off(self) -> None: ...

    def emergency_off(self) -> None:
        """Send the off command now, without waiting for the current to fall (safety path)."""

    def measured(self) -> tuple[float, float]:
        """Latest output (volts, amps)."""

    def faults(self) -> frozenset[PowerStackFault]: ...


class ModulePool(Device, Protocol):
    """A station's pool of DC power modules, as the power budget sees it.

    Connectors' power stacks draw on the pool's modules; where the module outputs can be
    switched between connectors (``switchable``), the budget decides which connector
    gets which module (:meth:`assign`). Callbacks run on the event loop thread."""

    @property
    def switchable(self) -> bool:
        """Module outputs can be switched between connectors (else they are wired)."""

    def available(self) -> tuple[int, ...]:
        """The addresses of the modules that may deliver power now."""

    def rated_power_w(self, address: int) -> float:
        """The rated power of one module (reported by the module, else configured)."""

    def assignment(self) -> dict[int, tuple[int, ...]]:
        """Connector id -> the addresses of the modules switched to it now."""

    async def assign(self, assignment: Mapping[int, Sequence[int]]) -> None:
        """Switch modules between connectors (``assignment``: every connector's modules;
        a module not named goes to no connector). Raises ``DriverError`` when the pool is
        not switchable or the assignment is impossible, ``DeviceFaulted`` when a module
        could not be moved safely."""

    def subscribe(self, on_change: Callable[[], None]) -> None:
        """Call ``on_change()`` whenever what the pool can deliver or its assignment
        changes (the station runs its power budget again)."""


class ImdFault(StrEnum):
    ALARM = "alarm"  # insulation below the alarm threshold
    SELF_TEST_FAILED = "self_test_failed"
    DEVICE_ERROR = "device_error"


class InsulationMonitor(Device, Protocol):
    """IMD of a DC connector (Bender isoCHA425HV and the like)."""

    async def self_test(self) -> None:
        """Run the device self-test; raises ``DeviceFaulted(ImdFault.SELF_TEST_FAILED)``."""

    async def resistance_ohm(self) -> float:
        """Current insulation resistance of the DC output to PE."""

    @property
    def alarm(self) -> bool:
        """The alarm relay input (hard-wired trip)."""

    def subscribe(self, on_alarm: Callable[[bool], None]) -> None:
        """Call ``on_alarm(active)`` on the event loop whenever the alarm relay changes."""


class EvCommError(StrEnum):
    """EV communication failures, with the DC list's vendor error codes."""

    PLC = "1"
    SLAC_TIMEOUT = "2"
    SLAC_INTERRUPTED = "3"
    LINK_TIMEOUT = "4"
    LINK_INTERRUPTED = "5"
    SDP_TIMEOUT = "6"
    SDP_INTERRUPTED = "7"
    TCP = "8"
    V2G_SEQUENCE = "14"
    EV_ERROR = "51"


@dataclass(frozen=True, slots=True)
class EvStatus:
    """What the EV asks for and reports over ISO 15118 / DIN 70121 / CHAdeMO."""

    connected: bool = False
    ready: bool = False  # EV wants energy now
    target_voltage_v: float = 0.0
    target_current_a: float = 0.0
    max_voltage_v: float = 0.0
    max_current_a: float = 0.0
    battery_voltage_v: float = 0.0  # present battery voltage (precharge target)
    soc_percent: float | None = None
    time_to_bulk_s: int | None = None
    time_to_full_s: int | None = None
    power_delivery: bool = False  # the EV closed its contactors and asks for power
    ev_id: str | None = None  # EVCCID / MAC, for Autocharge
    error: EvCommError | None = None


class EvCommunication(Device, Protocol):
    """The high-level link to a DC EV. A real ISO 15118 / DIN / CHAdeMO stack plugs in here."""

    def status(self) -> EvStatus: ...

    def subscribe(self, on_change: Callable[[EvStatus], None]) -> None:
        """Call ``on_change`` on the event loop whenever the EV's status changes."""

    def present(self, voltage_v: float, current_a: float, limits_current_a: float) -> None:
        """Tell the EV what the station delivers and may deliver now."""


# --------------------------------------------------------------------------- digital inputs


@runtime_checkable
class DigitalInput(Protocol):
    """A supervised contact (door, stop button, alarm relay)."""

    @property
    def active(self) -> bool: ...

    def subscribe(self, on_change: Callable[[bool], None]) -> None: ...


# --------------------------------------------------------------------------- token reader


class ReaderFault(StrEnum):
    LOST = "lost"  # reader not found or stopped answering (Alfen 109)


class TokenReader(SupervisedDevice, Protocol):
    """An RFID / NFC reader. Tokens are handed over as idTags: the UID in upper-case hex."""

    def subscribe(self, on_token: Callable[[str], None]) -> None:
        """Call ``on_token(id_tag)`` on the event loop for every card presented."""

    @property
    def fault(self) -> ReaderFault | None: ...

    async def run(self) -> None:
        """Poll the reader until cancelled (in its own thread)."""


# --------------------------------------------------------------------------- health


@dataclass
class DriverHealth:
    """What a driver tells the service pages about itself."""

    ok: bool = True
    detail: str = ""
    counters: dict[str, int] = field(default_factory=dict)

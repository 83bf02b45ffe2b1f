"""The HAL contract of the station-level devices (and the extras of some connector roles).

Same rules as :mod:`drivers.interfaces`: one interface per role, readings as plain values,
a closed set of faults raised as :class:`drivers.errors.DeviceFaulted` (``fault`` is a
member of the enums below or of the role's enum there), :class:`drivers.errors.DeviceSilent`
when a device does not answer. Callbacks run on the event loop thread. Every role extends
:class:`~drivers.interfaces.Device`: drivers are built from their section without I/O,
``await start()`` claims the hardware, ``await release()`` frees it.

Roles: doors and stop button (supervised contacts), temperature, tilt, protective-earth
monitor, LED ring (per connector), display, mobile modem; a DC cable's contact
temperatures (:class:`CableMonitor`) and its cooling unit
(:class:`CableCooler`). The RDC-DD (a DC reading and a reset) is
:class:`~drivers.interfaces.DcResidualCurrentMonitor`, the Bender IMD
:class:`~drivers.interfaces.InsulationMonitor`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from drivers.interfaces import Device

# --------------------------------------------------------------------------- sensors


class SensorFault(StrEnum):
    """Faults of a sensor that answers on its bus (silence is ``DeviceSilent``)."""

    OUT_OF_RANGE = "out_of_range"  # a value the part cannot produce: broken or not ready
    WRONG_DEVICE = "wrong_device"  # something answers at the address, but not this part
    SELF_TEST_FAILED = "self_test_failed"


class TemperatureSensor(Device, Protocol):
    """A temperature inside the station housing (TMP117, NTC on an ADC, ...)."""

    async def read_c(self) -> float:
        """Degrees Celsius. Raises ``DeviceSilent``, ``DeviceFaulted(SensorFault)``."""


@dataclass(frozen=True, slots=True)
class TiltReading:
    """One accelerometer reading: the raw axis counts as the part gives them (what the AC
    list's 407 info shows, ``-4128/96/-32``), the same in g, and the angle between
    gravity now and gravity in the installed position, in degrees."""

    raw: tuple[int, int, int]
    g: tuple[float, float, float]
    tilt_deg: float


class TiltSensor(Device, Protocol):
    """An accelerometer fixed to the housing, telling how far it leans."""

    async def read(self) -> TiltReading:
        """Raises ``DeviceSilent``, ``DeviceFaulted(SensorFault.OUT_OF_RANGE)``."""

    async def self_test(self) -> None:
        """The part's built-in self-test; raises ``DeviceFaulted(SELF_TEST_FAILED)``."""


class PeMonitor(Device, Protocol):
    """The protective-earth monitor: the earth-loop resistance of the installation,
    measured with a test current well below any RCD's tripping level (AC list 201)."""

    async def read_ohm(self) -> float:
        """Ohm now; ``math.inf`` when the PE conductor is open. Raises ``DeviceSilent``,
        ``DeviceFaulted(SensorFault.OUT_OF_RANGE)`` (a broken front end)."""


# --------------------------------------------------------------------------- contacts


class Doors(Device, Protocol):
    """The service doors' contacts: any door open counts as open.

    Contacts are wired so that a broken wire reads "open" (fail-safe)."""

    @property
    def open(self) -> bool:
        """At least one door is open (or its wire is broken)."""

    @property
    def open_doors(self) -> tuple[int, ...]:
        """The open doors, numbered from 1 in the order of the configured pins."""

    def subscribe(self, on_change: Callable[[bool], None]) -> None:
        """Call ``on_change(any_open)`` on the event loop whenever that changes."""


class StopButton(Device, Protocol):
    """The (optional) stop button on the front door. A broken wire reads "pressed"."""

    @property
    def pressed(self) -> bool: ...

    def subscribe(self, on_change: Callable[[bool], None]) -> None:
        """Call ``on_change(pressed)`` on the event loop whenever it changes."""


# --------------------------------------------------------------------------- indicators

Rgb = tuple[int, int, int]
"""A colour, 0–255 per channel."""


class LedRing(Device, Protocol):
    """The LED ring (holder light) of one connector."""

    async def set_color(self, rgb: Rgb) -> None:
        """Show ``rgb`` (black = off). Raises ``DeviceSilent``."""

    @property
    def color(self) -> Rgb:
        """The colour last shown."""


class Display(Device, Protocol):
    """The station display: one message per connector (connector 0: the station)."""

    async def show(self, connector_id: int, text: str) -> None:
        """Show ``text`` for the connector (replacing its previous message)."""

    def text(self, connector_id: int) -> str:
        """The message last shown for the connector ("" if none)."""


# --------------------------------------------------------------------------- modem


class ModemFault(StrEnum):
    NO_SIM = "no_sim"  # the modem answers, the SIM card does not
    NOT_REGISTERED = "not_registered"  # no network operator
    BAD_ANSWER = "bad_answer"  # an answer that does not parse


@dataclass(frozen=True, slots=True)
class ModemInfo:
    """What the modem reports: the read-only keys MobileRSSI, MobileProvider and
    MobileConnectionStandard, and the BootNotification's iccid / imsi. ``None`` where
    the modem does not know (no signal: CSQ 99, no SIM, not registered)."""

    rssi_dbm: int | None = None
    operator: str | None = None
    technology: str | None = None  # "2G", "3G", "4G", "5G"
    iccid: str | None = None
    imsi: str | None = None


class Modem(Device, Protocol):
    """A mobile modem on a serial port, spoken to with AT commands."""

    async def read(self) -> ModemInfo:
        """Query everything. Raises ``DeviceSilent`` when the modem does not answer and
        ``DeviceFaulted(ModemFault.BAD_ANSWER)`` on nonsense; a missing SIM or network
        shows as ``None`` fields, with ``fault`` telling why."""

    @property
    def fault(self) -> ModemFault | None:
        """NO_SIM / NOT_REGISTERED after the last read, else None."""


# --------------------------------------------------------------------------- DC cable


class CableFault(StrEnum):
    """Faults of a charging cable's contact temperature sensors (DC list code 20)."""

    SENSOR_OPEN = "sensor_open"  # above the valid window: sensor open / cable unplugged
    SENSOR_SHORT = "sensor_short"  # below the valid window: sensor or its wires shorted


class CableMonitor(Device, Protocol):
    """The temperature sensors in a DC vehicle connector's power contacts (DC+, DC-).

    ``derate_from_c`` / ``derate_to_c`` are the cable's configured temperature limits:
    the current is lowered linearly from the first and reaches zero at the second."""

    async def read_c(self) -> tuple[float, ...]:
        """Every contact's temperature (°C), in the configured order. Raises
        ``DeviceSilent`` (ADC silent) or ``DeviceFaulted(CableFault)``."""

    @property
    def derate_from_c(self) -> float: ...

    @property
    def derate_to_c(self) -> float: ...


class CoolerFault(StrEnum):
    """Faults of a liquid-cooled cable's cooling unit (DC list code 21)."""

    PUMP_FAILURE = "pump_failure"
    FAN_FAILURE = "fan_failure"
    LOW_COOLANT = "low_coolant"  # coolant level switch
    OVER_TEMPERATURE = "over_temperature"  # the unit's own coolant temperature limit
    SENSOR_FAILURE = "sensor_failure"  # the unit's temperature / flow sensor
    LOW_FLOW = "low_flow"  # pump running, flow below the configured minimum


@dataclass(frozen=True, slots=True)
class CoolerStatus:
    """One reading of the cooling unit: what runs, the coolant and the unit's fault bits
    (a set that is empty when the unit reports none)."""

    pump_running: bool
    fan_running: bool
    coolant_c: float
    flow_l_min: float
    faults: frozenset[CoolerFault] = frozenset()

    def as_json(self) -> dict[str, object]:
        """JSON-ready, the faults as a sorted list (status pages, the simulator's state)."""
        return {"pump_running": self.pump_running, "fan_running": self.fan_running,
                "coolant_c": self.coolant_c, "flow_l_min": self.flow_l_min,
                "faults": sorted(f.value for f in self.faults)}


class CableCooler(Device, Protocol):
    """The cooling unit of a liquid-cooled DC charging cable."""

    async def read(self) -> CoolerStatus:
        """Read the unit once. Raises ``DeviceSilent``; reports faults in the status."""

    async def run(self, on_status: Callable[[CoolerStatus], None]) -> None:
        """Poll until cancelled, calling ``on_status`` with every good reading. Raises
        ``DeviceFaulted(CoolerFault)`` on a fault bit or a low flow with the pump running,
        ``DeviceSilent`` after the configured number of missed answers in a row."""

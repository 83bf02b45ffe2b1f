"""Vocabulary of the connector session state machines: events in, actions out, settings.

Everything here is a plain frozen dataclass or enum, so the glue can pattern-match on
it (``match action: case SetDuty(percent=p): ...``) and tests can compare lists.
See ``firmware.session.ac_session`` for the state machines and the order of actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from drivers.interfaces import EvStatus
from firmware.session.pilot_detector import PilotState


class ChargePointStatus(StrEnum):
    """OCPP 1.6 ChargePointStatus, spelled as the schema spells it."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EV = "SuspendedEV"
    SUSPENDED_EVSE = "SuspendedEVSE"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"


class StopReason(StrEnum):
    """OCPP 1.6 StopTransaction reasons (``Reason``)."""

    LOCAL = "Local"
    REMOTE = "Remote"
    EV_DISCONNECTED = "EVDisconnected"
    HARD_RESET = "HardReset"
    SOFT_RESET = "SoftReset"
    POWER_LOSS = "PowerLoss"
    DE_AUTHORIZED = "DeAuthorized"
    EMERGENCY_STOP = "EmergencyStop"
    OTHER = "Other"
    UNLOCK_COMMAND = "UnlockCommand"
    REBOOT = "Reboot"


class SessionFaultKind(StrEnum):
    """Faults the session finds itself. The glue maps them to vendor codes and reports
    them; the session already made the connector safe and shows Faulted."""

    PILOT = "pilot"  # CP in E, F (not ours), ERROR, or D without ventilation (Alfen 406)
    EV_VOLTAGE = "ev_voltage"  # > 60 V at the connector before the session (DC 50)
    IMD_SELF_TEST = "imd_self_test"  # IMD self-test failed or timed out
    CABLE_CHECK_TIMEOUT = "cable_check_timeout"  # no pre-check / test voltage / reading
    INSULATION = "insulation"  # insulation below the limit (DC 18)
    PRECHARGE_TIMEOUT = "precharge_timeout"
    RAMP_DOWN_TIMEOUT = "ramp_down_timeout"  # current still flowing; opened under load
    WELDED = "welded"  # voltage at the connector after opening (PowerSwitchFailure)


# --------------------------------------------------------------------------- settings

CONNECTION_TIMEOUT_S = 30.0  # OCPP ConnectionTimeOut's default (the DC manual's 30 s)


@dataclass(frozen=True, slots=True)
class SessionTimers:
    """Every duration the sessions use, in seconds. The one a configuration key sets
    (ConnectionTimeOut) comes with :class:`SessionSettings`: ``Session.apply_settings``."""

    connection_timeout_s: float = CONNECTION_TIMEOUT_S  # OCPP ConnectionTimeOut
    pwm_removed_open_s: float = 6.0  # PWM removed, EV stays in C: open after this
    min_pwm_change_s: float = 5.0  # no PWM change more often than this
    fault_hold_s: float = 0.3  # state F held at least this long after a fault
    imd_self_test_timeout_s: float = 30.0
    cable_check_timeout_s: float = 30.0  # pre-check through insulation reading
    precharge_timeout_s: float = 7.0
    ramp_down_timeout_s: float = 2.0
    weld_check_delay_s: float = 1.0  # after opening, before the voltage must be gone
    weld_check_timeout_s: float = 5.0  # no reading after the delay: end unchecked


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Thresholds of the DC sequence (IEC 61851-23 values as defaults)."""

    safe_voltage_v: float = 60.0  # pre-check and welding check
    insulation_fault_ohm: float = 100_000.0
    precharge_tolerance_v: float = 20.0  # also how close the cable-check voltage must get
    safe_current_a: float = 2.0  # ramp-down done below this
    cable_check_current_a: float = 2.0
    precharge_current_a: float = 2.0


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """The OCPP configuration keys a session follows; the station builds one from the
    keys and hands it to ``Session.apply_settings`` (again whenever a key changes).

    Each kind takes what applies to it: every session the ConnectionTimeOut, AC the two
    EV-side-disconnect keys, DC Autocharge. A session built without settings runs on
    these defaults (the keys' own defaults)."""

    connection_timeout_s: float = CONNECTION_TIMEOUT_S  # ConnectionTimeOut
    stop_on_ev_disconnect: bool = True  # StopTransactionOnEVSideDisconnect (AC)
    unlock_on_ev_disconnect: bool = True  # UnlockConnectorOnEVSideDisconnect (AC sockets)
    autocharge: bool = False  # AutochargeEnabled (DC: the EV's id starts a transaction)


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class PilotChanged:
    """A new stable CP state from :class:`firmware.session.pilot_detector.PilotDetector`."""

    state: PilotState


@dataclass(frozen=True, slots=True)
class PlugPresent:
    """Plug seen without CP (CHAdeMO). Ignored on connectors with a pilot."""

    present: bool


@dataclass(frozen=True, slots=True)
class Authorized:
    """An idTag already accepted by the authorization module (card, remote start)."""

    id_tag: str
    remote: bool = False
    parent_id_tag: str | None = None


@dataclass(frozen=True, slots=True)
class StopRequested:
    """Stop the transaction; ``reason`` is an OCPP Reason (:class:`StopReason`)."""

    reason: str = StopReason.LOCAL


@dataclass(frozen=True, slots=True)
class OfferChanged:
    """What the power budget allows this connector: amps (AC and DC), optionally watts
    (DC: turned into amps at the target voltage). ``amps`` below 6 pauses AC charging,
    0 pauses DC charging (SuspendedEVSE)."""

    amps: float
    watts: float | None = None


@dataclass(frozen=True, slots=True)
class LockResult:
    """The outcome of the last :class:`Lock` action (sockets)."""

    ok: bool


@dataclass(frozen=True, slots=True)
class FaultRaised:
    """A fault found by the glue. ``blocking`` ones stop the session and show Faulted
    until cleared; non-blocking ones change nothing here."""

    code: str
    blocking: bool = True
    stop_reason: str = StopReason.OTHER  # EmergencyStop for the stop button


@dataclass(frozen=True, slots=True)
class FaultCleared:
    """A fault is gone. Also clears the latched :attr:`SessionFaultKind.WELDED`
    (code ``"welded"``) once a technician has checked the contactor."""

    code: str


@dataclass(frozen=True, slots=True)
class AvailabilityChanged:
    """ChangeAvailability: takes effect now, or when a running transaction ends."""

    operative: bool


@dataclass(frozen=True, slots=True)
class ReservationMade:
    """ReserveNow accepted by the glue (only while the status is Available)."""

    id_tag: str
    parent_id_tag: str | None = None


@dataclass(frozen=True, slots=True)
class ReservationEnded:
    """The reservation expired or was cancelled."""


@dataclass(frozen=True, slots=True)
class TransactionRejected:
    """StartTransaction.conf not Accepted and StopTransactionOnInvalidId is true."""


@dataclass(frozen=True, slots=True)
class ContactorFeedback:
    """The auxiliary contact changed (informational; the glue reports disagreement)."""

    closed: bool


@dataclass(frozen=True, slots=True)
class EvUpdate:
    """DC: the EV's latest status over ISO 15118 / DIN 70121 / CHAdeMO."""

    status: EvStatus


@dataclass(frozen=True, slots=True)
class OutputMeasured:
    """DC: voltage and current at the connector (EV side of the contactor), >= 1 Hz."""

    voltage_v: float
    current_a: float


@dataclass(frozen=True, slots=True)
class ImdSelfTestDone:
    """DC: the outcome of :class:`ImdSelfTest`."""

    ok: bool


@dataclass(frozen=True, slots=True)
class InsulationMeasured:
    """DC: an insulation reading (the answer to :class:`MeasureInsulation`, or any)."""

    ohm: float


Event = (
    PilotChanged
    | PlugPresent
    | Authorized
    | StopRequested
    | OfferChanged
    | LockResult
    | FaultRaised
    | FaultCleared
    | AvailabilityChanged
    | ReservationMade
    | ReservationEnded
    | TransactionRejected
    | ContactorFeedback
    | EvUpdate
    | OutputMeasured
    | ImdSelfTestDone
    | InsulationMeasured
)

# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class SetDuty:
    """CP output: 100 = +12 V without PWM, 0 = -12 V (state F), else PWM at that duty."""

    percent: float


@dataclass(frozen=True, slots=True)
class CloseContactor:
    """Close the main contactor (through ``firmware.safety.gate``, which checks interlocks)."""


@dataclass(frozen=True, slots=True)
class OpenContactor:
    """Open the main contactor now."""


@dataclass(frozen=True, slots=True)
class Lock:
    """Lock the cable in the socket; answer with :class:`LockResult`."""


@dataclass(frozen=True, slots=True)
class Unlock:
    """Unlock the cable (no answer expected; a failure is the glue's lock fault)."""


@dataclass(frozen=True, slots=True)
class BeginTransaction:
    """Start a transaction (meter start, StartTransaction). ``reservation_used``: the
    connector's reservation was consumed; pass its id to StartTransaction."""

    id_tag: str
    remote: bool = False
    reservation_used: bool = False


@dataclass(frozen=True, slots=True)
class EndTransaction:
    """Stop the transaction (meter stop, StopTransaction) with an OCPP reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The OCPP status changed (StatusNotification)."""

    status: ChargePointStatus


@dataclass(frozen=True, slots=True)
class SessionFault:
    """A fault the session found started (``active``) or ended. ``detail`` carries the
    measured value for the info text ("insulation 48000 ohm", the pilot state)."""

    kind: SessionFaultKind
    active: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StackOn:
    """DC: switch the power stack on (after a :class:`StackSetpoint`)."""


@dataclass(frozen=True, slots=True)
class StackOff:
    """DC: switch the power stack off; done once the current is below a safe level."""


@dataclass(frozen=True, slots=True)
class StackSetpoint:
    """DC: set the export voltage and current limit."""

    voltage_v: float
    current_a: float


@dataclass(frozen=True, slots=True)
class ImdSelfTest:
    """DC: run the IMD self-test; answer with :class:`ImdSelfTestDone`."""


@dataclass(frozen=True, slots=True)
class MeasureInsulation:
    """DC: read the insulation resistance; answer with :class:`InsulationMeasured`."""


Action = (
    SetDuty
    | CloseContactor
    | OpenContactor
    | Lock
    | Unlock
    | BeginTransaction
    | EndTransaction
    | StatusChanged
    | SessionFault
    | StackOn
    | StackOff
    | StackSetpoint
    | ImdSelfTest
    | MeasureInsulation
)

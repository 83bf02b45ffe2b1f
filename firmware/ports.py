"""The boundary between the station (charging logic) and the central-system link (OCPP).

Three kinds of contract, all declared here so that neither side imports the other's
internals (OCPP 2.0.1 can later be a second implementation of the same link, and tests
drive either side alone):

* :class:`CentralSystemLink`: what the station asks of the central system. The station is
  handed a complete one in its constructor (an OCPP link, or ``LocalLink`` without a
  central system) and runs it with ``await link.run(station)``.
* :class:`StationPort`: what the link core itself needs of the station while it runs
  (connectors, status, meter readings, the running transaction, the idTagInfo feedback of
  Start/StopTransaction.conf).
* Capability ports, one per thing the central system may ask (:class:`RemoteControl`,
  :class:`ResetControl`, :class:`AvailabilityControl`, :class:`UnlockControl`,
  :class:`AuthorizationCache`, :class:`IncomingDataTransfer`, :class:`LocalAuthList`,
  :class:`ReservationControl`, :class:`FirmwareStatusSource`,
  :class:`DiagnosticsStatusSource`, :class:`ChargingLimits`). Each OCPP feature profile
  receives the ones it uses through its constructor; the part of the station that holds
  the behaviour provides it (the reservations for :class:`ReservationControl`, the local
  list for :class:`LocalAuthList`, ...). A capability a station lacks is ``None`` or a
  profile not installed, never a method looked up by name.

Statuses travel as their OCPP 1.6 wire values (``str``); the allowed values are named in
each method's docstring, and as ``Literal`` types where no implementation exists yet.

All methods are called on the event loop thread. Methods that return ``None`` never block
and never raise for network reasons: the link queues or drops as the protocol asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A connector's (or, for connector 0, the station's) status as OCPP reports it."""

    status: str  # ChargePointStatus: Available, Preparing, Charging, ... , Faulted
    error_code: str = "NoError"  # ChargePointErrorCode
    info: str | None = None  # CiString50
    vendor_error_code: str | None = None  # CiString50
    vendor_id: str | None = None  # CiString255


@dataclass(frozen=True, slots=True)
class IdTagInfo:
    """Authorization answer (OCPP 1.6 IdTagInfo)."""

    status: str  # Accepted, Blocked, Expired, Invalid, ConcurrentTx
    parent_id_tag: str | None = None
    expiry_date: datetime | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "Accepted"


@dataclass(frozen=True, slots=True)
class MeterSnapshot:
    """Everything a connector can measure right now, in SI units.

    Per-phase tuples hold L1, L2, L3. ``None`` / empty means "not measured here"; the
    metering module leaves such measurands out of MeterValues.
    """

    energy_import_wh: float
    power_w: float = 0.0
    current_a: tuple[float, ...] = ()
    voltage_v: tuple[float, ...] = ()
    power_phase_w: tuple[float, ...] = ()
    frequency_hz: float | None = None
    current_offered_a: float | None = None
    power_offered_w: float | None = None
    temperature_c: float | None = None
    soc_percent: float | None = None
    dc: bool = False  # DC connector: one voltage/current, no phases
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class TxHandle:
    """A transaction as the station knows it. ``local_id`` is ours and never changes;
    the central system's ``transactionId`` is filled in by the link when it arrives."""

    local_id: int
    connector_id: int
    id_tag: str
    meter_start_wh: float
    started: datetime
    transaction_id: int | None = None
    remote: bool = False  # started by RemoteStartTransaction


# OCPP 1.6 FirmwareStatus and DiagnosticsStatus ("Idle": nothing in progress).
FirmwareStatus = Literal[
    "Downloaded", "DownloadFailed", "Downloading", "Idle", "InstallationFailed", "Installing",
    "Installed",
]
DiagnosticsStatus = Literal["Idle", "Uploaded", "UploadFailed", "Uploading"]


# --------------------------------------------------------------------------- the station side


class ConnectorIds(Protocol):
    """Which connectors the station has (the profiles check requested connectorIds)."""

    def connector_ids(self) -> list[int]:
        """Connector ids, 1..N."""


class TransactionFeedback(Protocol):
    """The central system's verdict on an idTag, as the transaction messages bring it."""

    def transaction_authorization(self, handle: TxHandle, info: IdTagInfo) -> None:
        """The idTagInfo of StartTransaction.conf arrived (StopTransactionOnInvalidId,
        the authorization cache)."""

    def stop_authorization(self, id_tag: str, info: IdTagInfo) -> None:
        """StopTransaction.conf carried an idTagInfo for the idTag that stopped (or ran)
        the transaction (the authorization cache)."""


class StationPort(ConnectorIds, TransactionFeedback, Protocol):
    """What the link core needs of the station while it runs (``link.run(station)``)."""

    def status_of(self, connector_id: int) -> StatusReport:
        """Current status; connector 0 is the station as a whole."""

    def meter_snapshot(self, connector_id: int) -> MeterSnapshot:
        """Current readings of a connector."""

    def active_transaction(self, connector_id: int) -> TxHandle | None:
        """The transaction running on a connector, if any."""


# --------------------------------------------------------------------------- the link


class TransactionLink(Protocol):
    """The part of the :class:`CentralSystemLink` a connector and the authorization use:
    status, Authorize and the transaction messages."""

    @property
    def online(self) -> bool:
        """True while the link is up and the boot was accepted."""

    def notify_status(self, connector_id: int, report: StatusReport) -> None:
        """A status changed. The link applies MinimumStatusDuration and resends the
        current status after reconnecting; status is never queued."""

    async def authorize(self, id_tag: str) -> IdTagInfo | None:
        """Ask the central system; ``None`` when offline or no answer in time."""

    def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start_wh: float,
        timestamp: datetime,
        reservation_id: int | None = None,
        remote: bool = False,
    ) -> TxHandle:
        """Record a started transaction and deliver StartTransaction (queued, persistent)."""

    def stop_transaction(
        self,
        handle: TxHandle,
        meter_stop_wh: float,
        timestamp: datetime,
        reason: str,
        id_tag: str | None = None,
    ) -> None:
        """Record a stopped transaction and deliver StopTransaction (queued, persistent)."""


class CentralSystemLink(TransactionLink, Protocol):
    """Everything the station asks of the central system."""

    @property
    def url(self) -> str | None:
        """The central system's URL (``None``: a station without one)."""

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> tuple[str, str | None] | None:
        """DataTransfer to the central system: its DataTransferStatus (Accepted, Rejected,
        UnknownMessageId, UnknownVendorId) and data; ``None`` when offline or no answer."""

    async def run(self, station: StationPort) -> None:
        """Connect and keep the session up for ``station`` until cancelled or
        :meth:`shutdown` (a link without a central system returns at once)."""

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Close the connection politely within ``timeout`` s and do not reconnect (the
        station is stopping or restarting)."""


# --------------------------------------------------------------------------- capabilities


class RemoteControl(Protocol):
    """RemoteStartTransaction / RemoteStopTransaction."""

    async def remote_start(self, connector_id: int | None, id_tag: str) -> bool:
        """True = Accepted. ``None`` lets the station choose the connector."""

    async def remote_stop(self, connector_id: int) -> bool:
        """Stop the transaction on that connector; True = Accepted."""


class ResetControl(Protocol):
    """Reset: decided while the answer is pending, carried out once it went out."""

    async def reset(self, hard: bool) -> bool:
        """Decide only: True = Accepted."""

    def start_reset(self, hard: bool) -> None:
        """Carry out an accepted Reset (called once Reset.conf is on its way); returns at
        once, the reset runs as a task of the station."""


class AvailabilityControl(Protocol):
    """ChangeAvailability."""

    async def change_availability(self, connector_id: int, operative: bool) -> str:
        """AvailabilityStatus: "Accepted", "Rejected" or "Scheduled" (connector 0 = the
        whole station)."""


class UnlockControl(Protocol):
    """UnlockConnector."""

    async def unlock_connector(self, connector_id: int) -> str:
        """UnlockStatus: "Unlocked", "UnlockFailed" or "NotSupported"."""


class AuthorizationCache(Protocol):
    """ClearCache."""

    def clear_cache(self) -> bool:
        """Empty the authorization cache; True = Accepted."""


class IncomingDataTransfer(Protocol):
    """DataTransfer from the central system."""

    def data_transfer(
        self, vendor_id: str, message_id: str | None, data: str | None
    ) -> tuple[str, str | None]:
        """DataTransferStatus ("Accepted", "Rejected", "UnknownMessageId",
        "UnknownVendorId") and the answer's data."""


class LocalAuthList(Protocol):
    """SendLocalList / GetLocalListVersion."""

    def version(self) -> int:
        """listVersion: -1 when the list is disabled, 0 when empty."""

    def update(
        self, version: int, entries: Sequence[tuple[str, IdTagInfo | None]], full: bool
    ) -> str:
        """Apply SendLocalList (an entry without idTagInfo removes the idTag); UpdateStatus:
        "Accepted", "Failed", "NotSupported" or "VersionMismatch"."""


class ReservationControl(Protocol):
    """ReserveNow / CancelReservation."""

    def reserve(
        self,
        reservation_id: int,
        connector_id: int,
        id_tag: str,
        parent: str | None,
        expiry: datetime,
    ) -> str:
        """ReservationStatus: "Accepted", "Faulted", "Occupied", "Rejected" or
        "Unavailable"."""

    def cancel(self, reservation_id: int) -> bool:
        """True = Accepted (the reservation existed)."""


class FirmwareStatusSource(Protocol):
    """What FirmwareStatusNotification reports (TriggerMessage)."""

    def firmware_status(self) -> FirmwareStatus:
        """The firmware update in progress, or "Idle"."""


class DiagnosticsStatusSource(Protocol):
    """What DiagnosticsStatusNotification reports (TriggerMessage)."""

    def diagnostics_status(self) -> DiagnosticsStatus:
        """The diagnostics upload in progress, or "Idle"."""


class ChargingLimits(Protocol):
    """Named current limits per connector (what the SmartCharging profile will set)."""

    def set_connector_limit(self, connector_id: int, name: str, amps: float | None) -> None:
        """Limit a connector to ``amps`` under ``name`` (``None``: lift that limit),
        applied at once."""

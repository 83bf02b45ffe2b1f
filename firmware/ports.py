"""The boundary between the station (charging logic) and the central-system link (OCPP).

The station talks to :class:`CentralSystemLink`; the OCPP client talks to
:class:`StationPort`. Neither imports the other's internals, so OCPP 2.0.1 can later be
a second implementation of the same link, and tests can drive either side alone.

All methods are called on the event loop thread. Methods that return ``None`` never block
and never raise for network reasons: the link queues or drops as the protocol asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


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


class CentralSystemLink(Protocol):
    """What the station asks of the central system."""

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


class StationPort(Protocol):
    """What the central system may ask of the station."""

    def connector_ids(self) -> list[int]:
        """Connector ids, 1..N."""

    def status_of(self, connector_id: int) -> StatusReport:
        """Current status; connector 0 is the station as a whole."""

    def meter_snapshot(self, connector_id: int) -> MeterSnapshot:
        """Current readings of a connector."""

    def active_transaction(self, connector_id: int) -> TxHandle | None: ...

    async def remote_start(self, connector_id: int | None, id_tag: str) -> bool:
        """RemoteStartTransaction: True = Accepted. ``None`` lets the station choose."""

    async def remote_stop(self, connector_id: int) -> bool:
        """RemoteStopTransaction for the transaction on that connector."""

    def transaction_authorization(self, handle: TxHandle, info: IdTagInfo) -> None:
        """The idTagInfo of StartTransaction.conf arrived (StopTransactionOnInvalidId)."""

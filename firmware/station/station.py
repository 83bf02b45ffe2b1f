"""The station as the assembly (:mod:`firmware.app.assembly`) built it: its connectors
and the parts that act across them, and the :class:`~firmware.ports.StationPort` the
central-system link runs for.

The parts are the capability ports of :mod:`firmware.ports` themselves: remote start/stop
is :attr:`Station.flow` (:mod:`firmware.station.authorization_flow`), reset, availability,
unlock and incoming DataTransfer :attr:`Station.ops`, the cache and the local list
:attr:`Station.auth`, reservations :attr:`Station.reservations`, outgoing DataTransfer
:attr:`Station.link`. The station itself only answers for all of them together: the
status of connector 0, the meter and transaction of a connector, stopping everything, and
the state the status page shows.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine, Mapping
from typing import Any

from firmware.auth.authorizer import Authorizer
from firmware.auth.reservations import Reservations
from firmware.config import StationConfig
from firmware.connector.controller import ConnectorController
from firmware.ports import (
    CentralSystemLink,
    IdTagInfo,
    MeterSnapshot,
    StatusReport,
    TxHandle,
)
from firmware.power.manager import PowerManager
from firmware.safety.fault_catalogue import Condition
from firmware.safety.fault_events import EventLog
from firmware.safety.gate import Safety
from firmware.station.authorization_flow import AuthorizationFlow
from firmware.station.hardware import StationHardware
from firmware.station.operations import StationOps
from firmware.station.snapshot import ConnectorState, StationState
from firmware.station.station_status import StationStatus
from firmware.station.supervision import Supervision
from firmware.storage.store import Store
from firmware.tasks import TaskHost

log = logging.getLogger(__name__)


def stop_all_transactions(connectors: Mapping[int, ConnectorController], reason: str) -> None:
    """Stop every running transaction (shutdown, reset, the stop button)."""
    for connector in connectors.values():
        if connector.tx is not None:
            connector.stop(reason)


class Station:
    """One charging station, built and run by :class:`firmware.app.assembly.StationRuntime`.

    Every part is handed in complete; the station builds nothing and wires nothing."""

    def __init__(
        self,
        config: StationConfig,
        *,
        link: CentralSystemLink,
        hardware: StationHardware,
        safety: Safety,
        connectors: Mapping[int, ConnectorController],
        power: PowerManager,
        supervision: Supervision,
        auth: Authorizer,
        reservations: Reservations,
        flow: AuthorizationFlow,
        ops: StationOps,
        events: EventLog,
        tasks: TaskHost,
        status: StationStatus,
        store: Store,
    ) -> None:
        self.config = config
        self.link = link
        self.hardware = hardware
        self.safety = safety
        self.connectors = connectors
        self.power = power
        self.supervision = supervision
        self.auth = auth
        self.reservations = reservations
        self.flow = flow
        self.ops = ops
        self.events = events
        self.tasks = tasks
        self.store = store
        self.status = status

    # ------------------------------------------------------------------ running
    def stop_all(self, reason: str) -> None:
        """Stop every running transaction (shutdown, reset, the stop button)."""
        stop_all_transactions(self.connectors, reason)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coro`` as a supervised task of the station (dropped when not running)."""
        self.tasks.spawn(coro, name)

    def report_start_failures(self) -> None:
        """Devices that did not start (see ``StationHardware.start``): an unexpected error
        is 001 (on its connector, or station-wide); a known device fault is left to the
        device's own supervision, which reports what it means (meter silent: 105, ...)."""
        for failure in self.hardware.start_failures:
            connector = self.connectors.get(failure.connector_id)
            if connector is None:
                self.supervision.monitor.start_failed(failure.role, failure.error)
            elif failure.unexpected:
                connector.raise_fault(Condition.GENERIC)

    def report_station_status(self) -> None:
        """Tell the central system when connector 0 (the station as a whole) changed."""
        self.status.report()

    # ------------------------------------------------------------------ StationPort
    def connector_ids(self) -> list[int]:
        return sorted(self.connectors)

    def status_of(self, connector_id: int) -> StatusReport:
        if connector_id == 0:
            return self.status.current()
        return self.connectors[connector_id].status_report()

    def meter_snapshot(self, connector_id: int) -> MeterSnapshot:
        return self.connectors[connector_id].snapshot()

    def active_transaction(self, connector_id: int) -> TxHandle | None:
        connector = self.connectors.get(connector_id)
        return connector.tx if connector is not None else None

    def transaction_authorization(self, handle: TxHandle, info: IdTagInfo) -> None:
        self.flow.transaction_authorization(handle, info)

    def stop_authorization(self, id_tag: str, info: IdTagInfo) -> None:
        self.flow.stop_authorization(id_tag, info)

    # ------------------------------------------------------------------ observation
    def fault_events(self, limit: int = 200) -> list[dict[str, Any]]:
        """The fault event log, newest first (``GET /api/events``)."""
        return self.events.events(limit)

    def state(self) -> StationState:
        return StationState(
            charge_point_id=self.config.identity.charge_point_id,
            csms_online=self.link.online,
            csms_url=self.link.url,
            connectors=tuple(connector_state(c) for c in self.connectors.values()),
            faults=tuple(f.state() for f in self.supervision.faults.active),
            extra={
                "load_management": self.power.status(),
                **self.supervision.state(),
            },
        )


def connector_state(c: ConnectorController) -> ConnectorState:
    """What one connector is doing now, for the status API."""
    report = c.status_report()
    m = c.meter
    ev = c.ev
    tx = c.tx
    d = c.devices
    return ConnectorState(
        id=c.id,
        name=c.cfg.name,
        kind=str(c.cfg.kind),
        status=report.status,
        error_code=report.error_code,
        vendor_error_code=report.vendor_error_code,
        info=report.info,
        pilot=str(c.detector.state) if d.pilot is not None else None,
        contactor_closed=d.contactor.commanded_closed,
        locked=d.lock.locked if d.lock is not None else None,
        energy_wh=m.energy_import_wh if m else 0.0,
        power_w=m.power_w if m else 0.0,
        current_a=m.current_a if m else (),
        voltage_v=m.voltage_v if m else (),
        offered_a=c.session.offered_a,
        soc_percent=ev.soc_percent if ev else None,
        time_to_bulk_s=ev.time_to_bulk_s if ev else None,
        time_to_full_s=ev.time_to_full_s if ev else None,
        faults=tuple(f.state() for f in c.faults.active),
        display=c.display_text(),
        transaction_id=tx.transaction_id if tx else None,
        id_tag=tx.id_tag if tx else None,
        session_energy_wh=(c.energy_wh() - tx.meter_start_wh) if tx else 0.0,
        plug_cycles=c.plug_cycles,
        cable_temperatures_c=c.dc.cable.temperatures_c if c.dc is not None else (),
        cooler=c.dc.cable.cooler_state() if c.dc is not None else None,
    )

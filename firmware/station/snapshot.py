"""Snapshots of what the station is doing, for the HTTP API, the web page and the simulator.

Plain dataclasses so they serialise with ``dataclasses.asdict`` to the JSON of
``GET /api/status`` (and the station part of ``GET /api/sim/state``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware.safety.fault_book import FaultState


@dataclass(frozen=True)
class ConnectorState:
    id: int
    name: str
    kind: str  # type2_socket | type2_cable | ccs | chademo
    status: str  # OCPP ChargePointStatus
    error_code: str = "NoError"
    vendor_error_code: str | None = None
    info: str | None = None
    pilot: str | None = None  # A..F, or None on connectors without CP (CHAdeMO)
    contactor_closed: bool = False
    locked: bool | None = None
    energy_wh: float = 0.0  # meter register (Energy.Active.Import.Register)
    power_w: float = 0.0
    current_a: tuple[float, ...] = ()
    voltage_v: tuple[float, ...] = ()
    offered_a: float = 0.0
    soc_percent: float | None = None
    time_to_bulk_s: int | None = None
    time_to_full_s: int | None = None
    faults: tuple[FaultState, ...] = ()
    display: str = ""  # what the connector's display shows
    transaction_id: int | None = None  # the central system's id, once known
    id_tag: str | None = None
    session_energy_wh: float = 0.0
    plug_cycles: int = 0
    # A liquid-cooled DC cable: its contact temperatures (DC+, DC-) and its cooling unit
    # (pump_running, fan_running, coolant_c, flow_l_min); empty / None where not fitted
    # or while the reading fails.
    cable_temperatures_c: tuple[float, ...] = ()
    cooler: dict[str, object] | None = None


@dataclass(frozen=True)
class StationState:
    charge_point_id: str
    csms_online: bool
    csms_url: str | None
    connectors: tuple[ConnectorState, ...] = ()
    faults: tuple[FaultState, ...] = ()  # station-level (connector 0)
    extra: dict[str, object] = field(default_factory=dict)


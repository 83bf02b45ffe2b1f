"""The checked, immutable form of a station file. Built only by ``firmware.config.load``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from firmware.errors import FirmwareError


class ConfigError(FirmwareError):
    """A station file that cannot be used. ``problems`` holds (key, reason) pairs.

    ``str()`` gives one line per problem: ``FILE: KEY: REASON``.
    """

    def __init__(self, file: str | Path, problems: list[tuple[str, str]]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__("\n".join(f"{self.file}: {key}: {reason}" for key, reason in problems))


class ConnectorKind(StrEnum):
    TYPE2_SOCKET = "type2_socket"  # socket outlet with lock motor
    TYPE2_CABLE = "type2_cable"  # tethered cable, no lock
    CCS = "ccs"
    CHADEMO = "chademo"

    @property
    def is_dc(self) -> bool:
        return self in (ConnectorKind.CCS, ConnectorKind.CHADEMO)


@dataclass(frozen=True)
class DeviceConfig:
    """One hardware role: its driver name and checked parameters (defaults filled in)."""

    role: str
    driver: str
    params: Mapping[str, Any]
    key: str  # where it came from, e.g. "connectors[1].pilot"


@dataclass(frozen=True)
class BusConfig:
    kind: str  # i2c | modbus | can
    name: str
    driver: str
    params: Mapping[str, Any]
    key: str  # e.g. "buses.modbus.rs485"


@dataclass(frozen=True)
class Identity:
    """The BOOT.INI fields of the DC manual 4.3.2 plus the charge point id."""

    charge_point_id: str
    vendor: str
    model: str
    serial_number: str | None = None
    charge_box_serial_number: str | None = None
    firmware_version: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None
    iccid: str | None = None
    imsi: str | None = None


@dataclass(frozen=True)
class ConnectorConfig:
    id: int
    kind: ConnectorKind
    max_current_a: float
    name: str = ""
    phases: int = 3  # AC only
    max_voltage_v: float | None = None  # DC only
    max_power_w: float | None = None  # DC only
    devices: Mapping[str, DeviceConfig] = field(default_factory=dict)

    @property
    def is_dc(self) -> bool:
        return self.kind.is_dc


@dataclass(frozen=True)
class StationConfig:
    path: Path
    identity: Identity
    max_grid_power_w: float
    connectors: tuple[ConnectorConfig, ...]
    buses: Mapping[str, BusConfig] = field(default_factory=dict)
    devices: Mapping[str, DeviceConfig] = field(default_factory=dict)  # station-level roles
    csms_url: str | None = None
    # The installer's fault thresholds ([thresholds]: the fault catalogue's names, checked).
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def connector(self, connector_id: int) -> ConnectorConfig:
        for c in self.connectors:
            if c.id == connector_id:
                return c
        raise KeyError(connector_id)

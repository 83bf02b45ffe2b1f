"""Station configuration: one TOML file per station, checked before anything starts."""

from firmware.config.load import check_station, load_station, parse_station
from firmware.config.model import (
    BusConfig,
    ConfigError,
    ConnectorConfig,
    ConnectorKind,
    DeviceConfig,
    Identity,
    StationConfig,
)

__all__ = [
    "BusConfig",
    "ConfigError",
    "ConnectorConfig",
    "ConnectorKind",
    "DeviceConfig",
    "Identity",
    "StationConfig",
    "check_station",
    "load_station",
    "parse_station",
]

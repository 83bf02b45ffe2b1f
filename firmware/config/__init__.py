"""Station configuration: one TOML file per station, checked before anything starts."""

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
]

"""Builds every driver of a station from its checked configuration.

Buses first (one owner each), then the connector and station devices, which borrow the
buses by name. Which class serves a section is decided by ``drivers.registry`` from the
``driver`` key alone; the wiring decides what the drivers' I/O really is.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.context import DriverContext
from drivers.interfaces import (
    ConnectorLock,
    Contactor,
    ControlPilot,
    EnergyMeter,
    EvCommunication,
    InsulationMonitor,
    PowerStack,
    ResidualCurrentMonitor,
    TokenReader,
)
from drivers.registry import driver_class
from drivers.wiring import Wiring
from firmware.config import ConnectorConfig, DeviceConfig, StationConfig
from firmware.station_devices import StationDevices

log = logging.getLogger(__name__)


@dataclass
class ConnectorDevices:
    """The drivers of one connector; roles a connector does not have are None."""

    contactor: Contactor
    meter: EnergyMeter
    pilot: ControlPilot | None = None
    lock: ConnectorLock | None = None
    rcd: ResidualCurrentMonitor | None = None
    power_stack: PowerStack | None = None
    imd: InsulationMonitor | None = None
    ev_comm: EvCommunication | None = None
    led: Any = None  # drivers.interfaces_station.LedRing

    def all(self) -> list[object]:
        return [
            d
            for d in (
                self.pilot,
                self.contactor,
                self.lock,
                self.rcd,
                self.meter,
                self.power_stack,
                self.imd,
                self.ev_comm,
                self.led,
            )
            if d is not None
        ]


class StationHardware:
    """Every driver of the station, built but not started."""

    def __init__(
        self,
        config: StationConfig,
        wiring: Wiring,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.wiring = wiring
        self._monotonic = monotonic
        self.buses: dict[str, Any] = {}
        for name, bus in config.buses.items():
            ctx = DriverContext(wiring, 0, bus.key, {}, monotonic)
            self.buses[name] = driver_class(f"bus.{bus.kind}", bus.driver)(bus.params, ctx)
        self.connectors: dict[int, ConnectorDevices] = {
            c.id: self._build_connector(c) for c in config.connectors
        }
        # The DC module pool: its connectors' stacks join it when they start, so it is
        # started after them (see _everything) and stops after them.
        pool = config.devices.get("power_modules")
        self.power_modules: Any = self._build(pool, 0) if pool is not None else None
        # Doors, stop button, temperature, tilt, display, modem (not the reader: below).
        self.station_devices = StationDevices.build(
            config, wiring, self.buses, monotonic, skip=("token_reader",)
        )
        reader = config.devices.get("token_reader")
        self.token_reader: TokenReader | None = (
            self._build(reader, 0) if reader is not None else None
        )

    def _build(self, device: DeviceConfig, connector_id: int) -> Any:
        ctx = DriverContext(self.wiring, connector_id, device.key, self.buses, self._monotonic)
        return driver_class(device.role, device.driver)(device.params, ctx)

    def _build_connector(self, cfg: ConnectorConfig) -> ConnectorDevices:
        built = {role: self._build(dev, cfg.id) for role, dev in cfg.devices.items()}
        return ConnectorDevices(**built)

    def _everything(self) -> list[object]:
        devices: list[object] = []
        for c in self.connectors.values():
            devices.extend(c.all())
        if self.power_modules is not None:
            devices.append(self.power_modules)
        devices.extend(d for d in self.station_devices.all() if d not in devices)
        if self.token_reader is not None:
            devices.append(self.token_reader)
        return devices

    async def start(self) -> None:
        """Open the buses, then initialise every device (outputs to their safe state)."""
        for obj in [*self.buses.values(), *self._everything()]:
            start = getattr(obj, "start", None)
            if start is not None:
                result = start()
                if inspect.isawaitable(result):
                    await result

    async def close(self) -> None:
        """Leave every output safe and release the hardware, devices before buses."""
        for connector in self.connectors.values():
            connector.contactor.open()
        for obj in [*self._everything(), *self.buses.values()]:
            # A contactor's close() closes it: its lifecycle end is release().
            close = getattr(obj, "release", None)
            if close is None and not hasattr(obj, "commanded_closed"):
                close = getattr(obj, "close", None)
            if close is None:
                continue
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("closing %r failed", obj)

"""Builds every driver of a station from its checked configuration.

Buses first (one owner each), then the connector and station devices, which borrow the
buses by name. Which class serves a section is decided by ``drivers.registry`` from the
``driver`` key alone; the wiring decides what the drivers' I/O really is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.context import DriverContext
from drivers.errors import DriverError
from drivers.interfaces import (
    Device,
    ModulePool,
    TokenReader,
)
from drivers.registry import driver_class
from drivers.wiring import Wiring
from firmware.config import ConnectorConfig, DeviceConfig, StationConfig
from firmware.connector.devices import ConnectorDevices
from firmware.station.devices import StationDevices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StartFailure:
    """A device whose ``start()`` raised: the station starts without it and reports it.
    ``connector_id`` 0 is a station device."""

    connector_id: int
    role: str
    error: Exception

    @property
    def unexpected(self) -> bool:
        """Not a device fault its driver knows (that is the generic fault 001)."""
        return not isinstance(self.error, DriverError)


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
        self.buses: dict[str, Device] = {}
        self.start_failures: list[StartFailure] = []  # filled by start()
        for name, bus in config.buses.items():
            ctx = DriverContext(wiring, 0, bus.key, {}, monotonic)
            self.buses[name] = driver_class(f"bus.{bus.kind}", bus.driver)(bus.params, ctx)
        self.connectors: dict[int, ConnectorDevices] = {
            c.id: self._build_connector(c) for c in config.connectors
        }
        # The DC module pool: its connectors' stacks join it when they start, so it is
        # started after them (see _named) and stops after them.
        pool = config.devices.get("power_modules")
        self.power_modules: ModulePool | None = (
            self._build(pool, 0) if pool is not None else None
        )
        # Doors, stop button, temperature, tilt, display, modem, PE monitor, NFC reader.
        self.station_devices = StationDevices.build(config, wiring, self.buses, monotonic)

    @property
    def token_reader(self) -> TokenReader | None:
        """The station's card reader (one of :attr:`station_devices`)."""
        return self.station_devices.token_reader

    def _build(self, device: DeviceConfig, connector_id: int) -> Any:
        # Any: the registry picks the class from the driver name at run time; each
        # driver module checks its class against its role protocol for mypy.
        ctx = DriverContext(self.wiring, connector_id, device.key, self.buses, self._monotonic)
        return driver_class(device.role, device.driver)(device.params, ctx)

    def _build_connector(self, cfg: ConnectorConfig) -> ConnectorDevices:
        built = {role: self._build(dev, cfg.id) for role, dev in cfg.devices.items()}
        return ConnectorDevices(**built)

    def _named(self) -> list[tuple[int, str, Device]]:
        """(connector id or 0, role, driver) of every device, in start order: each
        connector's devices, the module pool after the stacks that join it, then the
        station devices."""
        devices = [
            (cid, role, device)
            for cid, connector in self.connectors.items()
            for role, device in connector.named()
        ]
        if self.power_modules is not None:
            devices.append((0, "power_modules", self.power_modules))
        devices.extend((0, role, device) for role, device in self.station_devices.named())
        return devices

    async def start(self) -> None:
        """Open the buses, then initialise every device (outputs to their safe state).

        A bus that does not open stops start-up (the board or its configuration is wrong).
        A device whose start fails does not: the station must come up to report it. The
        failure is logged and kept in :attr:`start_failures` for the station to report."""
        self.start_failures.clear()
        for bus in self.buses.values():
            await bus.start()
        for cid, role, device in self._named():
            try:
                await device.start()
            except Exception as exc:  # reported by the station: see StartFailure
                log.exception("connector %d: %s did not start", cid, role)
                self.start_failures.append(StartFailure(cid, role, exc))

    async def close(self) -> None:
        """Leave every output safe and release the hardware, devices before buses.

        Every device is released, whatever the others do: a release that fails is
        logged, not raised."""
        for connector in self.connectors.values():
            connector.contactor.open()
        releases: list[tuple[str, Device]] = [
            (f"connector {cid}: {role}", device) for cid, role, device in self._named()
        ]
        releases.extend((f"bus {name}", bus) for name, bus in self.buses.items())
        for what, device in releases:
            try:
                await device.release()
            except Exception:  # the next device must still be released
                log.exception("%s: release failed", what)

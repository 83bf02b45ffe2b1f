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
from drivers.errors import DriverError
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
from drivers.interfaces_station import CableCooler, CableMonitor
from drivers.registry import driver_class
from drivers.wiring import Wiring
from firmware.config import ConnectorConfig, DeviceConfig, StationConfig
from firmware.station.devices import StationDevices

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
    cable: CableMonitor | None = None  # a liquid-cooled DC cable's contact sensors
    cooler: CableCooler | None = None  # ... and its cooling unit

    # Start order: the pilot first (state F until the session says otherwise), the
    # contactor before anything that could want it closed.
    _ORDER = ("pilot", "contactor", "lock", "rcd", "meter", "power_stack", "imd", "ev_comm",
              "led", "cable", "cooler")

    def named(self) -> list[tuple[str, object]]:
        """(role, driver) of every device this connector has, in start order."""
        return [(role, d) for role in self._ORDER if (d := getattr(self, role)) is not None]

    def all(self) -> list[object]:
        return [d for _, d in self.named()]


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
        self.buses: dict[str, Any] = {}
        self.start_failures: list[StartFailure] = []  # filled by start()
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

    def _named(self) -> list[tuple[int, str, object]]:
        """(connector id or 0, role, driver) of every device, in start order."""
        devices: list[tuple[int, str, object]] = []
        for cid, c in self.connectors.items():
            devices.extend((cid, role, d) for role, d in c.named())
        if self.power_modules is not None:
            devices.append((0, "power_modules", self.power_modules))
        seen = {id(d) for _, _, d in devices}
        devices.extend((0, role, d) for role, d in self.station_devices.named()
                       if id(d) not in seen)
        if self.token_reader is not None:
            devices.append((0, "token_reader", self.token_reader))
        return devices

    def _everything(self) -> list[object]:
        return [d for _, _, d in self._named()]

    async def start(self) -> None:
        """Open the buses, then initialise every device (outputs to their safe state).

        A bus that does not open stops start-up (the board or its configuration is wrong).
        A device whose start fails does not: the station must come up to report it. The
        failure is logged and kept in :attr:`start_failures` for the station to report."""
        self.start_failures.clear()
        for bus in self.buses.values():
            await _start(bus)
        for cid, role, obj in self._named():
            try:
                await _start(obj)
            except Exception as exc:  # reported by the station: see StartFailure
                log.exception("connector %d: %s did not start", cid, role)
                self.start_failures.append(StartFailure(cid, role, exc))

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


async def _start(obj: object) -> None:
    start = getattr(obj, "start", None)
    if start is not None:
        result = start()
        if inspect.isawaitable(result):
            await result

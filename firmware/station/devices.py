"""The station-level devices of a station file (``[devices.<role>]``), built like the
connector devices in :mod:`firmware.station.hardware`: the registry picks the class from the
driver name, the drivers borrow the buses built there.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from drivers.context import DriverContext
from drivers.interfaces import TokenReader
from drivers.interfaces_station import (
    Display,
    Doors,
    Modem,
    PeMonitor,
    StopButton,
    TemperatureSensor,
    TiltSensor,
)
from drivers.registry import driver_class
from drivers.wiring import Wiring
from firmware.config import StationConfig

log = logging.getLogger(__name__)


@dataclass
class StationDevices:
    """The station-level drivers; roles the station does not have are None."""

    token_reader: TokenReader | None = None
    doors: Doors | None = None
    stop_button: StopButton | None = None
    temperature: TemperatureSensor | None = None
    tilt: TiltSensor | None = None
    display: Display | None = None
    modem: Modem | None = None
    pe_monitor: PeMonitor | None = None

    @classmethod
    def build(
        cls,
        config: StationConfig,
        wiring: Wiring,
        buses: Mapping[str, Any],
        monotonic: Callable[[], float] = time.monotonic,
        skip: tuple[str, ...] = (),
    ) -> StationDevices:
        """Build (not start) every configured station device but the roles in ``skip``
        (e.g. ``("token_reader",)`` where the caller already built the reader)."""
        known = {f.name for f in fields(cls)}
        built: dict[str, Any] = {}
        for role, device in config.devices.items():
            if role not in known or role in skip:
                continue
            ctx = DriverContext(wiring, 0, device.key, buses, monotonic)
            built[role] = driver_class(role, device.driver)(device.params, ctx)
        return cls(**built)

    def named(self) -> list[tuple[str, object]]:
        """(role, driver) of every device the station has."""
        return [(f.name, d) for f in fields(self) if (d := getattr(self, f.name)) is not None]

    def all(self) -> list[object]:
        return [d for _, d in self.named()]

    async def start(self) -> None:
        """Start every device (after the buses)."""
        for device in self.all():
            start = getattr(device, "start", None)
            if start is not None:
                result = start()
                if inspect.isawaitable(result):
                    await result

    async def close(self) -> None:
        """Release every device (before the buses); errors are logged, not raised."""
        for device in self.all():
            close = getattr(device, "close", None)
            if close is None:
                continue
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("closing %r failed", device)

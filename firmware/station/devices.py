"""The station-level devices of a station file (``[devices.<role>]``), built like the
connector devices in :mod:`firmware.station.hardware`: the registry picks the class from the
driver name, the drivers borrow the buses built there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from drivers.context import DriverContext
from drivers.interfaces import Device, TokenReader
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
        buses: Mapping[str, Device],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> StationDevices:
        """Build (not start) every configured station device. Station roles that are not
        devices of this class (the module pool) are left to the caller."""

        def build(role: str) -> Any:
            # Any: the registry picks the class from the driver name at run time; each
            # driver module checks its class against its role protocol for mypy.
            device = config.devices.get(role)
            if device is None:
                return None
            ctx = DriverContext(wiring, 0, device.key, buses, monotonic)
            return driver_class(role, device.driver)(device.params, ctx)

        return cls(
            token_reader=build("token_reader"),
            doors=build("doors"),
            stop_button=build("stop_button"),
            temperature=build("temperature"),
            tilt=build("tilt"),
            display=build("display"),
            modem=build("modem"),
            pe_monitor=build("pe_monitor"),
        )

    def named(self) -> list[tuple[str, Device]]:
        """(role, driver) of every device the station has, in start order."""
        roles: tuple[tuple[str, Device | None], ...] = (
            ("token_reader", self.token_reader),
            ("doors", self.doors),
            ("stop_button", self.stop_button),
            ("temperature", self.temperature),
            ("tilt", self.tilt),
            ("display", self.display),
            ("modem", self.modem),
            ("pe_monitor", self.pe_monitor),
        )
        return [(role, device) for role, device in roles if device is not None]

    async def start(self) -> None:
        """Start every device (after the buses); the first failure is raised."""
        for _role, device in self.named():
            await device.start()

    async def close(self) -> None:
        """Release every device (before the buses); errors are logged, not raised."""
        for role, device in self.named():
            try:
                await device.release()
            except Exception:  # the next device must still be released
                log.exception("station %s: release failed", role)

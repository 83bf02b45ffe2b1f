"""What a driver is given when it is built."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.errors import DeviceSilent
from drivers.wiring import Wiring


@dataclass
class DriverContext:
    """Everything a driver may use besides its own parameters.

    ``buses`` maps a bus name from the station file (``[buses.i2c.main]`` → ``"main"``) to
    the bus owner object already built for it; drivers borrow buses, they never open
    their own. ``monotonic`` is the injected clock. ``where`` names the configuration
    section (``"connectors[1].pilot"``) for log lines and errors.
    """

    wiring: Wiring
    connector_id: int = 0
    where: str = ""
    buses: Mapping[str, Any] = field(default_factory=dict)
    monotonic: Callable[[], float] = time.monotonic

    def bus(self, name: str, kind: str) -> Any:
        """Borrow the bus named ``name`` (``kind`` for the message: "I2C", "Modbus").
        Raises ``DeviceSilent`` when the station has no such bus."""
        try:
            return self.buses[name]
        except KeyError:
            raise DeviceSilent(f"{self.where}: no {kind} bus {name!r}") from None

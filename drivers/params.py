"""Declared driver parameters, checked when the station configuration is loaded.

Every driver class declares ``PARAMS: ClassVar[dict[str, Param]]``. The configuration
loader (``firmware.config``) checks each driver section against it: unknown keys, wrong
types, values out of range, and resources (GPIO pins, bus addresses) claimed twice are
refused with the file, the key and the reason, before any hardware is touched.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, Final, Literal

REQUIRED: Final = object()
"""Sentinel default: the key must be present."""

ResourceKind = Literal["gpio", "bus_address", "adc_address", "adc_channel", "port",
                       "can_channel"]


@dataclass(frozen=True)
class Param:
    """One driver parameter.

    ``resource`` marks values that must be unique in a station:
    ``"gpio"`` a BCM pin number; ``"bus_address"`` a device address on the bus named by
    the driver's ``bus`` parameter (unique per bus); ``"adc_address"`` the address of an
    ADS1115, which other ADS1115 users may share (each conversion holds the bus lock) but
    no other chip may; ``"adc_channel"`` an input of the ADS1115 at the driver's
    ``address`` on its ``bus`` (unique per chip); ``"port"`` a serial device path
    (compared after :func:`normalise_port`). Negative numbers mean "not wired" and claim
    nothing. A list parameter (``type=list``) checks every element against ``item``,
    ``min`` and ``max``, and each element claims the resource.
    """

    type: type
    default: Any = REQUIRED
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    resource: ResourceKind | None = None
    doc: str = ""
    item: builtins.type | None = None  # list parameters: the type of each element (min/max apply)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def pin(doc: str, default: Any = REQUIRED) -> Param:
    """A BCM GPIO number (0–27 on a CM4 header)."""
    return Param(int, default, min=0, max=27, resource="gpio", doc=doc)


def optional_pin(doc: str) -> Param:
    """A BCM GPIO number, or -1 where the signal is not wired (then not claimed)."""
    return Param(int, -1, min=-1, max=27, resource="gpio", doc=doc)


def i2c_address(doc: str, default: Any = REQUIRED) -> Param:
    """A 7-bit I2C address, unique on its bus."""
    return Param(int, default, min=0x03, max=0x77, resource="bus_address", doc=doc)


def adc_address(doc: str, default: Any = REQUIRED) -> Param:
    """The address of an ADS1115 (0x48-0x4B by its ADDR pin): several drivers may read
    inputs of one chip, no other chip may sit at its address."""
    return Param(int, default, min=0x48, max=0x4B, resource="adc_address", doc=doc)


def adc_channel(doc: str, default: Any = REQUIRED, *, optional: bool = False) -> Param:
    """An ADS1115 input (0-3), unique per chip; optional inputs take -1 for none."""
    return Param(int, default, min=-1 if optional else 0, max=3, resource="adc_channel",
                 doc=doc)


def adc_channels(doc: str, default: Any = REQUIRED) -> Param:
    """Several ADS1115 inputs of one chip, each claimed."""
    return Param(list, default, min=0, max=3, resource="adc_channel", doc=doc, item=int)


def modbus_address(doc: str, default: Any = REQUIRED) -> Param:
    """A Modbus device id, unique on its bus."""
    return Param(int, default, min=1, max=247, resource="bus_address", doc=doc)


def pins(doc: str, default: Any = REQUIRED) -> Param:
    """A list of BCM GPIO numbers (each 0–27, each claimed), e.g. several door contacts."""
    return Param(list, default, min=0, max=27, resource="gpio", doc=doc, item=int)


def normalise_port(port: str) -> str:
    """The device a port setting opens, so two spellings of one port compare equal.

    nfcpy names a UART ``tty:AMA0:pn532`` (= ``/dev/ttyAMA0``); other settings give the
    path itself. USB ids (``usb:072f:2200``) and anything else stay as written.
    """
    if port.startswith("tty:"):
        name = port.split(":")[1]
        return f"/dev/tty{name}" if name else port
    return port

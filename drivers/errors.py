"""Exception hierarchy of the hardware layer."""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error a driver raises."""


class DeviceSilent(DriverError):
    """The device did not answer (bus timeout, I2C NACK, Modbus no response)."""


class DeviceFaulted(DriverError):
    """The device answered but reports or shows a fault.

    ``fault`` is a member of the role's closed fault enum (see ``drivers.interfaces``).
    """

    def __init__(self, fault: object, detail: str = "") -> None:
        super().__init__(f"{fault}: {detail}" if detail else str(fault))
        self.fault = fault
        self.detail = detail


class ResourceBusy(DriverError):
    """A pin, bus address or port is already claimed by another driver."""

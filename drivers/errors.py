"""Exception hierarchy of the hardware layer.

:class:`DriverError` is the root of the driver layer: every exception a driver raises on
purpose about its device derives from it, and the firmware catches it to report that
device's problem (the firmware's own root, ``firmware.errors.FirmwareError``, lives above
and is never imported here). The one exception class of ``drivers`` outside it is
:class:`drivers.registry.UnknownDriver`, a wrong driver name in a station file rather than
a device error (its docstring says why); ``tests/unit/test_errors.py`` keeps it that way.
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error a driver raises about its device (see the module doc)."""


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

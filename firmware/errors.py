"""The root of every exception the firmware defines.

``except FirmwareError`` catches what the firmware itself raises on purpose: a station file
or fault catalogue that cannot be used, a contactor close an interlock refused, the OCPP
link's failures (a closed connection, a CALLERROR answer, a payload that breaks the
schema), a configuration key value the key does not accept. It does not catch a bug (a
``TypeError`` is not a ``FirmwareError``) nor what a device does:
:class:`drivers.errors.DriverError` is the root of the driver layer, which sits below the
firmware and may not import it.

Each class keeps the built-in base its callers already catch (``ValueError``,
``ConnectionError``) as a second base; ``tests/unit/test_errors.py`` walks every module of
``firmware`` so a new exception class cannot forget this root.
"""

from __future__ import annotations


class FirmwareError(Exception):
    """Base of every exception class defined under ``firmware/`` (see the module doc)."""

"""The contract between the link and its feature profiles.

A feature profile is one module with one class that satisfies :class:`Profile`: its
``name`` (what SupportedFeatureProfiles announces) and ``install(router)``, which adds the
handlers of the central system's calls. It receives through its constructor only what it
uses: the station's capability ports (:mod:`firmware.ports`) and, when it sends something
itself or needs the session, the :class:`LinkServices` of the link. Profiles import no
other profile module, and the link knows no profile by name: the assembly installs them
with ``link.install(profile)``.
"""

from __future__ import annotations

from typing import Protocol

from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.rpc import JsonObject, Router


class Profile(Protocol):
    """A feature profile module: its name (SupportedFeatureProfiles) and its handlers."""

    @property
    def name(self) -> str:
        """The feature profile's name as OCPP 1.6 spells it (``Core``, ``Reservation``...)."""

    def install(self, router: Router) -> None:
        """Add the handlers of the central system's calls of this profile."""


class LinkServices(Protocol):
    """What a profile may ask of the link it is installed on.

    The ``send_*`` / ``trigger_*`` methods never raise for network reasons: a failure is
    logged and the message is not sent (the central system can trigger it again).
    """

    @property
    def keys(self) -> ConfigKeys:
        """The configuration keys (ChangeConfiguration, GetConfiguration)."""

    async def send_now(self, action: str, payload: JsonObject) -> JsonObject | None:
        """Send a message that is not queued now; its answer, or ``None`` when offline or
        it failed."""

    async def trigger_boot(self) -> None:
        """TriggerMessage(BootNotification): during the boot retry now, later send one."""

    async def send_heartbeat(self) -> None:
        """A Heartbeat now (its answer sets the clock)."""

    async def send_status(self, connector_id: int) -> None:
        """A connector's current StatusNotification now (0: the station)."""

    async def send_meter_values(self, connector_id: int) -> None:
        """A connector's MeterValues now, context Trigger (not queued)."""

    def connector_of(self, transaction_id: int) -> int | None:
        """The connector running the transaction with that central-system id."""

    async def reconnect_if_requested(self) -> None:
        """After a ChangeConfiguration answer went out: a new AuthorizationKey takes effect
        by reconnecting."""

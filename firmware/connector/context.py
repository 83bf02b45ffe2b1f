"""What the connector's helpers may ask of their connector: one small protocol each.

:class:`~firmware.connector.checks.ConnectorChecks`,
:class:`~firmware.connector.dc_control.DcControl` and
:class:`~firmware.connector.cable_supervision.CableSupervision` do not hold the
:class:`~firmware.connector.controller.ConnectorController`; each gets the context below
that lists exactly what it uses (the controller implements all three with public
methods). The fault book and the devices a helper drives come through its constructor.

Every context can raise and end a fault of the connector and make its power path safe.
``make_safe`` is synchronous and comes first on a trip: the power path is safe before the
fault is recorded or reported (``raise_fault`` does it too for a new blocking fault).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Protocol

from drivers.interfaces import MeterReading
from firmware.clock import Clock
from firmware.safety.fault_catalogue import Condition
from firmware.session.events import Event, SessionSettings
from firmware.session.pilot_detector import PilotState


class ConnectorContext(Protocol):
    """What every helper of a connector uses."""

    @property
    def id(self) -> int:
        """The connector id (1..N)."""

    @property
    def clock(self) -> Clock:
        """The connector's clock: its loops sleep on it, its timers read it."""

    def raise_fault(self, condition: Condition, **values: object) -> None:
        """Record a fault of this connector and act on its effect (a new blocking fault
        makes the power path safe first)."""

    def end_fault(self, condition: Condition) -> None:
        """The fault's condition is gone (it clears if its recovery allows)."""

    def make_safe(self, reason: str) -> None:
        """Make the connector's power path safe now, synchronously: stacks off, contactor
        open, pilot in state F."""

    def spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        """Run ``coro`` as a guarded task of the connector (a failure is the connector's
        fault 001, never the station's). Raises ``RuntimeError`` when it is not running."""


class ChecksContext(ConnectorContext, Protocol):
    """What :class:`~firmware.connector.checks.ConnectorChecks` reads and asks for."""

    @property
    def pilot_state(self) -> PilotState | None:
        """The stable pilot state last detected (None: none yet, or no pilot)."""

    @property
    def pilot_duty(self) -> float:
        """The CP duty on the pilot now, in % (100 where there is no pilot)."""

    @property
    def offered_a(self) -> float:
        """The current the session offers the EV now, in A."""

    @property
    def has_transaction(self) -> bool:
        """A transaction runs on the connector."""

    @property
    def ev_present(self) -> bool:
        """The session sees an EV plugged in."""

    def update_offer(self) -> None:
        """Offer the EV again what the budget, the cable and the checks' limit allow."""


class DcContext(ConnectorContext, Protocol):
    """What :class:`~firmware.connector.dc_control.DcControl` reads and asks for."""

    @property
    def meter(self) -> MeterReading | None:
        """The last meter reading (the DC meter is the connector-side voltmeter)."""

    @property
    def settings(self) -> SessionSettings:
        """The configuration keys the session follows (Autocharge)."""

    def dispatch(self, event: Event) -> None:
        """Hand an event to the session and carry out its actions."""

    def ev_left(self, event: Event) -> None:
        """The EV was unplugged (``event`` tells the session): a plug cycle, and the
        faults that clear on replug go, in one status report."""

    def notify_change(self) -> None:
        """Something the station shows or budgets changed (a new EV request)."""

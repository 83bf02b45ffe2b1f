"""Helpers for building gpiozero devices on the station's pin factory.

Every GPIO driver builds its devices through these helpers, on
``ctx.wiring.pin_factory()`` (never gpiozero's global factory), and hears its inputs
through :class:`InputWatch`, which hands every edge to the event loop thread: gpiozero
calls back from a background thread on real pins and from the changing thread on mock
pins, and firmware callbacks must run on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from gpiozero import DigitalInputDevice, DigitalOutputDevice, PWMOutputDevice
from gpiozero.exc import GPIOPinInUse, GPIOZeroError

from drivers.context import DriverContext
from drivers.errors import DriverError, ResourceBusy
from drivers.loop_bridge import LoopBridge

logger = logging.getLogger(__name__)


def _build(ctx: DriverContext, what: str, pin: int, factory: Callable[[], Any]) -> Any:
    try:
        return factory()
    except GPIOPinInUse as exc:
        raise ResourceBusy(f"{ctx.where}: GPIO{pin} ({what}) already in use") from exc
    except GPIOZeroError as exc:
        raise DriverError(f"{ctx.where}: GPIO{pin} ({what}): {exc}") from exc


def output_device(ctx: DriverContext, pin: int, *, active_high: bool = True) -> Any:
    """A ``DigitalOutputDevice`` on ``pin``, initially off (inactive level)."""
    factory = ctx.wiring.pin_factory()
    return _build(
        ctx,
        "output",
        pin,
        lambda: DigitalOutputDevice(
            pin, active_high=active_high, initial_value=False, pin_factory=factory
        ),
    )


def pwm_device(ctx: DriverContext, pin: int, *, frequency_hz: float, value: float) -> Any:
    """A ``PWMOutputDevice`` on ``pin`` with the given frequency and initial value."""
    factory = ctx.wiring.pin_factory()
    return _build(
        ctx,
        "PWM output",
        pin,
        lambda: PWMOutputDevice(
            pin, frequency=frequency_hz, initial_value=value, pin_factory=factory
        ),
    )


def input_device(ctx: DriverContext, pin: int, *, active_high: bool) -> Any:
    """A ``DigitalInputDevice`` that is active when the pin is high (``active_high``) or
    low. The internal pull resistor holds the inactive level, so an unconnected contact
    reads inactive and the contact drives the active level."""
    factory = ctx.wiring.pin_factory()
    return _build(
        ctx,
        "input",
        pin,
        lambda: DigitalInputDevice(pin, pull_up=not active_high, pin_factory=factory),
    )


class InputWatch:
    """Forwards the edges of a gpiozero input device to callbacks on the event loop.

    ``in_thread(active)``, if given, runs first in the thread that saw the edge (for
    taking a timestamp at the moment of the change); subscribers then get
    ``callback(active)`` on the loop thread, once per edge, in order.
    """

    def __init__(
        self,
        device: Any,
        loop: asyncio.AbstractEventLoop,
        in_thread: Callable[[bool], None] | None = None,
    ) -> None:
        self._bridge = LoopBridge(loop, "GPIO input edge")
        self._in_thread = in_thread
        self._subscribers: list[Callable[[bool], None]] = []
        self._closed = False
        device.when_activated = self._activated
        device.when_deactivated = self._deactivated

    def subscribe(self, callback: Callable[[bool], None]) -> None:
        self._subscribers.append(callback)

    def close(self) -> None:
        """Stop delivering edges (the device is being closed)."""
        self._closed = True

    def _activated(self) -> None:
        self._edge(True)

    def _deactivated(self) -> None:
        self._edge(False)

    def _edge(self, active: bool) -> None:
        if self._closed:
            return
        if self._in_thread is not None:
            self._in_thread(active)
        self._bridge.post(self._deliver, active)  # dropped once the loop is closed

    def _deliver(self, active: bool) -> None:
        if self._closed:
            return
        for callback in list(self._subscribers):
            callback(active)


def close_quietly(device: Any) -> None:
    """Close a gpiozero device, ignoring errors (used on shutdown paths)."""
    if device is None:
        return
    try:
        device.close()
    except GPIOZeroError as exc:
        logger.warning("closing %r failed: %s", device, exc)

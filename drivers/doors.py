"""Supervised contacts on GPIO inputs: the service doors and the stop button.

Both are wired fail-safe: the pin's pull resistor holds the level of the unsafe state
(door open, button pressed), and the closed door / released button drives the other level
through its contact. A broken wire or a contact that fell off therefore reads "open" /
"pressed". What a single contact cannot show is a wire shorted to the safe level; that is
the limit of this wiring (a second, complementary contact per door would catch it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from drivers import gpio
from drivers.context import DriverContext
from drivers.interfaces_station import Doors, StopButton
from drivers.params import Param, pin, pins

logger = logging.getLogger(__name__)

LEVELS = ("low", "high")


class SupervisedContacts:
    """Fail-safe contact inputs (doors, stop button, an IMD's alarm relay).

    Each input's gpiozero device is *active* in the safe state (door closed, button
    released, relay healthy), so the pull resistor holds the unsafe level on an open wire.
    ``start(on_edge)`` claims the pins; ``on_edge()`` runs on the loop for every edge and
    should call :meth:`update`, which tells the subscribers when "any unsafe" changes."""

    def __init__(self, ctx: DriverContext, pin_numbers: tuple[int, ...], safe_level: str) -> None:
        self._ctx = ctx
        self._pins = pin_numbers
        self._safe_high = safe_level == "high"
        self._devices: list[Any] = []
        self._watches: list[gpio.InputWatch] = []
        self._subscribers: list[Callable[[bool], None]] = []
        self._unsafe = False

    def start(self, on_edge: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        try:
            for number in self._pins:
                device = gpio.input_device(self._ctx, number, active_high=self._safe_high)
                self._devices.append(device)
                watch = gpio.InputWatch(device, loop)
                watch.subscribe(lambda _active: on_edge())
                self._watches.append(watch)
        except Exception:
            self.close()
            raise
        self._unsafe = bool(self.unsafe_indices())

    def close(self) -> None:
        for watch in self._watches:
            watch.close()
        for device in self._devices:
            gpio.close_quietly(device)
        self._watches.clear()
        self._devices.clear()

    def unsafe_indices(self) -> tuple[int, ...]:
        """1-based numbers of the contacts in the unsafe state."""
        if not self._devices:
            raise RuntimeError(f"{self._ctx.where}: read before start()")
        return tuple(n for n, d in enumerate(self._devices, 1) if not d.is_active)

    def subscribe(self, callback: Callable[[bool], None]) -> None:
        self._subscribers.append(callback)

    def update(self) -> bool | None:
        """Recompute the aggregate; the new value if it changed (subscribers told)."""
        unsafe = bool(self.unsafe_indices())
        if unsafe == self._unsafe:
            return None
        self._unsafe = unsafe
        for callback in list(self._subscribers):
            callback(unsafe)
        return unsafe


class GpioDoors:
    """:class:`drivers.interfaces_station.Doors` on one GPIO input per door contact."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "pins": pins("door contact inputs, one per door"),
        "closed_level": Param(
            str, "low", choices=LEVELS,
            doc="pin level of a closed door (the pull resistor holds the other: open)",
        ),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._pins: tuple[int, ...] = tuple(params["pins"])
        self._contacts = SupervisedContacts(ctx, self._pins, params.get("closed_level", "low"))

    async def start(self) -> None:
        """Claim the inputs."""
        self._contacts.start(self._on_edge)
        logger.info(
            "doors: %d contact(s) on GPIO %s, open now: %s",
            len(self._pins), ",".join(map(str, self._pins)), list(self.open_doors) or "none",
        )

    async def release(self) -> None:
        self._contacts.close()

    @property
    def open(self) -> bool:
        return bool(self._contacts.unsafe_indices())

    @property
    def open_doors(self) -> tuple[int, ...]:
        return self._contacts.unsafe_indices()

    def subscribe(self, on_change: Callable[[bool], None]) -> None:
        """Call ``on_change(any_open)`` on the event loop whenever that changes."""
        self._contacts.subscribe(on_change)

    def _on_edge(self) -> None:
        changed = self._contacts.update()
        if changed is not None:
            if changed:
                logger.warning("doors: door(s) %s open", ",".join(map(str, self.open_doors)))
            else:
                logger.info("doors: all closed")


class GpioStopButton:
    """:class:`drivers.interfaces_station.StopButton` on one GPIO input (also a
    :class:`drivers.interfaces.DigitalInput`: ``active`` = pressed)."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "pin": pin("stop button input"),
        "released_level": Param(
            str, "low", choices=LEVELS,
            doc="pin level while not pressed (the pull resistor holds the other: pressed)",
        ),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._pin: int = params["pin"]
        released = params.get("released_level", "low")
        self._contacts = SupervisedContacts(ctx, (self._pin,), released)

    async def start(self) -> None:
        self._contacts.start(self._on_edge)
        logger.info("stop button on GPIO%d, pressed now: %s", self._pin, self.pressed)

    async def release(self) -> None:
        self._contacts.close()

    @property
    def pressed(self) -> bool:
        return bool(self._contacts.unsafe_indices())

    @property
    def active(self) -> bool:
        return self.pressed

    def subscribe(self, on_change: Callable[[bool], None]) -> None:
        """Call ``on_change(pressed)`` on the event loop whenever it changes."""
        self._contacts.subscribe(on_change)

    def _on_edge(self) -> None:
        changed = self._contacts.update()
        if changed is not None:
            if changed:
                logger.warning("stop button pressed")
            else:
                logger.info("stop button released")


# The registry hands driver classes out untyped: mypy checks each against its role here.
_GPIO_DOORS_ROLE: type[Doors] = GpioDoors
_GPIO_STOP_BUTTON_ROLE: type[StopButton] = GpioStopButton

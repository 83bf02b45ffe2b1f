"""Simulated GPIO wires: a gpiozero mock pin factory the simulation can watch and drive.

Every pin is a :class:`SimPin` (a PWM-capable mock pin), so the drivers build the same
gpiozero devices they build on a board. The simulation side sees the firmware's outputs
through :meth:`SimPinFactory.observe` and drives inputs with ``pin.drive_high()`` /
``pin.drive_low()``, like the circuit behind a real header pin.

One factory per simulated station: it is handed to the drivers through the wiring and is
never installed as gpiozero's global ``Device.pin_factory``, so several stations can live
in one process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from gpiozero.exc import PinFixedPull, PinInvalidPull
from gpiozero.pins.mock import MockFactory, MockPWMPin

logger = logging.getLogger(__name__)

PinObserver = Callable[[float], None]

# A pin's recorded history (gpiozero's ``states`` list) is trimmed to this length so a
# simulation running for days does not grow without bound.
_MAX_STATES = 1000


class SimPin(MockPWMPin):  # type: ignore[misc]  # gpiozero is untyped
    """A mock pin with a circuit behind it.

    * Output changes made by the firmware are reported to observers (``callback(value)``,
      value 0.0–1.0; 1.0 = high, PWM pins report their duty cycle).
    * ``drive_high()`` / ``drive_low()`` model an external circuit driving the wire. The
      level is remembered, so a driver that later configures the pin as an input with a
      pull resistor still reads what the circuit drives (an external driver is stronger
      than the internal pull). ``release()`` leaves the wire to the pull again.
    * When the firmware releases an output (device closed), the wire falls back to its
      external level or pull (floating counts as low: driver stages have pull-downs).
    """

    def __init__(self, factory: Any, info: Any) -> None:
        self._observers: list[PinObserver] = []
        self._external: bool | None = None
        super().__init__(factory, info)

    @property
    def number(self) -> int:
        """The BCM GPIO number."""
        return int(self._number)

    # ----------------------------------------------------------------- simulation side

    def add_observer(self, callback: PinObserver) -> None:
        self._observers.append(callback)

    @property
    def value(self) -> float:
        """The level on the wire, 0.0–1.0 (a PWM output gives its duty cycle)."""
        return float(self._state)

    def drive_high(self) -> None:
        self._external = True
        if self._function == "input":
            self._set_input_level(True)

    def drive_low(self) -> None:
        self._external = False
        if self._function == "input":
            self._set_input_level(False)

    def drive(self, high: bool) -> None:
        if high:
            self.drive_high()
        else:
            self.drive_low()

    def release(self) -> None:
        """The circuit stops driving the wire: the pull resistor sets the level."""
        self._external = None
        if self._function == "input":
            self._set_input_level(self._pull == "up")

    # ----------------------------------------------------------------- mock overrides

    def _set_input_level(self, level: bool) -> None:
        edge = "rising" if level else "falling"
        changed = self._change_state(level)
        if changed and self._when_changed is not None and self._edges in ("both", edge):
            self._call_when_changed()

    def _set_function(self, value: str) -> None:
        was_output = self._function == "output"
        super()._set_function(value)
        if was_output and value == "input":
            # The firmware released an output: report where the wire falls to.
            level = self._external if self._external is not None else self._pull == "up"
            if self._change_state(level):
                self._notify()

    def _set_pull(self, value: str) -> None:
        # Same checks as MockPin, but an externally driven wire keeps its level.
        if self._function != "input":
            raise PinFixedPull(f"cannot set pull on non-input pin {self!r}")
        if self.info.pull and value != self.info.pull:
            raise PinFixedPull(f"{self!r} has a fixed pull resistor")
        if value not in ("floating", "up", "down"):
            raise PinInvalidPull("pull must be floating, up, or down")
        self._pull = value
        if self._external is not None:
            self._set_input_level(self._external)
        elif value != "floating":
            self._set_input_level(value == "up")

    def _change_state(self, value: Any) -> bool:
        changed = bool(super()._change_state(value))
        if len(self.states) > _MAX_STATES:
            del self.states[: len(self.states) - _MAX_STATES]
        if changed and self._function == "output":
            self._notify()
        return changed

    def _notify(self) -> None:
        value = float(self._state)
        for callback in list(self._observers):
            callback(value)


class SimPinFactory(MockFactory):  # type: ignore[misc]  # gpiozero is untyped
    """The pin factory of one simulated station (every pin a :class:`SimPin`)."""

    def __init__(self) -> None:
        super().__init__(pin_class=SimPin)

    def pin(self, name: Any, pin_class: Any = None, **kwargs: Any) -> SimPin:
        pin: SimPin = super().pin(name, pin_class=pin_class, **kwargs)
        return pin

    def observe(self, pin_number: int, callback: PinObserver) -> None:
        """Call ``callback(value)`` whenever the firmware changes output ``pin_number``.

        The callback runs in the thread that changed the pin (the event loop thread for
        the firmware's drivers)."""
        self.pin(pin_number).add_observer(callback)

    def level(self, pin_number: int) -> float:
        """The level on a wire right now (0.0–1.0)."""
        return self.pin(pin_number).value

"""The protective-earth monitor front end behind its ADS1115 input (AC list 201).

The front end drives a small test current through the earth loop and outputs
``offset_v + ohm / ohm_per_volt`` (the station file's ``[devices.pe_monitor]`` scale); with
the PE conductor open no current flows and the output sits at its rail
(:data:`SATURATED_V`, or the configured ``open_v`` if that is higher). The earth-loop
resistance is the world's (``World.pe_ohm``; :meth:`PeCircuit.set_ohm`).

Faults besides the PE itself: ``output_override_v`` (a dead front end: 0 V) and the
ADC's ``silent``. Runs on the event loop thread like the other circuits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from hal_sim.fake_smbus import Ads1115Model

HEALTHY_PE_OHM: Final = 2.0  # a good TN installation's earth loop
SATURATED_V: Final = 3.3  # the front end's output rail: no test current (PE open)


class PeCircuit:
    """What the PE monitor front end puts on its ADC input."""

    def __init__(self, params: Mapping[str, Any], adc: Ads1115Model,
                 ohm: float = HEALTHY_PE_OHM) -> None:
        self.adc = adc
        self._channel: int = params.get("channel", 0)
        self._offset_v: float = params.get("offset_v", 0.2)
        self._ohm_per_volt: float = params.get("ohm_per_volt", 200.0)
        self._saturated_v = max(SATURATED_V, float(params.get("open_v", 3.0)))
        self._ohm = ohm
        self._override_v: float | None = None
        self._drive()

    @property
    def ohm(self) -> float:
        """The earth-loop resistance (``math.inf``: PE open)."""
        return self._ohm

    def set_ohm(self, ohm: float) -> None:
        """The installation's earth loop is now ``ohm`` (``math.inf``: PE conductor open)."""
        self._ohm = max(0.0, ohm)
        self._drive()

    @property
    def output_override_v(self) -> float | None:
        return self._override_v

    @output_override_v.setter
    def output_override_v(self, volts: float | None) -> None:
        """Hold the output at ``volts`` whatever the earth loop (None: follow it)."""
        self._override_v = volts
        self._drive()

    @property
    def output_v(self) -> float:
        """The front end's output voltage now."""
        if self._override_v is not None:
            return self._override_v
        if math.isinf(self._ohm):
            return self._saturated_v
        return min(self._saturated_v, self._offset_v + self._ohm / self._ohm_per_volt)

    def readings(self) -> dict[str, Any]:
        """JSON-ready state for ``GET /api/sim/state``."""
        return {"ohm": "open" if math.isinf(self._ohm) else round(self._ohm, 1),
                "output_v": round(self.output_v, 3), "silent": self.adc.silent}

    def _drive(self) -> None:
        self.adc.set_channel(self._channel, self.output_v)

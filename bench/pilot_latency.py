"""Latency from the EV leaving state C at the wire to the contactor output pin going low.

    .venv/bin/python bench/pilot_latency.py [--runs 100]

A simulated AC station (the real drivers on simulated wires) charges an EV; the EV then
pauses (C → B) over and over. Two figures per run, both measured with perf_counter:

* wire → pin: from the moment the pilot voltage at the ADC input changes (the simulated
  circuit writes the new level) to the contactor's GPIO output going low;
* ADC → pin: from the first ADC conversion that returns the new level to the pin low
  (what the firmware itself adds: detection filter, state machine, safety path).

Target (development machine): p99 ≤ 20 ms wire → pin; the IEC 61851 budget is 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _csms import percentile

from firmware.app.gc_policy import settle_heap
from hal_sim.runner import SimulatedStation


class Probe:
    """Timestamps at the wire: the level written, the first ADC read that sees it."""

    def __init__(self, pilot: Any) -> None:
        self.wire_t: float | None = None
        self.adc_t: float | None = None
        self._armed = False
        set_levels = pilot.set_levels
        adc = pilot.adc
        read = adc.read

        def timed_set_levels(high: float, low: float, pp: float | None) -> None:
            set_levels(high, low, pp)
            if self._armed and high > 7.5 and self.wire_t is None:
                self.wire_t = time.perf_counter()

        def timed_read(register: int, length: int) -> bytes:
            data = read(register, length)
            if self._armed and self.wire_t is not None and self.adc_t is None:
                self.adc_t = time.perf_counter()
            return data

        pilot.set_levels = timed_set_levels
        adc.read = timed_read

    def arm(self) -> None:
        self.wire_t = self.adc_t = None
        self._armed = True


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    wire: list[float] = []
    adc: list[float] = []
    async with SimulatedStation() as s:
        settle_heap()  # as `evse run` / `evse sim` do once the station runs
        # Every run is a new charging start: far more than the 5 a minute after which the
        # station reports 303 (the installer's threshold, raised for the bench).
        s.station.connectors[1].checks.rules.thresholds.max_starts = 1_000_000
        circuits = s.sim.hw.connector(1)
        probe = Probe(circuits.pilot)
        contactor = circuits.contactor
        await s.api("POST", "/api/sim/connectors/1/plug")
        await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
        for _ in range(args.runs):
            await s.wait_connector(1, lambda c: c["status"] == "Charging" and c["world"][
                "contactor_closed"], what="charging")
            probe.arm()
            contactor.last_open_command_t = None
            await s.api("POST", "/api/sim/connectors/1/pause")
            await s.wait_connector(1, lambda c: not c["contactor_closed"], what="open")
            opened = contactor.last_open_command_t
            assert opened is not None and probe.wire_t is not None and probe.adc_t is not None
            wire.append((opened - probe.wire_t) * 1000)
            adc.append((opened - probe.adc_t) * 1000)
            await s.api("POST", "/api/sim/connectors/1/resume")
    for name, values in (("wire -> contactor pin low", wire), ("ADC read -> pin low", adc)):
        print(
            f"pilot C->B {name}: p50 {percentile(values, 50):.2f} ms, "
            f"p99 {percentile(values, 99):.2f} ms, max {max(values):.2f} ms "
            f"over {len(values)} runs (target p99 <= 20 ms; IEC budget 100 ms)"
        )


if __name__ == "__main__":
    asyncio.run(main())

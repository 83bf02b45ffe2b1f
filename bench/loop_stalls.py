"""How long the event loop is held during whole sessions, AC and DC.

    .venv/bin/python bench/loop_stalls.py [--sessions 2] [--slow-ms 5]

Runs a simulated station against the demo central system (MeterValues every second),
charges connector 1 ``--sessions`` times, and meanwhile measures:

* loop lag: a probe task asks to wake every 10 ms and records how late it woke
  (p50 / p99 / max): the delay any reaction of the station could suffer;
* slow steps: asyncio's debug mode reports every callback or task step longer than
  ``--slow-ms``; the slowest are printed with the task and code location.

Target on a development machine: loop lag p99 under 5 ms, no station step over 20 ms.
``tests/e2e/test_no_blocking.py`` checks the cause (no blocking call on the loop) without
timing; this script measures the effect. The start-up heap is frozen as ``evse run``
does (firmware.app.gc_policy).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware.app.gc_policy import release_heap, settle_heap
from hal_sim.csms_demo import serve
from hal_sim.runner import SimulatedStation

STATIONS = Path(__file__).resolve().parent.parent / "hal_sim" / "stations"
PROBE_S = 0.010


class SlowSteps(logging.Handler):
    """Collects asyncio's "Executing ... took N seconds" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.steps: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        took = re.search(r"took (\d+\.\d+) seconds", message)
        if took is None:
            return
        names = [n for n in re.findall(r"name='([^']+)'", message)
                 if not re.fullmatch(r"Task-\d+", n)]
        places = re.findall(r"at (/\S+?:\d+)", message)
        where = " ".join([*names, *(_short(p) for p in places)]) or message[:80]
        self.steps.append((float(took.group(1)) * 1000.0, where))


def _short(path: str) -> str:
    for root in ("site-packages/", str(Path(__file__).resolve().parent.parent) + "/"):
        if root in path:
            return path.split(root, 1)[1]
    return re.sub(r".*/lib/python3\.\d+/", "", path)  # the standard library


async def _probe(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(PROBE_S)
        lags.append((time.perf_counter() - t0 - PROBE_S) * 1000.0)


async def run(station: Path, sessions: int, slow_ms: float) -> None:
    csms = await serve()
    handler = SlowSteps()
    logging.getLogger("asyncio").addHandler(handler)
    lags: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as state:
            async with SimulatedStation(
                station, csms_url=csms.url, state_dir=Path(state),
                set_keys=[("MeterValueSampleInterval", "1")],
            ) as s:
                cp = s.config.identity.charge_point_id
                await csms.wait_for(cp, "StatusNotification",
                                    count=len(s.config.connectors) + 1)
                settle_heap()
                loop = asyncio.get_running_loop()
                loop.slow_callback_duration = slow_ms / 1000.0
                loop.set_debug(True)
                stop = asyncio.Event()
                probe = asyncio.create_task(_probe(lags, stop))
                try:
                    for n in range(1, sessions + 1):
                        await s.api("POST", "/api/sim/connectors/1/plug")
                        await s.api("POST", "/api/sim/tokens", {"id_tag": "04A2B3C4D5"})
                        await s.wait_connector(
                            1, lambda c: c["status"] == "Charging" and c["power_w"] > 0,
                            timeout=30)
                        await asyncio.sleep(5.0)
                        await s.api("POST", "/api/sim/connectors/1/unplug")
                        await csms.wait_for(cp, "StopTransaction", count=n)
                        await asyncio.sleep(1.0)
                finally:
                    stop.set()
                    await probe
                    loop.set_debug(False)
                    release_heap()
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
        await csms.close()
    # Only the station's steps count: not the bench driving the control API, not the
    # central system (the websockets server side), not the simulated devices on the far
    # end of the wires (the pymodbus server, hal_sim).
    others = ("loop_stalls", "websockets/asyncio/server", "pymodbus/server", "hal_sim/")
    ours = [(ms, where) for ms, where in handler.steps
            if not any(part in where for part in others)]
    q = statistics.quantiles(lags, n=100)
    print(f"{station.stem}: loop lag over {len(lags)} probes: p50 {q[49]:.2f} ms, "
          f"p99 {q[98]:.2f} ms, max {max(lags):.2f} ms")
    print(f"{station.stem}: {len(ours)} station steps over {slow_ms:g} ms "
          f"({len(handler.steps) - len(ours)} of the CSMS, simulator and bench)"
          + (f", longest {max(ms for ms, _ in ours):.1f} ms" if ours else ""))
    for ms, where in sorted(ours, reverse=True)[:5]:
        print(f"    {ms:6.1f} ms  {where}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--slow-ms", type=float, default=5.0)
    parser.add_argument("--station", choices=("ac", "dc", "both"), default="both")
    args = parser.parse_args()
    names = ("ac", "dc") if args.station == "both" else (args.station,)
    for name in names:
        asyncio.run(run(STATIONS / f"{name}.toml", args.sessions, args.slow_ms))


if __name__ == "__main__":
    main()

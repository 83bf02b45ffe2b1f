"""Time from process start to BootNotification sent, for a simulated AC station.

    .venv/bin/python bench/startup.py [--runs 5]

Spawns `evse sim --csms URL` (no demo CSMS in the process) and measures from just
before the process is spawned to the BootNotification's arrival at a local central
system on loopback. Target on a development machine: 1.0 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _csms import BenchCsms

EVSE = str(Path(sys.executable).with_name("evse"))


async def one_run(free_port: int) -> float:
    async with BenchCsms() as csms:
        with tempfile.TemporaryDirectory() as state:
            t0 = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                EVSE, "sim", "--csms", csms.url, "--state-dir", state,
                "--http", f"127.0.0.1:{free_port}",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"},
            )
            try:
                await asyncio.wait_for(csms.first_boot.wait(), 30)
                t_boot = next(t for t, a, _ in csms.arrivals if a == "BootNotification")
                return t_boot - t0
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    await one_run(18931)  # warm the file cache and the bytecode
    times = [await one_run(18931 + i) for i in range(args.runs)]
    print(
        f"process start -> BootNotification: median {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s, max {max(times):.3f} s over {args.runs} runs "
        "(target <= 1.0 s)"
    )


if __name__ == "__main__":
    asyncio.run(main())

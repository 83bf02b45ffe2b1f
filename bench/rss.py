"""Resident memory of a simulated two-connector AC station after 60 s idle.

    .venv/bin/python bench/rss.py [--idle 60]

Runs `evse sim --csms URL` against a local central system (so the demo CSMS is not in
the measured process; the simulated world is, as it must be in simulation) and reads
VmRSS from /proc after the idle time. Target: 60 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _csms import BenchCsms

EVSE = str(Path(sys.executable).with_name("evse"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    async with BenchCsms() as csms:
        with tempfile.TemporaryDirectory() as state:
            proc = await asyncio.create_subprocess_exec(
                EVSE, "sim", "--csms", csms.url, "--state-dir", state, "--http", "127.0.0.1:18990",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                await asyncio.wait_for(csms.first_boot.wait(), 30)
                await asyncio.sleep(args.idle)
                rss = rss_mb(proc.pid)
                print(
                    f"RSS after {args.idle:.0f} s idle, AC station with 2 connectors: "
                    f"{rss:.1f} MB (target <= 60 MB)"
                )
            finally:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())

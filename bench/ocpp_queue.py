"""Replay rate of the transaction message queue after a long offline period.

    .venv/bin/python bench/ocpp_queue.py [--messages 10000] [--runs 3]

A simulated AC station (the whole firmware in this process) runs against a minimal local
central system on loopback. Its link is cut at the wire (the simulator's TCP proxy); while
it is down a transaction of ``--messages`` messages (StartTransaction, MeterValues with
energy, power, three currents and three voltages, StopTransaction) goes into the queue on
disk, as a station that was offline for hours would hold. Then the link is restored and
the time from the first queued message's arrival at the central system to the last one's
is measured. Target: at least 1,000 messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _csms import BenchCsms  # noqa: E402

from firmware.ocpp.metering import meter_value, sampled_values  # noqa: E402
from firmware.ports import MeterSnapshot  # noqa: E402
from hal_sim.runner import SimulatedStation  # noqa: E402

STATION = ROOT / "hal_sim" / "stations" / "ac.toml"
MEASURANDS = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import",
              "Voltage"]
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")


def fill_queue(s: SimulatedStation, messages: int) -> None:
    """One transaction of ``messages`` queued messages, through the link's own queue."""
    queue = s.station.link.transactions  # type: ignore[attr-defined]
    t0 = datetime.now(UTC) - timedelta(seconds=messages)
    with s.runtime.store.atomic():  # filling is not what is measured: one commit
        handle = queue.start(1, "04A2B3C4D5", 1000.0, t0)
        for i in range(messages - 2):
            snap = MeterSnapshot(energy_import_wh=1000.0 + 6.1 * i, power_w=22000.0,
                                 current_a=(32.0, 31.9, 32.1), voltage_v=(230.2, 229.8, 230.5))
            sample = meter_value(t0 + timedelta(seconds=i + 1),
                                 sampled_values(snap, MEASURANDS, "Sample.Periodic"))
            queue.meter_values(handle, sample)
        queue.stop(handle, 1000.0 + 6.1 * messages, t0 + timedelta(seconds=messages), "Local",
                   None, [])


async def one_run(messages: int) -> tuple[float, float]:
    """(messages per second, seconds from the restore to the first message)."""
    async with BenchCsms() as csms:
        with tempfile.TemporaryDirectory() as state:
            async with SimulatedStation(STATION, csms_url=csms.url,
                                        state_dir=Path(state)) as s:
                await s.wait(lambda st: st["csms_online"] is True, timeout=30)
                await s.api("POST", "/api/sim/network", {"online": False})
                await s.wait(lambda st: st["csms_online"] is False, timeout=30)
                fill_queue(s, messages)
                assert s.runtime.store.queue_len() == messages
                restored = time.perf_counter()
                await s.api("POST", "/api/sim/network", {"online": True})
                async with asyncio.timeout(600):
                    while s.runtime.store.queue_len():
                        await asyncio.sleep(0.05)
            times = [t for t, action, _ in csms.arrivals if action in TX_ACTIONS]
            assert len(times) == messages, f"{len(times)} of {messages} arrived"
            return (messages - 1) / (times[-1] - times[0]), times[0] - restored


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    results = [await one_run(args.messages) for _ in range(args.runs)]
    rates = [r for r, _ in results]
    print(
        f"queue replay after reconnection: {args.messages} messages, median "
        f"{statistics.median(rates):.0f} msg/s (min {min(rates):.0f}, max {max(rates):.0f}) "
        f"over {args.runs} runs; first message {statistics.median(d for _, d in results):.2f} s "
        "after the link came back (reconnect back-off) (target >= 1000 msg/s)"
    )


if __name__ == "__main__":
    asyncio.run(main())

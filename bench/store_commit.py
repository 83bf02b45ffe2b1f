"""How long the store holds the event loop per write, on the disk the state lives on.

    .venv/bin/python bench/store_commit.py [--dir /var/lib/evse] [--writes 500]

The store (firmware/storage/store.py) commits on the event loop thread, WAL with
``synchronous=FULL``: every write is on disk when it returns, and the loop waits for
that fsync. This times the station's commonest writes, a MeterValues message queued
and acknowledged (two commits) and a meter reading persisted, on a fresh store in
``--dir`` (default: a temporary directory). Run it on the board's own storage (an SD card
or eMMC) before trusting the figures of a development machine: a p99 above a few
milliseconds eats into the 100 ms IEC 61851 reaction budget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware.storage.store import Store

PAYLOAD = {"connectorId": 1, "transactionId": 42, "meterValue": [{
    "timestamp": "2026-11-21T12:00:00Z",
    "sampledValue": [{"value": "12345.6", "measurand": "Energy.Active.Import.Register",
                      "unit": "Wh"}] * 4}]}


def _figures(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100)
    return (f"{name}: p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {max(ms):.2f} ms "
            f"({len(ms)} writes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where the state lives")
    parser.add_argument("--writes", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        store = Store(Path(tmp) / "state.db")
        try:
            local_id = store.next_local_tx_id()
            store.record_start(local_id, 1, "04A2B3C4D5", 1000.0, datetime.now(UTC))
            queued, meter = [], []
            for n in range(args.writes):
                now = datetime.now(UTC)
                t0 = time.perf_counter()
                seq = store.queue_push("MeterValues", PAYLOAD, None, now)
                store.queue_ack(seq)
                t1 = time.perf_counter()
                store.persist_meter(local_id, 1000.0 + n, now)
                t2 = time.perf_counter()
                queued.append((t1 - t0) * 1000.0)
                meter.append((t2 - t1) * 1000.0)
        finally:
            store.close()
    print(f"store in {args.dir or tempfile.gettempdir()}")
    print(_figures("queue push + ack", queued))
    print(_figures("meter reading persisted", meter))


if __name__ == "__main__":
    main()

"""Where the test suite finds the project's files (the example stations, the docs)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SIM_STATIONS = ROOT / "hal_sim" / "stations"  # the example stations `evse sim` runs
TEST_STATIONS = Path(__file__).resolve().parent / "stations"  # stations only tests use
DOCS = ROOT / "docs"

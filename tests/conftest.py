"""Shared fixtures: a demo central system and simulated stations, all on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware.csms_demo import DemoCsms, serve

STATIONS = Path(__file__).resolve().parent.parent / "hal_sim" / "stations"
AC_STATION = STATIONS / "ac.toml"
DC_STATION = STATIONS / "dc.toml"


@pytest.fixture
async def demo_csms() -> AsyncIterator[DemoCsms]:
    csms = await serve()
    try:
        yield csms
    finally:
        await csms.close()

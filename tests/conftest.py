"""Shared fixtures: a demo central system and simulated stations, all on loopback."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import settings

from hal_sim.csms_demo import DemoCsms, serve
from tests.support.paths import SIM_STATIONS

# Helper modules with asserts of their own (rigs, environments): rewrite those too, so a
# failing step shows its values (station_fixtures is also imported as a plugin).
pytest.register_assert_rewrite(
    "tests.support.station_fixtures", "tests.support.dc_rig", "tests.support.monitor_env"
)

# CI runs the property tests on a fixed seed: a red build must be reproducible from the
# commit alone, and a bug found by a new random draw is found by a soak run
# (HYPOTHESIS_PROFILE unset, or SAFETY_EXAMPLES raised), not by chance in a build.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

STATIONS = SIM_STATIONS
AC_STATION = STATIONS / "ac.toml"
DC_STATION = STATIONS / "dc.toml"


@pytest.fixture
async def demo_csms() -> AsyncIterator[DemoCsms]:
    csms = await serve()
    try:
        yield csms
    finally:
        await csms.close()

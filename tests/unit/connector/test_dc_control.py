"""The pure part of the DC glue (firmware.connector.dc_control): when Autocharge is missing
the EV's id (108)."""

from __future__ import annotations

import pytest

from drivers.interfaces import EvStatus
from firmware.connector.dc_control import autocharge_id_missing


@pytest.mark.parametrize(
    ("autocharge", "connected", "ev_id", "missing"),
    [
        (True, True, None, True),  # on, EV there, no EVCCID: 108
        (True, True, "", True),  # an empty id is no id
        (True, True, "VID:0012AB", False),
        (True, False, None, False),  # no EV: nothing missing
        (False, True, None, False),  # Autocharge off: a card is the way anyway
    ],
)
def test_autocharge_id_missing(autocharge: bool, connected: bool, ev_id: str | None,
                               missing: bool) -> None:
    status = EvStatus(connected=connected, ev_id=ev_id)
    assert autocharge_id_missing(autocharge, status) is missing

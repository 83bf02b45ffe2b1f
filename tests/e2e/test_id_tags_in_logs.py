"""idTags are personal data: no log line at INFO or above shows one in clear.

A simulated station against the demo central system takes a reservation, a card at the
reader and a remote start, each with a recognisable tag; the firmware's and the drivers'
records at INFO and above name those cards only in their redacted form
(:func:`firmware.log_context.redact_id_tag`). The OCPP messages still carry the real tags.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from firmware.log_context import redact_id_tag
from tests.support.tc_harness import card, demo_station, in_seconds, plug, status

CARD = "04C0FFEE5A17"  # a UID at the NFC reader
RESERVED = "PRIVATE-RSV-0042"  # ReserveNow, then RemoteStartTransaction with it
TAGS = (CARD, RESERVED)
# Our layers; the demo central system (hal_sim) logs every message it gets, tags included.
OURS = ("firmware", "drivers")


def _ours(record: logging.LogRecord) -> bool:
    def within(prefixes: tuple[str, ...]) -> bool:
        return any(record.name == p or record.name.startswith(p + ".") for p in prefixes)

    return within(OURS)


async def test_no_line_at_info_or_above_shows_an_id_tag(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with demo_station(tmp_path) as (s, csms):
        reserve = {"connectorId": 2, "expiryDate": in_seconds(300), "idTag": RESERVED,
                   "reservationId": 42}
        assert (await csms.call("ReserveNow", reserve))["status"] == "Accepted"
        await status(csms, 2, "Reserved")
        await card(s, CARD)  # the card first: Authorize, then it waits for a plug
        await csms.wait_for("Authorize", where=lambda p: p["idTag"] == CARD)
        await plug(s, 1)
        start = await csms.wait_for("StartTransaction")
        assert start["idTag"] == CARD  # the central system still gets the real tag
        remote = {"connectorId": 2, "idTag": RESERVED}
        assert (await csms.call("RemoteStartTransaction", remote))["status"] == "Accepted"
        await status(csms, 2, "Preparing")

    records = [r for r in caplog.records if r.levelno >= logging.INFO and _ours(r)]
    leaks = [f"{r.name}: {r.getMessage()}" for r in records
             for tag in TAGS if tag.casefold() in r.getMessage().casefold()]
    assert leaks == []
    # The lines about those cards ran, naming them in the redacted form.
    lines = {(r.name, r.getMessage()) for r in records}

    def named(logger: str, tag: str) -> bool:
        return any(name == logger and redact_id_tag(tag) in text for name, text in lines)

    assert named("firmware.auth.reservations", RESERVED)
    assert named("firmware.ocpp.reservation_profile", RESERVED)
    assert named("firmware.auth.authorizer", CARD)
    assert named("firmware.ocpp.transactions", CARD)
    assert named("firmware.ocpp.core_profile", RESERVED)

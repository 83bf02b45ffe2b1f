"""Contract tests of the NFC reader driver (NfcpyReader) on a reader rig."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from drivers.interfaces import ReaderFault

if TYPE_CHECKING:
    from tests.support.sim_fixtures import NfcRig

pytest_plugins = ("tests.support.sim_fixtures",)


@pytest.fixture
async def running(nfc_rig: NfcRig) -> AsyncIterator[list[str]]:
    """The reader's run() in a task; yields the idTags it reports."""
    tokens: list[str] = []
    nfc_rig.reader.subscribe(tokens.append)
    task = asyncio.create_task(nfc_rig.reader.run())
    try:
        yield tokens
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_uid_is_reported_as_upper_case_hex(nfc_rig: NfcRig, running: list[str]) -> None:
    nfc_rig.require("present")
    uid = nfc_rig.card(0)
    nfc_rig.present(uid.lower())
    await nfc_rig.eventually(lambda: running == [uid.upper()])
    assert nfc_rig.reader.fault is None


async def test_a_card_held_is_reported_once(nfc_rig: NfcRig, running: list[str]) -> None:
    nfc_rig.require("present")
    uid = nfc_rig.card(0)
    nfc_rig.present(uid, hold_s=None)
    await nfc_rig.eventually(lambda: running == [uid])
    await asyncio.sleep(0.1)  # many reader polls with the card still there
    assert running == [uid]
    nfc_rig.remove()
    nfc_rig.present(uid)  # taken away and presented again: a second report
    await nfc_rig.eventually(lambda: running == [uid, uid])


async def test_cards_one_after_another(nfc_rig: NfcRig, running: list[str]) -> None:
    nfc_rig.require("present")
    first, second = nfc_rig.card(0), nfc_rig.card(1)
    nfc_rig.present(first, hold_s=None)
    await nfc_rig.eventually(lambda: running == [first])
    nfc_rig.remove()
    nfc_rig.present(second)
    await nfc_rig.eventually(lambda: running == [first, second])


async def test_lost_reader_sets_the_fault_and_replug_clears_it(
    nfc_rig: NfcRig, running: list[str]
) -> None:
    nfc_rig.require("unplug")
    nfc_rig.require("present")
    rig = nfc_rig
    rig.unplug()
    await asyncio.sleep(0.05)  # the reader thread notices the failure
    assert rig.reader.fault is None  # not yet failing for lost_after_s
    rig.clock.advance(rig.lost_after_s + 0.1)
    await rig.eventually(lambda: rig.reader.fault is ReaderFault.LOST)
    rig.replug()
    await rig.eventually(lambda: rig.reader.fault is None)
    uid = rig.card(0)
    rig.present(uid)
    await rig.eventually(lambda: running == [uid])


async def test_run_stops_when_cancelled(nfc_rig: NfcRig) -> None:
    task = asyncio.create_task(nfc_rig.reader.run())
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_ndef_text_card_reports_its_text_with_id_from_ndef_text() -> None:
    """A card carrying an NDEF text idTag (e.g. "TAG1") is reported as that text when the
    reader is configured with id_from = "ndef_text"; a plain card still gives its UID."""
    import asyncio

    from drivers.context import DriverContext
    from drivers.nfc import NfcpyReader
    from hal_sim.nfc_sim import FakeClf

    clf = FakeClf()

    class _Wiring:
        def open_nfc(self, device: str) -> FakeClf:
            return clf.open(device)

    reader = NfcpyReader(
        {"device": "tty:AMA0:pn532", "lost_after_s": 5.0, "id_from": "ndef_text"},
        DriverContext(_Wiring(), 0, "devices.token_reader"),  # type: ignore[arg-type]
    )
    seen: list[str] = []
    reader.subscribe(seen.append)
    task = asyncio.create_task(reader.run())
    try:
        clf.present("0A1B2C3D", hold_s=0.1, text="TAG1")
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        clf.present("04A2B3C4D5", hold_s=0.1)
        for _ in range(100):
            if len(seen) == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with __import__("contextlib").suppress(asyncio.CancelledError):
            await task
    assert seen == ["TAG1", "04A2B3C4D5"]

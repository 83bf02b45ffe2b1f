"""The NFC reader reports losing and finding its reader to subscribers (AC list 109)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from drivers.interfaces import ReaderFault
from drivers.params import normalise_port

if TYPE_CHECKING:
    from tests.support.sim_fixtures import SimNfcRig

pytest_plugins = ("tests.support.sim_fixtures",)


@pytest.mark.parametrize(
    ("device", "port"),
    [("tty:AMA0:pn532", "/dev/ttyAMA0"), ("tty:USB0", "/dev/ttyUSB0"),
     ("usb:072f:2200", "usb:072f:2200"), ("/dev/ttyAMA2", "/dev/ttyAMA2")],
)
def test_nfcpy_device_strings_name_their_port(device: str, port: str) -> None:
    assert normalise_port(device) == port


async def test_fault_changes_reach_the_subscribers(nfc_rig: SimNfcRig) -> None:
    rig = nfc_rig
    rig.require("unplug")
    faults: list[ReaderFault | None] = []
    rig.reader.subscribe_fault(faults.append)
    task = asyncio.create_task(rig.reader.run())
    try:
        rig.unplug()
        await asyncio.sleep(0.05)
        rig.clock.advance(rig.lost_after_s + 0.1)
        await rig.eventually(lambda: faults == [ReaderFault.LOST])
        rig.replug()
        await rig.eventually(lambda: faults == [ReaderFault.LOST, None])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

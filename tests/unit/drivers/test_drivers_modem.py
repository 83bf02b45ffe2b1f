"""Contract tests of the AT-command modem driver against a modem peer on a pty pair."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceFaulted, DeviceSilent, DriverError
from drivers.interfaces_station import ModemFault
from drivers.modem import AtError, parse_cops, rssi_dbm

if TYPE_CHECKING:
    from tests.support.station_fixtures import ModemRig

pytest_plugins = ("tests.support.station_fixtures",)


def test_rssi_conversion() -> None:
    assert rssi_dbm(0) == -113
    assert rssi_dbm(20) == -73
    assert rssi_dbm(31) == -51
    assert rssi_dbm(99) is None
    with pytest.raises(ValueError):
        rssi_dbm(45)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('+COPS: 0,0,"Vodafone.de",7', ("Vodafone.de", "4G")),
        ('+COPS: 0,0,"T-Mobile NL",2', ("T-Mobile NL", "3G")),
        ('+COPS: 1,2,"26201",0', ("26201", "2G")),
        ('+COPS: 0,0,"NR op",11', ("NR op", "5G")),
        ('+COPS: 0,0,"old modem"', ("old modem", None)),
        ("+COPS: 0", (None, None)),
    ],
)
def test_cops_parsing(line: str, expected: tuple[str | None, str | None]) -> None:
    assert parse_cops(line) == expected


async def test_reads_signal_operator_and_sim(modem_rig: ModemRig) -> None:
    info = await modem_rig.modem.read()
    assert info.rssi_dbm is None or -113 <= info.rssi_dbm <= -51
    if modem_rig.has_sim:
        assert info.iccid is not None and 18 <= len(info.iccid) <= 20
        assert info.imsi is not None and info.imsi.isdigit()
    if "set" in modem_rig.capabilities:
        assert info.rssi_dbm == -73
        assert (info.operator, info.technology) == ("Vodafone.de", "4G")
        assert info.iccid == "89490200001234567890"
        assert info.imsi == "262021234567890"
        assert modem_rig.modem.fault is None


async def test_other_modems_spell_iccid_differently(modem_rig: ModemRig) -> None:
    rig = modem_rig
    rig.require("set")
    rig.peer.csq = 99  # no signal known
    rig.peer.act = 2
    original = rig.peer._respond

    def without_ccid(command: str) -> tuple[list[str], str]:
        return ([], "ERROR") if command == "AT+CCID" else original(command)

    rig.peer._respond = without_ccid  # type: ignore[method-assign]
    info = await rig.modem.read()
    assert info.rssi_dbm is None
    assert info.technology == "3G"
    assert info.iccid == "89490200001234567890"  # from AT+QCCID
    assert "AT+QCCID" in rig.peer.commands


async def test_no_sim_and_no_network(modem_rig: ModemRig) -> None:
    rig = modem_rig
    rig.require("remove_sim")
    rig.peer.sim_present = False
    info = await rig.modem.read()
    assert (info.iccid, info.imsi, info.operator) == (None, None, None)
    assert rig.modem.fault is ModemFault.NO_SIM
    rig.peer.sim_present = True
    rig.peer.registered = False
    info = await rig.modem.read()
    assert info.operator is None and info.iccid is not None
    assert rig.modem.fault in (ModemFault.NOT_REGISTERED,)  # ("is" would be narrowed away)


async def test_silent_modem(modem_rig: ModemRig) -> None:
    rig = modem_rig
    rig.require("silence")
    rig.peer.silent = True
    with pytest.raises(DeviceSilent):
        await rig.modem.read()
    rig.peer.silent = False
    assert (await rig.modem.read()).operator == "Vodafone.de"


async def test_nonsense_answers(modem_rig: ModemRig) -> None:
    rig = modem_rig
    rig.require("garbage")
    rig.peer.garbage = True
    with pytest.raises(DeviceFaulted) as raised:
        await rig.modem.read()
    assert raised.value.fault is ModemFault.BAD_ANSWER
    rig.peer.garbage = False
    rig.peer.csq = 45  # out of the 27.007 range
    with pytest.raises(DeviceFaulted) as raised:
        await rig.modem.read()
    assert raised.value.fault is ModemFault.BAD_ANSWER


async def test_an_unexpected_error_answer_is_a_driver_error(modem_rig: ModemRig) -> None:
    """ERROR where the driver expects an answer is the modem's error, raised as a
    DriverError (the station reports it as the modem's problem, not as fault 001)."""
    rig = modem_rig
    rig.require("set")
    original = rig.peer._respond

    def csq_refused(command: str) -> tuple[list[str], str]:
        return ([], "+CME ERROR: 100") if command == "AT+CSQ" else original(command)

    rig.peer._respond = csq_refused  # type: ignore[method-assign]
    with pytest.raises(DriverError) as raised:
        await rig.modem.read()
    assert isinstance(raised.value, AtError) and raised.value.line == "+CME ERROR: 100"
    rig.peer._respond = original  # type: ignore[method-assign]
    assert (await rig.modem.read()).operator == "Vodafone.de"

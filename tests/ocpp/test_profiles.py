"""The OCPP profiles behind declared ports: what each profile answers without its
capability, what it does with one, which profiles SupportedFeatureProfiles names, and that
the parts of the station really are the ports the assembly hands them out as."""

from __future__ import annotations

import inspect
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from ocpp.v16 import call

from firmware.auth.authorizer import Authorizer, LocalList
from firmware.auth.reservations import ReservationBook, Reservations
from firmware.clock import ManualClock
from firmware.config.model import Identity
from firmware.connector.external import TransactionPort
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.link import Backoff, OcppLink
from firmware.ocpp.local_list_profile import LocalListProfile
from firmware.ocpp.profile import LinkServices, Profile
from firmware.ocpp.reservation_profile import ReservationProfile
from firmware.ocpp.rpc import Reply, Router
from firmware.ocpp.trigger_profile import RemoteTriggerProfile
from firmware.ports import (
    AuthorizationCache,
    AvailabilityControl,
    CentralSystemLink,
    ChargingLimits,
    DiagnosticsStatus,
    DiagnosticsStatusSource,
    FirmwareStatus,
    FirmwareStatusSource,
    IncomingDataTransfer,
    LocalAuthList,
    RemoteControl,
    ReservationControl,
    ResetControl,
    StationPort,
    UnlockControl,
)
from firmware.power.manager import PowerManager
from firmware.station.authorization_flow import AuthorizationFlow
from firmware.station.local_link import LocalLink
from firmware.station.operations import ConnectorLink, StationOps
from firmware.station.station import Station
from firmware.storage.store import Store
from hal_sim.csms_demo import DemoCsms, serve
from tests.support.peer_harness import (
    StubStation,
    bare_core,
    bare_trigger,
    install_stub_profiles,
    running,
    until,
)
from tests.support.tc_harness import demo_station

CP = "CP-PROFILES-1"
IDENTITY = Identity(charge_point_id=CP, vendor="OpenEVSE Works", model="AC22-2S")


@pytest.fixture
async def csms() -> AsyncIterator[DemoCsms]:
    server = await serve()
    yield server
    await server.close()


def bare_link(url: str = "ws://127.0.0.1:9/ocpp") -> OcppLink:
    """A link with no profile installed (it never runs unless a test runs it)."""
    store = Store(None)
    return OcppLink(IDENTITY, url, store, ConfigKeys(store), ManualClock(), connector_count=2,
                    backoff=Backoff(0.05, 0.2, rng=random.Random(5)), call_timeout=5.0)


def payload(reply: Reply | dict[str, Any]) -> dict[str, Any]:
    return reply.payload if isinstance(reply, Reply) else reply


# --------------------------------------------------------------------------- without a port


async def test_core_without_its_ports_answers_as_documented() -> None:
    link = bare_link()
    core = bare_core(link, StubStation())  # no operation port at all
    reset = await core.reset({"type": "Soft"})
    assert payload(reset) == {"status": "Rejected"} and reset.after is None
    assert await core.change_availability({"connectorId": 1, "type": "Inoperative"}) == {
        "status": "Rejected"}
    assert await core.unlock_connector({"connectorId": 1}) == {"status": "NotSupported"}
    assert await core.clear_cache({}) == {"status": "Accepted"}  # no cache: it is empty
    assert await core.data_transfer({"vendorId": "ACME", "data": "x"}) == {
        "status": "UnknownVendorId"}
    assert await core.remote_start({"idTag": "T", "connectorId": 1}) == {"status": "Rejected"}
    assert await core.remote_stop({"transactionId": 1}) == {"status": "Rejected"}


async def test_trigger_without_firmware_or_diagnostics_port_is_not_implemented() -> None:
    trigger = bare_trigger(bare_link(), StubStation())
    for message in ("FirmwareStatusNotification", "DiagnosticsStatusNotification"):
        reply = await trigger.trigger_message({"requestedMessage": message})
        assert reply.payload == {"status": "NotImplemented"} and reply.after is None


async def test_a_profile_not_installed_is_not_supported_on_the_wire(csms: DemoCsms) -> None:
    station = StubStation()
    link = install_stub_profiles(bare_link(csms.url), station)
    async with running(link, station):
        await until(lambda: link.online)
        reserve = '[2,"r1","ReserveNow",{"connectorId":1,"expiryDate":"2030-01-01T00:00:00Z",' \
                  '"idTag":"T","reservationId":1}]'
        answer = await csms.raw_call(CP, reserve, "r1")
        version = await csms.raw_call(CP, '[2,"l1","GetLocalListVersion",{}]', "l1")
    assert answer[0] == 4 and answer[2] == "NotSupported"
    assert version[0] == 4 and version[2] == "NotSupported"


# --------------------------------------------------------------------------- with a port


class Firmware:
    """A FirmwareStatusSource and DiagnosticsStatusSource (no real one exists yet: the
    FirmwareManagement profile will bring it)."""

    def __init__(self) -> None:
        self.firmware: FirmwareStatus = "Idle"
        self.diagnostics: DiagnosticsStatus = "Idle"

    def firmware_status(self) -> FirmwareStatus:
        return self.firmware

    def diagnostics_status(self) -> DiagnosticsStatus:
        return self.diagnostics


async def test_trigger_firmware_and_diagnostics_status_with_their_port(csms: DemoCsms) -> None:
    station, firmware = StubStation(), Firmware()
    link = bare_link(csms.url)
    link.install(bare_core(link, station, remote=station))
    link.install(RemoteTriggerProfile(link, station, firmware=firmware, diagnostics=firmware))
    async with running(link, station):
        await until(lambda: link.online)
        firmware.firmware = "Downloading"
        result = await csms.call(
            CP, call.TriggerMessage(requested_message="FirmwareStatusNotification"))
        assert result.status == "Accepted"
        [sent] = await csms.wait_for(CP, "FirmwareStatusNotification")
        firmware.diagnostics = "Uploading"
        result = await csms.call(
            CP, call.TriggerMessage(requested_message="DiagnosticsStatusNotification"))
        assert result.status == "Accepted"
        [diagnostics] = await csms.wait_for(CP, "DiagnosticsStatusNotification")
    assert sent == {"status": "Downloading"} and diagnostics == {"status": "Uploading"}
    actions = [m.action for m in csms.messages]
    # The answer first, then the requested message (OCPP 1.6 §5.17).
    assert actions.index("TriggerMessage.conf") < actions.index("FirmwareStatusNotification")


async def test_local_list_profile_works_on_the_list_alone() -> None:
    store = Store(None)
    profile = LocalListProfile(LocalList(store, lambda _name: None))
    assert await profile.get_local_list_version({}) == {"listVersion": 0}
    answer = await profile.send_local_list({
        "listVersion": 3, "updateType": "Full",
        "localAuthorizationList": [{"idTag": "A-1", "idTagInfo": {"status": "Accepted"}}],
    })
    assert answer == {"status": "Accepted"}
    assert await profile.get_local_list_version({}) == {"listVersion": 3}
    stale = await profile.send_local_list({"listVersion": 2, "updateType": "Differential"})
    assert stale == {"status": "VersionMismatch"}


# --------------------------------------------------------------------------- SupportedFeature...


def test_supported_feature_profiles_follow_the_installed_profiles() -> None:
    link = bare_link()
    station = StubStation()
    link.install(bare_core(link, station))
    assert link.keys.get("SupportedFeatureProfiles") == "Core"
    reservations = Reservations(ReservationBook(Store(None)), {}, ManualClock(), lambda: False)
    link.install(ReservationProfile(reservations))
    link.install(bare_trigger(link, station))
    assert link.keys.get("SupportedFeatureProfiles") == "Core,Reservation,RemoteTrigger"
    actions = link.router.actions()
    assert {"ReserveNow", "CancelReservation", "TriggerMessage"} <= set(actions)
    assert "SendLocalList" not in actions  # not installed: the router answers NotSupported


async def test_the_station_installs_its_four_profiles(tmp_path: Path) -> None:
    async with demo_station(tmp_path) as (s, central):
        answer = await central.call("GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
        actions = set(s.station.link.router.actions())  # type: ignore[attr-defined]
    [entry] = answer["configurationKey"]
    assert entry["value"] == "Core,LocalAuthListManagement,Reservation,RemoteTrigger"
    assert {"Reset", "ChangeAvailability", "UnlockConnector", "ClearCache", "DataTransfer",
            "SendLocalList", "ReserveNow", "CancelReservation", "TriggerMessage"} <= actions


# --------------------------------------------------------------------------- LocalLink


async def test_local_link_is_a_complete_offline_link() -> None:
    link = LocalLink(ManualClock())
    assert link.url is None and not link.online
    assert await link.authorize("T") is None
    assert await link.data_transfer("works.openevse", "Hello") is None
    await link.run(StubStation())  # nothing to connect to: returns at once
    await link.shutdown(0.1)


# --------------------------------------------------------------------------- the ports' shapes


def _members(port: type) -> dict[str, Any]:
    """The members a protocol declares, its own and its bases'."""
    members: dict[str, Any] = {}
    for cls in reversed(port.__mro__):
        if cls in (object, Protocol) or not getattr(cls, "_is_protocol", False):
            continue
        members.update({k: v for k, v in vars(cls).items() if not k.startswith("_")})
    return members


def _shape(fn: Any) -> list[tuple[str, Any, bool]]:
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty)
            for p in inspect.signature(fn).parameters.values()]


def assert_satisfies(impl: object, port: type) -> None:
    """``impl`` (a class, or an instance where attributes are set in ``__init__``) has
    every member of ``port`` by the same name, sync/async kind and parameters: what a
    misspelt name or a changed signature on either side breaks."""
    for name, declared in _members(port).items():
        assert hasattr(impl, name), f"{impl!r} lacks {port.__name__}.{name}"
        if isinstance(declared, property):
            continue
        owner = impl if isinstance(impl, type) else type(impl)
        actual = inspect.getattr_static(owner, name)
        assert inspect.iscoroutinefunction(actual) == inspect.iscoroutinefunction(declared), (
            f"{owner.__name__}.{name}: async does not match {port.__name__}")
        assert _shape(actual) == _shape(declared), f"{owner.__name__}.{name} vs {port.__name__}"


@pytest.mark.parametrize(("impl", "port"), [
    (Station, StationPort), (AuthorizationFlow, RemoteControl), (StationOps, ResetControl),
    (StationOps, AvailabilityControl), (StationOps, UnlockControl),
    (StationOps, IncomingDataTransfer), (Authorizer, AuthorizationCache),
    (LocalList, LocalAuthList), (Reservations, ReservationControl),
    (PowerManager, ChargingLimits), (ConnectorLink, TransactionPort),
    (LocalLink, CentralSystemLink), (StubStation, StationPort), (StubStation, RemoteControl),
    (Firmware, FirmwareStatusSource), (Firmware, DiagnosticsStatusSource),
], ids=lambda v: getattr(v, "__name__", str(v)))
def test_the_parts_have_the_shape_of_their_ports(impl: type, port: type) -> None:
    assert_satisfies(impl, port)


def test_the_link_has_the_shape_of_its_ports() -> None:
    link = bare_link()
    assert_satisfies(link, CentralSystemLink)
    assert_satisfies(link, LinkServices)
    reservations = Reservations(ReservationBook(Store(None)), {}, ManualClock(), lambda: False)
    for profile in (bare_core(link, StubStation()), bare_trigger(link, StubStation()),
                    LocalListProfile(LocalList(Store(None), lambda _n: None)),
                    ReservationProfile(reservations)):
        assert_satisfies(profile, Profile)
        profile.install(Router())


def test_the_shape_check_catches_a_misspelt_member() -> None:
    class Misspelt:
        async def remote_start(self, connector_id: int | None, id_tag: str) -> bool:
            return False

        async def remote_stopp(self, connector_id: int) -> bool:
            return False

    class WrongKind:
        def remote_start(self, connector_id: int | None, id_tag: str) -> bool:
            return False

        async def remote_stop(self, connector_id: int) -> bool:
            return False

    for impl in (Misspelt, WrongKind):
        with pytest.raises(AssertionError):
            assert_satisfies(impl, RemoteControl)

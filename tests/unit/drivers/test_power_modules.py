"""CAN power stacks: the InfyPower frames, the bus owner, the module pool (discovery,
keep-alive, every status fault bit, lost modules) and the connectors' module groups,
running on simulated InfyPower modules on a python-can virtual bus."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import can
import pytest

from drivers.can_bus import CanBusOwner, release_can
from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent, DriverError
from drivers.infypower import (
    BIT_FOR_FAULT,
    CMD_ON_OFF,
    CMD_SET,
    FAULT_BITS,
    FrameId,
    InfyPowerProtocol,
    InfyStatus,
    faults_of,
    frame,
)
from drivers.interfaces import PowerStackFault
from drivers.module_group import derating, split_current
from drivers.module_protocol import (
    AckReply,
    CountReply,
    LimitsReply,
    ModuleLimits,
    OutputReply,
    StatusReply,
)
from firmware.config import ConfigError, parse_station
from tests.support.dc_power_rig import PowerRig, station_toml

P = InfyPowerProtocol()
LIMITS = ModuleLimits(150.0, 1000.0, 100.0, 30_000.0)


# ------------------------------------------------------------------ frames


def test_set_output_frame_bytes() -> None:
    msg = P.set_output(3, 500.0, 25.0)
    assert msg.is_extended_id
    assert msg.arbitration_id == (0x0A << 22) | (0x1C << 16) | (3 << 8) | 0xF0 == 0x029C03F0
    assert bytes(msg.data) == bytes.fromhex("0007A120000061A8")  # 500000 mV, 25000 mA


def test_switch_and_reads() -> None:
    assert bytes(P.switch(1, True).data)[0] == 0
    assert bytes(P.switch(1, False).data)[0] == 1
    fid = FrameId.parse(P.read_output(5).arbitration_id)
    assert (fid.error, fid.device, fid.command, fid.destination, fid.source) == (
        0, 0x0A, 0x03, 5, 0xF0)
    (count,) = P.discover()
    assert FrameId.parse(count.arbitration_id).destination == 0x3F  # broadcast


def reply(command: int, data: bytes, address: int = 2, error: int = 0) -> can.Message:
    return frame(command, 0xF0, data, source=address, error=error)


def test_decode_replies() -> None:
    assert P.decode(reply(0x02, bytes([0, 0, 6, 0, 0, 0, 0, 0]))) == CountReply(2, 6)
    assert P.decode(reply(0x03, struct.pack(">ff", 400.0, 12.5))) == OutputReply(2, 400.0, 12.5)
    limits = P.decode(reply(0x0A, struct.pack(">HHHH", 1000, 150, 1000, 3000)))
    assert limits == LimitsReply(2, LIMITS)
    status = P.decode(reply(0x04, bytes([0, 0, 0, 0, 47, 0x08, 0x11, 0x00])))
    hot_no_phase = frozenset({PowerStackFault.PHASE_LOST, PowerStackFault.OVER_TEMPERATURE})
    assert status == StatusReply(2, hot_no_phase, output_off=True, power_limited=False,
                                 temperature_c=47.0, raw=0x081100)
    assert P.decode(reply(CMD_SET, bytes(8), error=3)) == AckReply(2, CMD_SET, 3)
    assert P.decode(reply(CMD_ON_OFF, bytes(8))) == AckReply(2, CMD_ON_OFF, 0)
    other = frame(0x03, 0xF1, bytes(8), source=2)  # another controller's answer
    assert P.decode(other) is None


@pytest.mark.parametrize("bit", list(FAULT_BITS))
def test_every_fault_bit_maps_to_its_fault(bit: InfyStatus) -> None:
    assert faults_of(bit) == {FAULT_BITS[bit]}


def test_state_bits_are_not_faults() -> None:
    states = (InfyStatus.DC_OFF | InfyStatus.SLEEPING | InfyStatus.WALK_IN
              | InfyStatus.POWER_LIMITED | InfyStatus.PFC_OFF | InfyStatus.LOAD_SHARING
              | InfyStatus.INPUT_UNBALANCED | InfyStatus.DISCHARGE_ABNORMAL)
    assert faults_of(states) == frozenset()


def test_split_current_by_capacity() -> None:
    small = ModuleLimits(150.0, 1000.0, 50.0, 15_000.0)
    assert split_current(90.0, 400.0, [LIMITS, LIMITS]) == [45.0, 45.0]
    assert split_current(90.0, 200.0, [LIMITS, small]) == pytest.approx([60.0, 30.0])
    assert split_current(500.0, 400.0, [LIMITS, LIMITS]) == [75.0, 75.0]  # 30 kW at 400 V
    assert split_current(10.0, 400.0, []) == []


def test_derating_by_the_hottest_module() -> None:
    assert derating([None, 40.0]) == 1.0
    assert derating([70.0, 80.0]) == pytest.approx(0.75)
    assert derating([120.0]) == 0.5


# ------------------------------------------------------------------ configuration


def test_config_checks_the_can_references() -> None:
    config = parse_station(station_toml(), "t.toml")
    assert config.devices["power_modules"].params["lost_after_s"] == 15.0
    assert config.connector(2).devices["power_stack"].params["first_module"] == 2
    bad = station_toml().replace('bus = "stacks"\nfirst_module = 2',
                                 'bus = "nope"\nfirst_module = 2')
    with pytest.raises(ConfigError, match=r"connectors\[2\]\.power_stack\.bus: no can bus"):
        parse_station(bad, "t.toml")
    twice = station_toml() + '\n[buses.can.other]\ndriver = "virtual"\nchannel = "stacks"\n'
    with pytest.raises(ConfigError, match="already used"):
        parse_station(twice, "t.toml")


# ------------------------------------------------------------------ bus owner


async def test_bus_owner_dispatches_by_id_and_isolates_handlers() -> None:
    rig = PowerRig()
    owner = CanBusOwner({"channel": "x"}, DriverContext(rig.wiring, 0, "buses.can.x"))
    with pytest.raises(DeviceSilent):
        owner.send(P.read_output(0))
    await owner.start()
    peer = rig.wiring.can_bus("virtual", "x", 125000)
    got: list[int] = []

    def broken(msg: can.Message) -> None:
        raise RuntimeError("bug")

    owner.subscribe(broken)
    sub = owner.subscribe(lambda m: got.append(m.arbitration_id), mask=0xFF, value=0x07)
    try:
        peer.send(frame(3, 0xF0, source=7))
        peer.send(frame(3, 0xF0, source=8))
        await rig.until(lambda: owner.counters["rx"] == 2, "two frames")
        assert got == [frame(3, 0xF0, source=7).arbitration_id]
        assert owner.counters["handler_errors"] == 2
        owner.unsubscribe(sub)
        owner.send(P.read_output(0))
        assert peer.recv(1.0) is not None
    finally:
        peer.shutdown()
        await owner.release()


# ------------------------------------------------------------------ pool and groups


@pytest.fixture
async def rig() -> AsyncIterator[PowerRig]:
    rig = PowerRig()
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()


async def test_discovery_and_ratings(rig: PowerRig) -> None:
    assert rig.pool.counted == 4
    await rig.until(lambda: all(m.limits_reported for m in rig.pool.modules.values()),
                    "ratings")
    assert rig.pool.available() == (0, 1, 2, 3)
    assert rig.pool.assignment() == {1: (0, 1), 2: (2, 3)}
    assert [m.group for m in rig.sim.modules.values()] == [1, 1, 2, 2]
    caps = rig.stacks[1].capabilities()
    assert (caps.min_voltage_v, caps.max_voltage_v) == (150.0, 1000.0)
    assert (caps.max_current_a, caps.max_power_w) == (200.0, 60_000.0)


async def test_keep_alive_reaches_every_module(rig: PowerRig) -> None:
    before = {a: m.requests for a, m in rig.sim.modules.items()}
    await rig.until(lambda: all(m.requests > before[a] + 4 for a, m in rig.sim.modules.items()),
                    "polls")


async def test_setpoint_split_on_and_ramp(rig: PowerRig) -> None:
    stack = rig.stacks[1]
    await stack.set_output(100.0, 30.0)
    sim = rig.sim.modules
    await rig.until(lambda: sim[0].set_a == 15.0 and sim[1].set_a == 15.0, "split set-point")
    assert (sim[0].set_v, sim[2].set_v) == (100.0, 0.0)  # the other connector's untouched
    await stack.on()
    await rig.until(lambda: sim[0].on and sim[1].on and not sim[2].on, "on")
    await rig.until(lambda: stack.measured()[0] > 95.0, "output ramps to 100 V", timeout=3)
    stack.emergency_off()
    await rig.until(lambda: not sim[0].on and not sim[1].on, "off frames")
    await stack.off()  # nothing flows into an open output: returns at once


async def test_a_refused_setpoint_is_counted(rig: PowerRig) -> None:
    await rig.stacks[2].set_output(1200.0, 10.0)  # above the modules' 1000 V
    await rig.until(lambda: rig.pool.counters["refused"] == 2, "error answers")


@pytest.mark.parametrize("fault", list(BIT_FOR_FAULT))
async def test_each_fault_bit_takes_a_module_out(rig: PowerRig, fault: PowerStackFault) -> None:
    stack = rig.stacks[1]
    await stack.set_output(400.0, 100.0)
    await stack.on()
    rig.sim.inject(0, fault)
    await rig.until(lambda: rig.pool.modules[0].faults == {fault}, f"{fault} seen")
    shared = fault is PowerStackFault.OUTPUT_OVER_VOLTAGE
    # One module left: the connector goes on with half, unless the fault is on the
    # shared output.
    assert stack.faults() == ({fault} if shared else frozenset())
    assert stack.capabilities().max_current_a == 100.0
    # 100 A asked: the other module takes it all, up to its 100 A / 30 kW at the output.
    await rig.until(lambda: rig.sim.modules[1].set_a >= 75.0, "the other takes the share")
    rig.sim.inject(1, fault)
    await rig.until(lambda: fault in stack.faults(), "no module left")
    with pytest.raises(DeviceFaulted):
        await stack.on()
    rig.sim.clear(0)
    rig.sim.clear(1)
    await rig.until(lambda: not stack.faults() and rig.pool.available() == (0, 1, 2, 3),
                    "cleared")
    await rig.until(lambda: rig.sim.modules[0].on, "back in service while the stack is on")
    assert stack.capabilities().max_current_a == 200.0


async def test_code_19_on_the_world_shows_on_every_module_of_the_group() -> None:
    rig = PowerRig(world=True)
    await rig.start()
    try:
        assert rig.world is not None
        dc = rig.world.connector(2).dc
        assert dc is not None
        dc.faulted = True
        await rig.until(lambda: rig.stacks[2].faults() == {PowerStackFault.GENERIC}, "19")
        assert rig.stacks[1].faults() == frozenset()
        dc.faulted = False
        await rig.until(lambda: not rig.stacks[2].faults(), "cleared")
    finally:
        await rig.stop()


async def test_lost_module_is_found_and_comes_back(rig: PowerRig) -> None:
    stack = rig.stacks[1]
    await stack.set_output(400.0, 100.0)
    await stack.on()
    rig.sim.set_silent(1)
    await asyncio.sleep(0.05)  # answers already on their way arrive first
    rig.clock.advance(10.0)
    await rig.poll()
    assert not rig.pool.modules[1].lost  # silent, not lost yet
    rig.clock.advance(6.0)
    await rig.poll()
    assert rig.pool.modules[1].lost
    assert stack.faults() == frozenset()  # module 0 serves
    assert stack.capabilities().max_current_a == 100.0
    await rig.until(lambda: rig.sim.modules[0].set_a >= 75.0, "the rest takes over")
    assert rig.pool.health().detail == "lost: [1]"
    rig.sim.set_silent(0)
    await asyncio.sleep(0.05)
    rig.clock.advance(16.0)
    await rig.poll()
    assert stack.faults() == {PowerStackFault.COMMS}
    rig.sim.set_silent(0, False)
    rig.sim.set_silent(1, False)
    await rig.until(lambda: not stack.faults() and rig.sim.modules[1].on, "back and on again")
    assert rig.pool.health().ok


async def test_assign_moves_modules_between_connectors(rig: PowerRig) -> None:
    await rig.pool.assign({1: (0, 1, 2), 2: (3,)})
    assert rig.pool.assignment() == {1: (0, 1, 2), 2: (3,)}
    await rig.until(lambda: rig.sim.modules[2].group == 1, "matrix follows")
    assert rig.stacks[1].capabilities().max_current_a == 300.0
    await rig.pool.assign({1: (), 2: (0, 1, 2, 3)})
    assert rig.stacks[1].modules == ()
    assert rig.stacks[1].faults() == frozenset()  # no modules is not a fault
    await rig.stacks[1].on()  # nothing to switch on; the budget gives none
    with pytest.raises(DriverError, match="bad assignment"):
        await rig.pool.assign({1: (0,), 2: (0,)})


async def test_fixed_wiring_cannot_be_reassigned() -> None:
    rig = PowerRig(station_toml(switchable=False))
    await rig.start()
    try:
        with pytest.raises(DriverError, match="fixed"):
            await rig.pool.assign({1: (0, 1, 2, 3)})
    finally:
        await rig.stop()


async def test_missing_modules_and_overlapping_groups() -> None:
    toml = station_toml(modules=3)  # connector 2 names modules 2 and 3
    rig = PowerRig(toml)
    try:
        with pytest.raises(DriverError, match="module 3 is not installed"):
            await rig.start()
    finally:
        await rig.stop()
    overlap = station_toml().replace("first_module = 2", "first_module = 1")
    rig = PowerRig(overlap)
    try:
        with pytest.raises(DriverError, match="already belongs to connector 1"):
            await rig.start()
    finally:
        await rig.stop()


async def test_a_cancelled_close_still_releases_the_can_bus() -> None:
    """A station stopping under a deadline may cancel a CAN close while the notifier
    thread is being joined: the bus is shut down all the same (python-can warns "was not
    properly shut down" otherwise, and a SocketCAN socket would stay open)."""
    bus = can.Bus(interface="virtual", channel="release-test")
    notifier = can.Notifier(bus, [], timeout=0.05, loop=asyncio.get_running_loop())
    task = asyncio.create_task(release_can(notifier, bus))
    await asyncio.sleep(0)  # in the join now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert bus._is_shutdown  # python-can's own flag: shutdown() ran

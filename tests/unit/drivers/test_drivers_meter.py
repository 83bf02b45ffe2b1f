"""Contract tests of the SDM630 meter driver over Modbus RTU (pty) and Modbus TCP."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import pytest

from drivers.errors import DeviceSilent, DriverError
from drivers.sdm630 import decode_float32, encode_float32
from tests.support.paths import SIM_STATIONS

if TYPE_CHECKING:
    from tests.support.sim_fixtures import MeterRig, SimStation

pytest_plugins = ("tests.support.sim_fixtures",)

VALUES = {
    "voltage_v": (229.5, 231.25, 228.75),
    "current_a": (16.5, 15.25, 0.5),
    "power_phase_w": (3786.75, 3526.5, 114.5),
    "power_w": 7427.75,
    "frequency_hz": 49.96,
    "import_wh": 123456.0,
    "export_wh": 12.0,
}


def f32(value: float) -> float:
    """``value`` as it survives a float32 register pair."""
    result: float = struct.unpack(">f", struct.pack(">f", value))[0]
    return result


async def test_every_value_is_decoded(meter_rig: MeterRig) -> None:
    meter_rig.require("set_values")
    meter_rig.set_values(**VALUES)
    reading = await meter_rig.meter.read()
    assert reading.voltage_v == pytest.approx(VALUES["voltage_v"])
    assert reading.current_a == pytest.approx(VALUES["current_a"])
    assert reading.power_phase_w == pytest.approx(VALUES["power_phase_w"])
    assert reading.power_w == pytest.approx(VALUES["power_w"])
    assert reading.frequency_hz == pytest.approx(f32(49.96))
    # kWh on the wire: float32 keeps 123.456 kWh to the Wh
    assert reading.energy_import_wh == pytest.approx(123456.0, abs=0.01)
    assert reading.energy_export_wh == pytest.approx(12.0, abs=0.001)


async def test_energy_follows_the_counter(meter_rig: MeterRig) -> None:
    meter_rig.require("set_values")
    meter_rig.set_values(import_wh=1000.0)
    first = await meter_rig.meter.read()
    meter_rig.set_values(import_wh=1500.0)
    second = await meter_rig.meter.read()
    assert second.energy_import_wh - first.energy_import_wh == pytest.approx(500.0, abs=0.01)


async def test_silent_meter_raises_device_silent_and_recovers(meter_rig: MeterRig) -> None:
    meter_rig.require("silence")
    await meter_rig.meter.read()
    meter_rig.silence(True)
    with pytest.raises(DeviceSilent):
        await meter_rig.meter.read()
    with pytest.raises(DeviceSilent):  # still silent, still reported
        await meter_rig.meter.read()
    meter_rig.silence(False)
    reading = await meter_rig.meter.read()  # the bus reconnected by itself
    assert reading.voltage_v


async def test_readings_are_plausible(meter_rig: MeterRig) -> None:
    # Whatever the meter measures (the bench supply, the simulator's default 230 V): the
    # phase voltages in range, the total power the sum of the phases, energy not negative.
    reading = await meter_rig.meter.read()
    low, high = meter_rig.expect_v
    assert all(low <= v <= high for v in reading.voltage_v), reading.voltage_v
    assert reading.power_w == pytest.approx(sum(reading.power_phase_w), rel=0.01, abs=5.0)
    assert reading.energy_import_wh >= 0.0


async def test_unknown_device_id_is_silent(meter_rig: MeterRig) -> None:
    with pytest.raises(DeviceSilent):
        await meter_rig.bus.read_input_registers(99, 0, 2)


async def test_illegal_address_is_an_error_not_silence(meter_rig: MeterRig) -> None:
    address = meter_rig.meter._address
    with pytest.raises(DriverError) as raised:
        await meter_rig.bus.read_input_registers(address, 1000, 2)
    assert not isinstance(raised.value, DeviceSilent)


async def test_holding_register_writes_reach_the_device(meter_rig: MeterRig) -> None:
    meter_rig.require("see_writes")
    address = meter_rig.meter._address
    await meter_rig.bus.write_register(address, 20, 7)
    await meter_rig.bus.write_registers(address, 30, [1, 2])
    assert await meter_rig.bus.read_holding_registers(address, 30, 2) == [1, 2]
    assert meter_rig.writes() == [(20, [7]), (30, [1, 2])]


async def test_several_meters_on_one_rs485_line(sim_station: SimStation) -> None:
    from drivers.modbus import ModbusRtuBus
    from drivers.sdm630 import Sdm630Meter

    st = sim_station
    bus = ModbusRtuBus(st.bus_params("rs485"), st.ctx("buses.modbus.rs485"))
    meters = [
        Sdm630Meter(st.params(cid, "meter"), st.ctx(f"connectors[{cid}].meter", cid,
                                                    {"rs485": bus}))
        for cid in (1, 2)
    ]
    for cid, energy in ((1, 1000.0), (2, 2000.0)):
        model = st.hw.connector(cid).meter
        assert model is not None
        model.set(import_wh=energy)
    await bus.start()
    try:
        for meter in meters:
            await meter.start()
        readings = [await m.read() for m in meters]
        assert [r.energy_import_wh for r in readings] == pytest.approx([1000.0, 2000.0])
        model = st.hw.connector(1).meter
        assert model is not None
        model.silent = True  # one meter silent: the other still answers
        with pytest.raises(DeviceSilent):
            await meters[0].read()
        assert (await meters[1].read()).energy_import_wh == pytest.approx(2000.0)
    finally:
        await bus.release()


def test_float32_words_are_high_word_first() -> None:
    assert encode_float32(1.0) == [0x3F80, 0x0000]
    assert decode_float32([0x4366, 0x8000]) == 230.5


@pytest.mark.parametrize("name", ["ac.toml", "dc.toml"])
async def test_example_stations_get_simulated_wires(name: str) -> None:
    """The shipped stations, through the real loader: every wire-level device has its
    simulated counterpart, and their meters answer the real driver."""

    from drivers.context import DriverContext
    from drivers.modbus import ModbusRtuBus
    from drivers.sdm630 import Sdm630Meter
    from firmware.config import load_station
    from hal_sim.circuits import SimHardware
    from hal_sim.sim_wiring import SimWiring

    config = load_station(SIM_STATIONS / name)
    wiring = SimWiring(config)
    hw = SimHardware.build(config, wiring)
    await wiring.start()
    try:
        for c in config.connectors:
            circuits = hw.connector(c.id)
            for role in ("pilot", "contactor", "lock", "rcd", "meter"):
                wired = c.devices.get(role) is not None and c.devices[role].driver in (
                    "ads1115", "gpio", "gpio_hbridge", "sdm630", "rdc_dd")
                assert (getattr(circuits, role) is not None) == wired, (c.id, role)
        bus = ModbusRtuBus(config.buses["rs485"].params, DriverContext(wiring, 0, "rs485"))
        await bus.start()
        try:
            for c in config.connectors:
                meter_cfg = c.devices["meter"]
                if meter_cfg.driver != "sdm630":
                    continue
                meter = Sdm630Meter(meter_cfg.params,
                                    DriverContext(wiring, c.id, meter_cfg.key, {"rs485": bus}))
                await meter.start()
                assert (await meter.read()).voltage_v == pytest.approx((230.0,) * 3)
        finally:
            await bus.release()
    finally:
        await wiring.stop()

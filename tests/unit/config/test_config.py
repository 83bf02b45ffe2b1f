"""The station file loader: the example stations load, and every kind of mistake an
installer can make is reported with the file, the dotted key and a reason."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.registry import UnknownDriver, all_drivers, driver_params
from firmware.config import (
    ConfigError,
    ConnectorKind,
    check_station,
    load_station,
    parse_station,
)
from firmware.config.__main__ import main as check_main
from tests.support.paths import DOCS, SIM_STATIONS

STATIONS = SIM_STATIONS
AC = STATIONS / "ac.toml"
DC = STATIONS / "dc.toml"


def edited(tmp_path: Path, *edits: tuple[str, str], base: Path = AC) -> Path:
    """The example station ``base`` with each (old, new) edit applied once, in tmp_path."""
    text = base.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, f"edit does not apply: {old!r}"
        text = text.replace(old, new, 1)
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    """The problem lines of ``path``; asserts there is at least one."""
    lines = check_station(path)
    assert lines, "expected the station file to be refused"
    return lines


def assert_problem(path: Path, key: str, reason: str) -> None:
    """``path`` is refused with exactly the line ``FILE: KEY: REASON`` among its problems."""
    lines = problems(path)
    assert f"{path}: {key}: {reason}" in lines, "\n".join(lines)


# --------------------------------------------------------------------------- good files


def test_ac_example_loads_with_defaults_filled_in() -> None:
    station = load_station(AC)
    assert station.path == AC
    assert station.identity.charge_point_id == "EVSE-AC-0001"
    assert station.identity.vendor == "OpenEVSE Works"
    assert station.identity.meter_serial_number is None  # "" means not set
    assert station.max_grid_power_w == 44000
    assert station.csms_url == "ws://127.0.0.1:9000/ocpp"
    assert [c.id for c in station.connectors] == [1, 2]
    left = station.connector(1)
    assert left.kind is ConnectorKind.TYPE2_SOCKET
    assert (left.name, left.max_current_a, left.phases) == ("Left", 32.0, 3)
    assert set(left.devices) == {"pilot", "contactor", "lock", "rcd", "meter", "led"}
    assert left.devices["contactor"].key == "connectors[1].contactor"
    assert left.devices["contactor"].params["pin"] == 17
    assert left.devices["rcd"].params["ma_per_volt"] == 10.0  # default filled in
    assert station.connector(2).devices["lock"].params["check_delay_ms"] == 100
    assert left.devices["rcd"].params["trip_active_low"] is True
    assert left.devices["pilot"].params["address"] == 0x48
    pwm_hz = left.devices["pilot"].params["pwm_frequency_hz"]
    assert isinstance(pwm_hz, float)  # declared float: an int default is converted
    assert pwm_hz == 1000
    assert station.buses["rs485"].kind == "modbus"
    assert station.buses["rs485"].params["timeout_ms"] == 300
    assert station.buses["main"].params == {"bus": 1}
    assert station.devices["token_reader"].driver == "nfcpy"
    assert station.devices["token_reader"].params["lost_after_s"] == 5


def test_dc_example_loads() -> None:
    station = load_station(DC)
    ccs, chademo, ac = station.connectors
    assert (ccs.kind, chademo.kind, ac.kind) == (
        ConnectorKind.CCS,
        ConnectorKind.CHADEMO,
        ConnectorKind.TYPE2_SOCKET,
    )
    assert (ccs.max_voltage_v, ccs.max_power_w) == (920, 50000)
    assert "pilot" in ccs.devices and "pilot" not in chademo.devices
    assert ccs.devices["pilot"].params["pp_channel"] == -1
    assert chademo.devices["power_stack"].params["modules"] == 2
    assert chademo.devices["imd"].params["address"] == 4
    assert station.buses["rs485"].params["parity"] == "E"


def test_type2_cable_without_lock_loads(tmp_path: Path) -> None:
    lock = (
        '[connectors.lock]\ndriver = "gpio_hbridge"\nlock_pin = 5\nunlock_pin = 6\n'
        "feedback_pin = 22\npulse_ms = 500\nretries = 2\n"
        'bus = "env"                        # motor current: shunt + amplifier on an ADS1115\n'
        "address = 0x4A\nchannel = 0\n"
    )
    path = edited(tmp_path, ('kind = "type2_socket"', 'kind = "type2_cable"'), (lock, ""))
    station = load_station(path)
    assert station.connector(1).kind is ConnectorKind.TYPE2_CABLE
    assert "lock" not in station.connector(1).devices


def test_parse_station_names_the_given_path() -> None:
    station = parse_station(AC.read_text(encoding="utf-8"), "somewhere/else.toml")
    assert station.path == Path("somewhere/else.toml")
    with pytest.raises(ConfigError) as caught:
        parse_station("[station", "somewhere/else.toml")
    assert str(caught.value).startswith("somewhere/else.toml: <toml>: ")


# --------------------------------------------------------------------------- file and syntax


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    [line] = problems(path)
    assert line.startswith(f"{path}: <file>: cannot be read: ")


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = edited(tmp_path, ('vendor = "OpenEVSE Works"', 'vendor = "OpenEVSE Works'))
    [line] = problems(path)
    assert line.startswith(f"{path}: <toml>: ")
    assert "line 7" in line and "column" in line


# --------------------------------------------------------------------------- unknown keys


def test_unknown_top_level_key_suggests_the_close_one(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("[csms]", "[cmss]")), "cmss", "unknown key (did you mean 'csms'?)"
    )


def test_unknown_top_level_key_without_suggestion(tmp_path: Path) -> None:
    assert_problem(edited(tmp_path, ("[csms]", "[zzz]")), "zzz", "unknown key")


def test_unknown_key_in_driver_section_suggests(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("feedback_pin = 27", "feedback_pn = 27")),
        "connectors[1].contactor.feedback_pn",
        "unknown key (did you mean 'feedback_pin'?)",
    )


def test_unknown_keys_in_station_connector_and_devices(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        ("max_grid_power_w = 44000", "max_grid_power_w = 44000\nmax_grid_power = 1"),
        ("phases = 3", "phases = 3\nphase = 3"),
        ("[devices.token_reader]", "[devices.token_raeder]"),
        ("[buses.modbus.rs485]", "[buses.modbsu.rs485]"),
    )
    lines = problems(path)
    for key, reason in [
        ("station.max_grid_power", "unknown key (did you mean 'max_grid_power_w'?)"),
        ("connectors[1].phase", "unknown key (did you mean 'phases'?)"),
        ("devices.token_raeder", "unknown key (did you mean 'token_reader'?)"),
        ("buses.modbsu", "unknown key (did you mean 'modbus'?)"),
    ]:
        assert f"{path}: {key}: {reason}" in lines, "\n".join(lines)


# --------------------------------------------------------------------------- types and ranges


def test_string_for_int(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("settle_ms = 150", 'settle_ms = "150"')),
        "connectors[1].contactor.settle_ms",
        "must be an integer (got string '150')",
    )


def test_bool_is_not_an_int(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("retries = 2", "retries = true")),
        "connectors[1].lock.retries",
        "must be an integer (got boolean true)",
    )


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("max_current_a = 32", "max_current_a = false")),
        "connectors[1].max_current_a",
        "must be a number (got boolean false)",
    )


def test_int_is_a_fine_float_but_nan_is_not(tmp_path: Path) -> None:
    path = edited(tmp_path, ("pp_channel = 2", "pp_channel = 2\npwm_frequency_hz = nan"))
    key = "connectors[1].pilot.pwm_frequency_hz"
    assert_problem(path, key, "must be a finite number (got nan)")


def test_max_current_out_of_range_on_ac(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("max_current_a = 32", "max_current_a = 100")),
        "connectors[1].max_current_a",
        "must be between 6 and 80 (got 100)",
    )


def test_dc_allows_currents_beyond_ac(tmp_path: Path) -> None:
    path = edited(tmp_path, ("max_current_a = 125", "max_current_a = 1001"), base=DC)
    assert_problem(path, "connectors[1].max_current_a", "must be between 1 and 1000 (got 1001)")


def test_baudrate_not_among_choices(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("baudrate = 9600", "baudrate = 1234")),
        "buses.modbus.rs485.baudrate",
        "must be one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200 (got 1234)",
    )


def test_max_grid_power_must_be_positive(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("max_grid_power_w = 44000", "max_grid_power_w = 0")),
        "station.max_grid_power_w",
        "must be > 0 and <= 10000000 (got 0)",
    )


# --------------------------------------------------------------------------- required keys


def test_missing_station_vendor(tmp_path: Path) -> None:
    path = edited(tmp_path, ('vendor = "OpenEVSE Works"', ""))
    assert_problem(path, "station.vendor", "required key is missing")


def test_missing_contactor_pin(tmp_path: Path) -> None:
    path = edited(tmp_path, ("\npin = 17\n", "\n"))
    assert_problem(path, "connectors[1].contactor.pin", "required key is missing")


def test_missing_driver(tmp_path: Path) -> None:
    path = edited(tmp_path, ('driver = "rdc_dd"\ntrip_pin = 23\n', "trip_pin = 23\n"))
    assert_problem(path, "connectors[1].rcd.driver", "required key is missing")


def test_missing_sections(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_text("", encoding="utf-8")
    lines = problems(path)
    assert lines == [
        f"{path}: station: required section [station] is missing",
        f"{path}: connectors: at least one [[connectors]] table is required",
    ]


# --------------------------------------------------------------------------- connectors


def test_unknown_connector_kind(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('kind = "type2_socket"', 'kind = "type3"')),
        "connectors[1].kind",
        "must be one of 'type2_socket', 'type2_cable', 'ccs', 'chademo' (got 'type3')",
    )


def test_unknown_driver_lists_the_known_ones(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('driver = "sdm630"', 'driver = "sdm360"')),
        "connectors[1].meter.driver",
        str(UnknownDriver("meter", "sdm360")),
    )


def test_ac_connector_without_rcd(tmp_path: Path) -> None:
    rcd = "[connectors.rcd]" + AC.read_text(encoding="utf-8").split("[connectors.rcd]")[1]
    path = edited(tmp_path, (rcd.split("[connectors.meter]")[0], ""))
    assert_problem(path, "connectors[1].rcd", "required for a type2_socket connector, but missing")


def test_dc_connector_roles(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        ("[connectors.imd]" + DC.read_text(encoding="utf-8").split("[connectors.imd]")[1]
         .split("[connectors.led]")[0], ""),
        ('kind = "chademo"', 'kind = "ccs"'),
        base=DC,
    )
    lines = problems(path)
    assert f"{path}: connectors[1].imd: required for a ccs connector, but missing" in lines
    assert f"{path}: connectors[2].pilot: required for a ccs connector, but missing" in lines


def test_pilot_on_chademo_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, ('kind = "ccs"', 'kind = "chademo"'), base=DC)
    assert_problem(
        path,
        "connectors[1].pilot",
        "not allowed on a chademo connector (CHAdeMO has no control pilot)",
    )


def test_lock_on_type2_cable(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('kind = "type2_socket"', 'kind = "type2_cable"')),
        "connectors[1].lock",
        "not allowed on a type2_cable connector (a tethered cable has no lock actuator)",
    )


def test_dc_only_and_ac_only_ratings(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        ("phases = 3", "phases = 3\nmax_voltage_v = 400"),  # the AC connector
        ("max_power_w = 50000", "max_power_w = 50000\nphases = 3"),
        base=DC,
    )
    lines = problems(path)
    assert f"{path}: connectors[1].phases: only for AC connectors (this one is ccs)" in lines
    reason = "only for DC connectors (this one is type2_socket)"
    assert f"{path}: connectors[3].max_voltage_v: {reason}" in lines


def test_dc_connector_needs_voltage_and_power(tmp_path: Path) -> None:
    path = edited(tmp_path, ("max_voltage_v = 920\n", ""), ("max_power_w = 50000", ""), base=DC)
    lines = problems(path)
    assert f"{path}: connectors[1].max_voltage_v: required key is missing" in lines
    assert f"{path}: connectors[1].max_power_w: required key is missing" in lines


def test_phases_one_or_three(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("phases = 3", "phases = 2")),
        "connectors[1].phases",
        "must be one of 1, 3 (got 2)",
    )


def test_duplicate_connector_id(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("id = 2", "id = 1")),
        "connectors[2].id",
        "duplicate connector id 1 (also connectors[1].id)",
    )


def test_non_contiguous_connector_ids(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("id = 2", "id = 3")),
        "connectors[2].id",
        "connector ids must be 1..2 without gaps (got 3)",
    )


def test_connectors_are_returned_in_id_order(tmp_path: Path) -> None:
    swap = (("id = 1", "id = X"), ("id = 2", "id = 1"), ("id = X", "id = 2"))
    station = load_station(edited(tmp_path, *swap))
    assert [(c.id, c.name) for c in station.connectors] == [(1, "Right"), (2, "Left")]
    assert station.connector(1).devices["pilot"].key == "connectors[2].pilot"


def test_connector_name_too_long(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('name = "Left"', 'name = "Left socket by the door"')),
        "connectors[1].name",
        "must be at most 20 characters long (got 23: 'Left socket by the door')",
    )


# --------------------------------------------------------------------------- resources


def test_gpio_used_in_two_connectors(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("pin = 24", "pin = 17")),
        "connectors[2].contactor.pin",
        "GPIO 17 already used by connectors[1].contactor.pin",
    )


def test_gpio_used_twice_within_one_driver(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("feedback_pin = 27", "feedback_pin = 17")),
        "connectors[1].contactor.feedback_pin",
        "GPIO 17 already used by connectors[1].contactor.pin",
    )


def test_unwired_pins_claim_nothing(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        ("feedback_pin = 27", "feedback_pin = -1"),
        ("feedback_pin = 25", "feedback_pin = -1"),
    )
    assert load_station(path).connector(2).devices["contactor"].params["feedback_pin"] == -1


def test_adc_input_used_twice_on_one_chip(tmp_path: Path) -> None:
    """Two pilots on one ADS1115 may share the chip, not its inputs."""
    assert_problem(
        edited(tmp_path, ("address = 0x49", "address = 0x48")),
        "connectors[2].pilot.cp_high_channel",
        "ADS1115 input AIN0 at 0x48 on bus 'main' already used by "
        "connectors[1].pilot.cp_high_channel",
    )


def test_adc_input_used_twice_within_one_driver(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("cp_low_channel = 1", "cp_low_channel = 0")),
        "connectors[1].pilot.cp_low_channel",
        "ADS1115 input AIN0 at 0x48 on bus 'main' already used by "
        "connectors[1].pilot.cp_high_channel",
    )


def test_cable_sensors_on_the_pilots_inputs(tmp_path: Path) -> None:
    """The DC cable's sensors use free inputs of the pilot's ADS1115 (dc.toml: 2 and 3);
    an input the pilot reads is refused, as is one input named twice."""
    assert load_station(DC).connector(1).devices["cable"].params["channels"] == (2, 3)
    assert_problem(
        edited(tmp_path, ("channels = [2, 3]", "channels = [1, 3]"), base=DC),
        "connectors[1].cable.channels[1]",
        "ADS1115 input AIN1 at 0x48 on bus 'main' already used by "
        "connectors[1].pilot.cp_low_channel",
    )
    assert_problem(
        edited(tmp_path, ("channels = [2, 3]", "channels = [2, 2]"), base=DC),
        "connectors[1].cable.channels[2]",
        "ADS1115 input AIN2 at 0x48 on bus 'main' already used by "
        "connectors[1].cable.channels[1]",
    )


def test_adc_on_the_address_of_another_chip(tmp_path: Path) -> None:
    """An ADS1115 may be shared by its users, never with a chip of another kind."""
    assert_problem(
        edited(tmp_path, ('bus = "env"\naddress = 0x48', 'bus = "main"\naddress = 0x49')),
        "connectors[2].pilot.address",
        "I2C address 0x49 on bus 'main' already used by devices.temperature.address, "
        "which is not an ADS1115",
    )


def test_same_i2c_address_on_two_buses_is_fine(tmp_path: Path) -> None:
    second_bus = '[buses.i2c.second]\ndriver = "smbus"\nbus = 3\n\n[buses.modbus.rs485]'
    path = edited(
        tmp_path,
        ("[buses.modbus.rs485]", second_bus),
        ('bus = "main"\naddress = 0x49', 'bus = "second"\naddress = 0x48'),
    )
    station = load_station(path)
    assert station.connector(2).devices["pilot"].params["bus"] == "second"
    assert station.buses["second"].params == {"bus": 3}


def test_modbus_address_used_twice(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("address = 2", "address = 1")),
        "connectors[2].meter.address",
        "Modbus address 1 on bus 'rs485' already used by connectors[1].meter.address",
    )


def test_bus_reference_to_missing_bus(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('bus = "rs485"', 'bus = "rs485x"')),
        "connectors[1].meter.bus",
        "no modbus bus named 'rs485x' (configured: rs485)",
    )


def test_bus_of_the_wrong_kind(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('bus = "rs485"', 'bus = "main"')),
        "connectors[1].meter.bus",
        "no modbus bus named 'main' (configured: rs485); 'main' is buses.i2c.main",
    )


def test_bus_names_are_unique_across_kinds(tmp_path: Path) -> None:
    can_main = '[buses.can.main]\ndriver = "virtual"\n\n[buses.modbus.rs485]'
    path = edited(tmp_path, ("[buses.modbus.rs485]", can_main))
    assert_problem(path, "buses.can.main", "bus name 'main' already used by buses.i2c.main")


def test_serial_port_used_twice(tmp_path: Path) -> None:
    second = '[buses.modbus.second]\ndriver = "rtu"\nport = "/dev/ttyAMA2"\n\n[[connectors]]'
    assert_problem(
        edited(tmp_path, ("[[connectors]]", second)),
        "buses.modbus.second.port",
        "serial port '/dev/ttyAMA2' already used by buses.modbus.rs485.port",
    )


# --------------------------------------------------------------------------- station, csms


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9000/ocpp", "ws:///ocpp", "127.0.0.1:9000", "wss://host:port/x"],
)
def test_bad_csms_url(tmp_path: Path, url: str) -> None:
    path = edited(tmp_path, ('"ws://127.0.0.1:9000/ocpp"', f'"{url}"'))
    [line] = problems(path)
    assert line.startswith(f"{path}: csms.url: ")
    assert repr(url) in line


def test_wss_url_and_no_csms_section(tmp_path: Path) -> None:
    url = "wss://csms.example.com/ocpp"
    assert load_station(edited(tmp_path, ("ws://127.0.0.1:9000/ocpp", url))).csms_url == url
    csms = '[csms]\nurl = "ws://127.0.0.1:9000/ocpp"'
    assert load_station(edited(tmp_path, (csms, ""))).csms_url is None


def test_charge_point_id_with_a_space(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('"EVSE-AC-0001"', '"EVSE AC 0001"')),
        "station.charge_point_id",
        "must be 1 to 48 characters of A-Z a-z 0-9 . _ : - (got 'EVSE AC 0001')",
    )


def test_too_long_vendor(tmp_path: Path) -> None:
    vendor = "OpenEVSE Works Europe"  # 21 characters, CiString20
    assert_problem(
        edited(tmp_path, ('"OpenEVSE Works"', f'"{vendor}"')),
        "station.vendor",
        f"must be 1 to 20 characters long (got 21: {vendor!r})",
    )


def test_too_long_iccid(tmp_path: Path) -> None:
    iccid = "8" * 21
    path = edited(tmp_path, ('meter_type = "SDM630"', f'meter_type = "SDM630"\niccid = "{iccid}"'))
    assert_problem(path, "station.iccid", f"must be at most 20 characters long (got 21: {iccid!r})")


# --------------------------------------------------------------------------- all at once


def test_several_problems_reported_together(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        ('"EVSE-AC-0001"', '"EVSE AC"'),
        ("baudrate = 9600", "baudrate = 1234"),
        ("pin = 24", "pin = 17"),
        ('bus = "rs485"', 'bus = "rs458"'),
    )
    with pytest.raises(ConfigError) as caught:
        load_station(path)
    keys = [key for key, _ in caught.value.problems]
    assert keys == [
        "station.charge_point_id",
        "buses.modbus.rs485.baudrate",
        "connectors[1].meter.bus",
        "connectors[2].contactor.pin",
    ]
    assert caught.value.file == str(path)
    assert len(str(caught.value).splitlines()) == 4


# --------------------------------------------------------------------------- properties

SCALARS = st.one_of(
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(
        st.characters(min_codepoint=32, max_codepoint=126, exclude_characters='"\\'), max_size=30
    ),
)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


@settings(max_examples=60, deadline=None)
@given(
    line=st.sampled_from(
        [
            ("max_current_a = 32", "connectors[1].max_current_a"),
            ("settle_ms = 150", "connectors[1].contactor.settle_ms"),
            ("baudrate = 9600", "buses.modbus.rs485.baudrate"),
            ("max_grid_power_w = 44000", "station.max_grid_power_w"),
            ("cp_low_channel = 1", "connectors[1].pilot.cp_low_channel"),
        ]
    ),
    value=SCALARS,
)
def test_any_value_is_accepted_or_blamed_on_its_own_key(
    line: tuple[str, str], value: object
) -> None:
    old, key = line
    name = old.split(" = ")[0]
    text = AC.read_text(encoding="utf-8").replace(old, f"{name} = {toml_value(value)}", 1)
    try:
        parse_station(text, "x.toml")
    except ConfigError as exc:
        assert [k for k, _ in exc.problems] == [key]


# --------------------------------------------------------------------------- command line


def test_command_line_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = edited(tmp_path, ("baudrate = 9600", "baudrate = 1234"))
    assert check_main([str(AC)]) == 0
    assert capsys.readouterr().out == f"{AC}: ok\n"
    assert check_main([str(AC), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{AC}: ok"
    assert out[1].startswith(f"{bad}: buses.modbus.rs485.baudrate: must be one of")


# --------------------------------------------------------------------------- documentation

DOC = DOCS / "configuration.md"


@pytest.mark.parametrize(
    ("role", "driver"), [(role, name) for role, names in all_drivers().items() for name in names]
)
def test_doc_describes_every_driver_param(role: str, driver: str) -> None:
    try:
        params = driver_params(role, driver)
    except ImportError as exc:
        pytest.skip(f"driver module not importable: {exc}")
    doc = DOC.read_text(encoding="utf-8")
    missing = [name for name in params if f"| `{name}` |" not in doc]
    assert not missing, f"docs/configuration.md does not describe {role} {driver}: {missing}"


def test_doc_example_loads() -> None:
    doc = DOC.read_text(encoding="utf-8")
    example = doc.split("## A complete example", 1)[1].split("```toml\n", 1)[1].split("```")[0]
    station = parse_station(example, "docs/configuration.md")
    assert station.connector(1).devices["lock"].params["pulse_ms"] == 500


# --------------------------------------------------------------------------- station devices


def test_station_devices_of_the_examples() -> None:
    ac, dc = load_station(AC), load_station(DC)
    assert set(ac.devices) >= {"token_reader", "doors", "temperature", "tilt", "display",
                               "modem"}
    assert ac.devices["doors"].params["pins"] == (4,)  # a list comes back as a tuple
    assert dc.devices["doors"].params["pins"] == (4, 22)
    assert dc.devices["stop_button"].params["released_level"] == "low"
    assert dc.connector(1).devices["imd"].driver == "bender_isocha425"
    assert all("led" in c.devices for c in (*ac.connectors, *dc.connectors))


def test_door_pin_list_element_out_of_range(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("pins = [4]", "pins = [4, 30]")),
        "devices.doors.pins[2]",
        "must be between 0 and 27 (got 30)",
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [("4", "must be an array (got integer 4)"), ("[]", "must not be empty"),
     ('["4"]', None)],
)
def test_door_pins_must_be_a_list_of_pins(tmp_path: Path, value: str, reason: str | None
                                          ) -> None:
    path = edited(tmp_path, ("pins = [4]", f"pins = {value}"))
    if reason is None:
        assert_problem(path, "devices.doors.pins[1]", "must be an integer (got string '4')")
    else:
        assert_problem(path, "devices.doors.pins", reason)


def test_door_pin_used_twice_in_the_list(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("pins = [4]", "pins = [4, 4]")),
        "devices.doors.pins[2]",
        "GPIO 4 already used by devices.doors.pins[1]",
    )


def test_door_pin_used_by_a_connector(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ("pins = [4]", "pins = [10, 17]")),
        "connectors[1].contactor.pin",
        "GPIO 17 already used by devices.doors.pins[2]",
    )


def test_sensor_on_an_address_in_use(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('bus = "env"\naddress = 0x48', 'bus = "main"\naddress = 0x48')),
        "connectors[1].pilot.address",
        "I2C address 0x48 on bus 'main' already used by devices.temperature.address, "
        "which is not an ADS1115",
    )


def test_two_imds_on_one_modbus_address(tmp_path: Path) -> None:
    path = edited(tmp_path, ("address = 4\nalarm_pin = 19", "address = 3\nalarm_pin = 19"),
                  base=DC)
    assert_problem(
        path,
        "connectors[2].imd.address",
        "Modbus address 3 on bus 'rs485' already used by connectors[1].imd.address",
    )


def test_nfc_uart_and_modem_port_are_the_same_serial_port(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('port = "/dev/ttyUSB2"', 'port = "/dev/ttyAMA0"')),
        "devices.modem.port",
        "serial port '/dev/ttyAMA0' already used by devices.token_reader.device",
    )


def test_nfc_uart_on_the_rs485_port(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('device = "tty:AMA0:pn532"', 'device = "tty:AMA2:pn532"')),
        "devices.token_reader.device",
        "serial port 'tty:AMA2:pn532' already used by buses.modbus.rs485.port",
    )


def test_two_owners_of_one_i2c_bus(tmp_path: Path) -> None:
    path = edited(tmp_path, ('driver = "smbus"\nbus = 4', 'driver = "smbus"\nbus = 1'))
    assert_problem(path, "buses.i2c.env.bus", "I2C bus /dev/i2c-1 already used by "
                                              "buses.i2c.main.bus")


def test_station_device_with_an_unknown_driver(tmp_path: Path) -> None:
    assert_problem(
        edited(tmp_path, ('driver = "tmp117"', 'driver = "tmp118"')),
        "devices.temperature.driver",
        str(UnknownDriver("temperature", "tmp118")),
    )


def test_rdc_without_a_dc_reading_needs_no_bus(tmp_path: Path) -> None:
    path = edited(tmp_path, ('reset_pin = 19\nbus = "main"\naddress = 0x4A',
                             'reset_pin = 19\nbus = ""\naddress = 0x4B'))
    rcd = load_station(path).connector(1).devices["rcd"]
    assert rcd.params["bus"] == ""  # and 0x4B, used by connector 2's ADC, is not claimed


def test_cli_check_names_file_key_and_reason(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = edited(tmp_path, ('driver = "adxl345"', 'driver = "adxl999"'),
                  ("pins = [4]", "pins = [17]"))
    assert check_main([str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: devices.tilt.driver: unknown driver 'adxl999' for tilt" in out
    assert f"{path}: connectors[1].contactor.pin: GPIO 17 already used by " \
           "devices.doors.pins[1]" in out

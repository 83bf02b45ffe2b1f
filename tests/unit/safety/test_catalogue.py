"""The fault catalogue: the data file is complete and consistent, the loader refuses broken
copies with the code named, and the lookups give what the source documents say.

Also keeps docs/faults.md current: its generated part must equal ``render_service_table``;
``EVSE_UPDATE_DOCS=1 .venv/bin/pytest -q tests/unit/safety/test_catalogue.py`` rewrites it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ocpp.v16.enums import ChargePointErrorCode

from drivers.interfaces import EvCommError
from firmware.ports import StatusReport
from firmware.safety.fault_catalogue import (
    DEFAULT_PATH,
    EV_COMM_CONDITIONS,
    OCPP16_ERROR_CODES,
    Catalogue,
    CatalogueError,
    Condition,
    Effect,
    FaultDef,
    Recovery,
    Scope,
    Source,
    default_catalogue,
    load_catalogue,
)
from tests.support.paths import DOCS

# Every code of both documents, written out here rather than taken from the module.
AC_LIST = [
    "001", "101", "102", "104", "105", "106", "108", "109", "201", "202", "206", "208",
    "209", "210", "211", "212", "301", "302", "303", "304", "401", "402", "404", "405",
    "406", "407",
]
DC_LIST = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "14", "15", "16",
    "17", "18", "19", "20", "21", "22", "50", "51", "1000", "1001",
]

DOCS = DOCS / "faults.md"
BEGIN = "<!-- BEGIN GENERATED: tests/unit/safety/test_catalogue.py -->"
END = "<!-- END GENERATED -->"


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


# --------------------------------------------------------------------------- completeness


def test_every_code_of_both_lists_is_present_once(cat: Catalogue) -> None:
    assert sorted(cat.codes()) == sorted(AC_LIST + DC_LIST)
    assert [f.code for f in cat if f.source is Source.AC] == AC_LIST
    assert [f.code for f in cat if f.source is Source.DC] == DC_LIST


def test_ac_and_dc_codes_do_not_collide(cat: Catalogue) -> None:
    assert not set(AC_LIST) & set(DC_LIST)
    assert all(re.fullmatch(r"\d{3}", code) for code in AC_LIST)
    assert all(re.fullmatch(r"0|[1-9]\d*", code) for code in DC_LIST)
    assert all(f.vendor_error_code == f.code for f in cat)


def test_our_errorcode_set_is_the_ocpp16_enumeration(cat: Catalogue) -> None:
    assert {e.value for e in ChargePointErrorCode} == OCPP16_ERROR_CODES
    assert {f.ocpp16 for f in cat} <= OCPP16_ERROR_CODES


def test_where_the_document_gives_no_valid_errorcode_a_note_says_why(cat: Catalogue) -> None:
    expected = {
        "101": "GroundFailure",
        "206": "NoError",
        "208": "OverVoltage",
        "301": "EVCommunicationError",
        "302": "OverCurrentFailure",
        "405": "EVCommunicationError",
        "406": "EVCommunicationError",
        "407": "OtherError",
    }
    for code, ocpp16 in expected.items():
        fault = cat.get(code)
        assert fault.ocpp16 == ocpp16, code
        assert fault.ocpp16_note, code
    assert cat.get("302").doc_ocpp16 == "PowerCurrent Failure"
    assert cat.get("407").doc_ocpp16 == "NoError + OtherError"
    assert cat.get("405").ocpp15 == "Mode3Error"


def test_every_entry_has_display_texts_in_nl_and_en(cat: Catalogue) -> None:
    for fault in cat:
        assert set(fault.display) >= {"nl", "en"}, fault.code
        for text in fault.display.values():
            assert bool(text) == fault.display_shown, fault.code
        assert fault.cause and fault.remedy, fault.code
        if fault.source is Source.AC and fault.code != "407":  # 407: no text in the document
            assert fault.cause_nl and fault.remedy_nl, fault.code


def test_not_shown_entries_of_the_ac_list(cat: Catalogue) -> None:
    hidden = {f.code for f in cat if f.source is Source.AC and not f.display_shown}
    assert hidden == {"108", "109", "208", "209", "210", "407"}
    assert cat.get("101").display_text("nl") == (
        "Een moment alstublieft. Uw laadsessie gaat zometeen verder."
    )


def test_display_text_falls_back_to_english(cat: Catalogue) -> None:
    fault = cat.get("406")
    assert fault.display_text("de") == fault.display_text("en")
    assert fault.display_text("nl") == "Geen communicatie met voertuig. Controleer uw laadkabel"


# --------------------------------------------------------------------------- info texts


@pytest.mark.parametrize(
    ("code", "values", "expected"),
    [
        ("302", {"allowed_a": 16.0, "actual_a": 17.2},
         "Over current detected allowed 16.0A actual 17.2A."),
        ("401", {"limit_c": 70.0, "actual_c": 71.8},
         "Temperature inside charger > 70.0, actual 71.8."),
        ("101", {"dc_ma": 8.5}, "RCD signaled DC power actual 8.5mA"),
        ("202", {"voltage_v": 189.2}, "Installer check voltage levels installation:189V."),
        ("208", {"voltage_v": 275}, "Installer check voltage levels installation:275V"),
        ("212", {"phase": 2}, "Missing phase L2 in installation."),
        ("402", {"limit_c": -20.0, "actual_c": -30.0},
         "Temperature inside charger < -20.0 actual -30.0."),
        ("405", {"pp_ohm": 450.0}, "PP value out of range actual: 450 Ohm."),
        ("406", {"cp_high_v": -9.8, "cp_low_v": -12.0},
         "CP value out of range actual: -9.8V / -12.0V."),  # the document prints "-12V."
        ("407", {"x": -4128, "y": 96, "z": -32}, "Charger tilted actual -4128/96/-32."),
        ("209", {}, "P1 lost, in safe mode max 6A check P1 connection."),
        ("106", {}, "RCD AC tripped, local engineer reset needed."),
        ("18", {"ohm": 85000}, "Insulation 85000 Ohm below 100000 Ohm"),
    ],
)
def test_info_matches_the_documents_examples(
    cat: Catalogue, code: str, values: dict[str, object], expected: str
) -> None:
    assert cat.get(code).format_info(**values) == expected


def test_every_informational_field_of_the_ac_list_is_reproduced(cat: Catalogue) -> None:
    for fault in cat:
        if fault.doc_info is None or fault.doc_info == "Not Used" or fault.code == "406":
            continue
        assert fault.format_info(**fault.doc_info_values) == fault.doc_info, fault.code


def test_info_defaults_come_from_thresholds(cat: Catalogue) -> None:
    assert cat.get("401").format_info(actual_c=71.8) == (
        "Temperature inside charger > 70.0, actual 71.8."
    )
    tuned = cat.with_thresholds({"high_temperature_c": 65, "safe_mode_current_a": 8.0})
    assert tuned.get("401").format_info(actual_c=66.0) == (
        "Temperature inside charger > 65.0, actual 66.0."
    )
    assert tuned.get("210").format_info() == "Modbus TCP/IP lost, in safe mode max 8A."
    assert tuned.get("210").derate_a == 8.0
    assert tuned.for_condition(Condition.P1_LOST, dc=False).derate_a == 8.0
    assert cat.get("210").derate_a == 6.0  # the original is unchanged


def test_unknown_threshold_override_is_refused(cat: Catalogue) -> None:
    with pytest.raises(CatalogueError, match=r"thresholds\.tilt_degrees: unknown threshold"):
        cat.with_thresholds({"tilt_degrees": 5.0})
    with pytest.raises(CatalogueError, match=r"thresholds\.tilt_deg: not a number"):
        cat.with_thresholds({"tilt_deg": True})


def test_long_info_is_cut_to_50_characters(cat: Catalogue) -> None:
    text = cat.get("302").format_info(allowed_a=125.0, actual_a=138.5)
    assert text == "Over current detected allowed 125.0A actual 138.5A"
    assert len(text) == 50


def test_missing_or_odd_values_never_break_a_report(cat: Catalogue) -> None:
    assert cat.get("101").format_info() == "RCD signaled DC power actual ?mA"
    assert cat.get("101").format_info(dc_ma="n/a") == "RCD signaled DC power actual n/amA"


@given(st.one_of(st.floats(), st.integers(), st.text(), st.none()))
def test_any_value_formats_within_50_characters(value: object) -> None:
    for fault in default_catalogue():
        names = re.findall(r"{(\w+)", fault.info)
        assert len(fault.format_info(**dict.fromkeys(names, value))) <= 50


def test_report_carries_errorcode_info_and_vendor_code(cat: Catalogue) -> None:
    report = cat.get("302").report("Faulted", allowed_a=16.0, actual_a=17.2)
    assert report == StatusReport(
        "Faulted", "OverCurrentFailure", "Over current detected allowed 16.0A actual 17.2A.", "302"
    )
    assert cat.get("206").report("Unavailable") == StatusReport("Unavailable")
    assert cat.no_error.report("Available") == StatusReport("Available", "NoError", None, "0")


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("condition", "ac", "dc"),
    [
        (Condition.LOCK_FAILED_SESSION, "404", "15"),
        (Condition.LOCK_FAILED_SELFTEST, "211", "15"),
        (Condition.LOCK_OPEN_LOAD, "211", "16"),
        (Condition.LOCK_OVER_CURRENT, "404", "17"),
        (Condition.RESIDUAL_CURRENT_DC, "101", "18"),
        (Condition.RCD_TRIPPED, "106", "18"),
        (Condition.METER_SILENT, "105", "22"),
        (Condition.EV_COMM_PLC, "301", "1"),
        (Condition.EV_COMM_TCP, "301", "8"),
        (Condition.EV_COMM_V2G_SEQUENCE, "301", "14"),
        (Condition.EV_ERROR, "301", "51"),
        # one list only: the other side reports the same code
        (Condition.INSULATION, "18", "18"),
        (Condition.HIGH_TEMPERATURE, "401", "401"),
        (Condition.PILOT_OUT_OF_RANGE, "406", "406"),
        (Condition.DOOR_OPENED, "1001", "1001"),
    ],
)
def test_condition_gives_the_ac_code_on_ac_and_the_dc_code_on_dc(
    cat: Catalogue, condition: Condition, ac: str, dc: str
) -> None:
    assert cat.for_condition(condition, dc=False).code == ac
    assert cat.for_condition(condition, dc=True).code == dc
    assert cat.for_condition(condition.value, dc=True).code == dc  # plain strings work too


def test_every_condition_is_mapped(cat: Catalogue) -> None:
    assert set(cat.conditions) == set(Condition)
    assert cat.conditions_of("404") == (
        Condition.LOCK_FAILED_SESSION, Condition.LOCK_OVER_CURRENT
    )


def test_hal_ev_comm_errors_map_to_their_dc_codes(cat: Catalogue) -> None:
    assert set(EV_COMM_CONDITIONS) == set(EvCommError)
    for error, condition in EV_COMM_CONDITIONS.items():
        assert cat.for_condition(condition, dc=True).code == error.value


def test_condition_info_override_leaves_the_entry_alone(cat: Catalogue) -> None:
    fault = cat.for_condition(Condition.RCD_SELF_TEST_FAILED, dc=False)
    assert fault.code == "106"
    assert fault.format_info() == "RCD self-test failed, local engineer reset needed."
    assert cat.get("106").format_info() == "RCD AC tripped, local engineer reset needed."


def test_unknown_condition_and_code_raise_keyerror(cat: Catalogue) -> None:
    with pytest.raises(KeyError, match="unknown fault condition"):
        cat.for_condition("lock_melted", dc=False)
    with pytest.raises(KeyError, match="unknown fault code '13'"):
        cat.get("13")


def test_the_two_lists_cross_reference_the_same_faults(cat: Catalogue) -> None:
    pairs = [("211", "15"), ("211", "16"), ("404", "15"), ("404", "17"), ("101", "18"),
             ("106", "18"), ("105", "22"), ("303", "51"), ("301", "51")]
    pairs += [("301", c) for c in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11",
                                   "12", "14")]
    for ac, dc in pairs:
        assert dc in cat.get(ac).same_as and ac in cat.get(dc).same_as, (ac, dc)


# --------------------------------------------------------------------------- decisions


def test_effects_and_recoveries_follow_the_documents(cat: Catalogue) -> None:
    assert cat.get("106").recovery is Recovery.LOCAL_RESET  # "local engineer reset needed"
    assert cat.get("206").effect is Effect.DISPLAY_ONLY
    for code in ("304", "405", "1", "51"):
        assert cat.get(code).recovery is Recovery.REPLUG, code
    for code in ("209", "210"):
        fault = cat.get(code)
        assert (fault.effect, fault.derate_a, fault.scope) == (Effect.DERATE, 6.0, Scope.STATION)
    for fault in cat:
        if fault.recovery is Recovery.RETRY:
            assert fault.retries >= 1 and fault.retry_delay_s > 0, fault.code
            assert fault.after_retries not in (None, Recovery.RETRY), fault.code
        if fault.effect is Effect.DERATE:
            assert fault.derate_a is not None, fault.code
    assert cat.no_error.ocpp16 == "NoError"
    assert {f.code for f in cat if f.scope is Scope.STATION and f.source is Source.DC} == {
        "1000", "1001"
    }


def test_thresholds_named_by_the_brief(cat: Catalogue) -> None:
    t = cat.thresholds
    assert (t["dc_leakage_ma"], t["undervoltage_v"], t["overvoltage_v"]) == (6.0, 210, 275)
    assert (t["cable_without_session_s"], t["high_temperature_c"]) == (120, 70)
    assert (t["low_temperature_c"], t["insulation_fault_ohm"]) == (-40, 100_000)
    assert (t["ev_voltage_max_v"], t["max_starts_per_minute"]) == (60, 5)
    for fault in cat:
        assert set(fault.thresholds) <= set(t), fault.code


# --------------------------------------------------------------------------- broken files


def _entry_span(text: str, code: str) -> tuple[int, int]:
    start = text.index(f'[[fault]]\ncode = "{code}"\n')
    end = text.find("\n[[fault]]", start + 1)
    return start, len(text) if end < 0 else end + 1


def _broken(tmp_path: Path, code: str, edit: Callable[[str], str]) -> Path:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    start, end = _entry_span(text, code)
    edited = edit(text[start:end])
    assert edited != text[start:end], "the edit changed nothing"
    path = tmp_path / "catalogue.toml"
    path.write_text(text[:start] + edited + text[end:], encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("code", "edit", "message"),
    [
        ("106", lambda e: "", "code 106: missing"),
        ("404", lambda e: e.replace('ocpp16 = "ConnectorLockFailure"', 'ocpp16 = "LockFailure"'),
         "code 404: ocpp16 'LockFailure' is not an OCPP 1.6"),
        ("405", lambda e: re.sub(r"display\.nl = .*\n", "", e), "code 405: display.nl missing"),
        ("22", lambda e: re.sub(r"display\.en = .*\n", "", e), "code 22: display.en missing"),
        ("101", lambda e: e.replace("{dc_ma:.1f}", "{dc_ma:.1q}"), "code 101: info: bad format"),
        ("101", lambda e: e.replace("{dc_ma:.1f}", "{0}"), "code 101: info: placeholder {0}"),
        ("302", lambda e: e.replace("{allowed_a:.1f}A", "{allowed_a:.1fA"),
         "code 302: info: malformed"),
        ("407", lambda e: e.replace('"tilt_deg"', '"tilt_degrees"'),
         "code 407: thresholds: 'tilt_degrees' is not in [thresholds]"),
        ("209", lambda e: e.replace('derate_to = "safe_mode_current_a"', ""),
         "code 209: derate_to must be a number"),
        ("101", lambda e: e.replace("retries = 3\n", ""), "code 101: retries must be"),
        ("22", lambda e: e.replace('same_as = ["105"]', "same_as = []"),
         "code 105: same_as '22', but 22 does not list 105"),
        ("1001", lambda e: e + '\n[[fault]]\ncode = "1001"\n', "code 1001: duplicate entry"),
        ("208", lambda e: e.replace('ocpp16_note = "', 'ocpp16_nota = "'),
         "code 208: unknown key 'ocpp16_nota'"),
        ("001", lambda e: e.replace('effect = "block_connector"', 'effect = "explode"'),
         "code 001: effect 'explode' is not one of"),
    ],
)
def test_broken_catalogue_is_refused_naming_the_code(
    tmp_path: Path, code: str, edit: Callable[[str], str], message: str
) -> None:
    path = _broken(tmp_path, code, edit)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    assert f"{path}: {message}" in str(caught.value)


def test_broken_conditions_are_refused(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    text = text.replace('tilted = { ac = "407" }', 'tilted = { ac = "18" }')
    text = text.replace('door_closed = { dc = "1000" }\n', 'door_shut = { dc = "1000" }\n')
    path = tmp_path / "catalogue.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    lines = str(caught.value).splitlines()
    assert f"{path}: conditions.tilted: ac: 18 is not a code of the AC list" in lines
    assert f"{path}: conditions.door_shut: unknown condition (not in " in str(caught.value)
    assert f"{path}: conditions.door_closed: missing" in lines


def test_invalid_toml_and_missing_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.toml"
    path.write_text('[thresholds]\nx = \n', encoding="utf-8")
    with pytest.raises(CatalogueError, match="file: not valid TOML"):
        load_catalogue(path)
    with pytest.raises(CatalogueError, match="file: cannot read"):
        load_catalogue(tmp_path / "nothing.toml")


def test_parsed_copy_is_used_only_while_the_file_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.toml"
    path.write_text(DEFAULT_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    first = load_catalogue(path)
    copy = tmp_path / "__pycache__" / "catalogue.toml.json"
    assert copy.exists()
    assert load_catalogue(path).faults == first.faults  # served from the copy
    path.write_text(path.read_text(encoding="utf-8").replace('code = "407"', 'code = "408"'),
                    encoding="utf-8")
    with pytest.raises(CatalogueError, match="code 407: missing"):
        load_catalogue(path)
    copy.write_text("{not json", encoding="utf-8")  # a damaged copy is ignored
    path.write_text(DEFAULT_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_catalogue(path).faults == first.faults


# --------------------------------------------------------------------------- docs/faults.md


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "–"


def _recovery(f: FaultDef) -> str:
    if f.recovery is Recovery.RETRY and f.after_retries is not None:
        return f"retry {f.retries}× after {f.retry_delay_s:g} s, then {f.after_retries.value}"
    return f.recovery.value


def render_service_table(cat: Catalogue) -> str:
    """The generated part of docs/faults.md."""
    out = ["## Thresholds", "", "| key | default |", "|---|---|"]
    out += [f"| `{k}` | {v:g} |" for k, v in cat.thresholds.items()]
    out += ["", "## Conditions", "", "| condition | AC connector | DC connector |", "|---|---|---|"]
    out += [f"| `{c.value}` | {m.ac.code} | {m.dc.code} |" for c, m in cat.conditions.items()]
    for source, heading in ((Source.AC, "AC list (Alfen)"), (Source.DC, "DC list (alpitronic)")):
        faults = [f for f in cat if f.source is source]
        out += ["", f"## {heading}", "", "| code | title | OCPP 1.6 | scope | effect | recovery |",
                "|---|---|---|---|---|---|"]
        out += [f"| [{f.code}](#code-{f.code}) | {f.title} | {f.ocpp16} | {f.scope.value} | "
                f"{f.effect.value} | {_recovery(f)} |" for f in faults]
        for f in faults:
            effect = f.effect.value + (f" to {f.derate_a:g} A" if f.derate_a is not None else "")
            document = f"{f.doc_ocpp16 or '–'} (OCPP 1.5: {f.ocpp15 or '–'})"
            rows = [
                ("OCPP 1.6 errorCode", f"{f.ocpp16}; document: {document}"),
                ("info", f"`{f.info}`" if f.info else ""),
                ("display", " / ".join(f"{k}: {v}" for k, v in f.display.items())
                 if f.display_shown else "not shown"),
                ("scope · effect · recovery", f"{f.scope.value} · {effect} · {_recovery(f)}"),
                ("detected by", f"{f.detected_by}: {f.detection}"),
                ("thresholds", ", ".join(f"`{k}` = {cat.thresholds[k]:g}" for k in f.thresholds)),
                ("same fault in the other list", ", ".join(f.same_as)),
                ("cause", f.cause), ("remedy", f.remedy),
                ("oorzaak (nl)", f.cause_nl), ("oplossing (nl)", f.remedy_nl),
                ("errorCode note", f.ocpp16_note), ("note", f.note),
            ]
            out += ["", f'<a id="code-{f.code}"></a>', f"### {f.code} · {f.title}", "",
                    "| | |", "|---|---|"]
            out += [f"| {name} | {_cell(value)} |" for name, value in rows if value]
    return "\n".join(out) + "\n"


def test_service_table_in_docs_is_current(cat: Catalogue) -> None:
    text = DOCS.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN + "\n")
    _, _, tail = rest.partition(END)
    assert END in rest, f"{DOCS} lacks the generated-part markers"
    current = head + BEGIN + "\n" + render_service_table(cat) + END + tail
    if os.environ.get("EVSE_UPDATE_DOCS") == "1":
        DOCS.write_text(current, encoding="utf-8")
        text = current
    assert text == current, "docs/faults.md is stale: run EVSE_UPDATE_DOCS=1 pytest " + __file__

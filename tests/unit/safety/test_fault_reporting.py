"""The station file's [thresholds], the fault event log and vendorId in fault reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from firmware.config import ConfigError, load_station, parse_station
from firmware.safety.fault_book import FaultBook
from firmware.safety.fault_catalogue import Condition, default_catalogue
from firmware.safety.fault_events import EventLog
from firmware.storage.store import Store
from tests.conftest import AC_STATION

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _with(text: str) -> str:
    return AC_STATION.read_text(encoding="utf-8") + "\n[thresholds]\n" + text


def test_thresholds_are_read_and_applied() -> None:
    config = parse_station(_with("high_temperature_c = 65\ncable_without_session_s = 30"),
                           AC_STATION)
    assert config.thresholds == {"high_temperature_c": 65.0, "cable_without_session_s": 30.0}
    catalogue = default_catalogue().with_thresholds(config.thresholds)
    assert catalogue.thresholds["high_temperature_c"] == 65.0
    assert load_station(AC_STATION).thresholds == {}


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("hot_c = 60", "thresholds.hot_c", "unknown key"),
        ('tilt_deg = "ten"', "thresholds.tilt_deg", "must be a number"),
        ("tilt_deg = true", "thresholds.tilt_deg", "must be a number"),
    ],
)
def test_bad_thresholds_are_refused(text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_station(_with(text), AC_STATION)
    assert any(k == key and reason in why for k, why in err.value.problems)
    assert str(AC_STATION) in str(err.value)


def test_every_raise_and_clear_is_logged(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    assert store.schema_version >= 3
    book = FaultBook(default_catalogue(), 1, False, lambda: NOW)
    EventLog(store, lambda: NOW).attach(book)
    book.raise_(Condition.METER_SILENT)
    book.condition_ended(Condition.METER_SILENT)
    store.close()
    reopened = Store(tmp_path / "state.db")  # persistent
    events = reopened.events()
    assert [(e["code"], e["event"], e["connector_id"]) for e in events] == [
        ("105", "cleared", 1), ("105", "raised", 1)
    ]
    assert events[1]["error_code"] == "PowerMeterFailure"
    assert events[1]["time"] == NOW.isoformat()


def test_vendor_id_goes_with_a_vendor_error_code() -> None:
    book = FaultBook(default_catalogue(), 1, False, lambda: NOW)
    book.vendor_id = "OpenEVSE Works"
    assert book.report("Available").vendor_id is None  # AC clear: no vendor code
    book.raise_(Condition.METER_SILENT)
    report = book.report("Faulted")
    assert (report.vendor_error_code, report.vendor_id) == ("105", "OpenEVSE Works")
    dc = FaultBook(default_catalogue(), 2, True, lambda: NOW)
    dc.vendor_id = "OpenEVSE Works"
    assert (dc.report("Available").vendor_error_code, dc.report("Available").vendor_id) == (
        "0", "OpenEVSE Works")

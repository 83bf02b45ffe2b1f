"""The HIL bench file loader (the bench tests themselves are marked ``hil``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hil_bench import BenchError, bench_from_env, load_bench

EXAMPLE = Path(__file__).resolve().parent / "bench-example.toml"


def test_the_example_bench_loads() -> None:
    bench = load_bench(EXAMPLE)
    assert bench.station.identity.charge_point_id == "HIL-BENCH-1"
    assert bench.has("doors") and bench.has("rcd") and not bench.has("imd")
    assert bench.can("doors", "open_pins") and not bench.can("imd", "fault_pin")
    assert bench.connector_for("led") == 1
    assert bench.stimulus["stop_button"]["press_pin"] == 13


def bench_with(tmp_path: Path, stimulus: str) -> Path:
    station = EXAMPLE.with_name("bench-station.toml")
    (tmp_path / "bench-station.toml").write_text(station.read_text(encoding="utf-8"))
    path = tmp_path / "bench.toml"
    path.write_text(f'station = "bench-station.toml"\n{stimulus}', encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("stimulus", "reason"),
    [
        ("[stimulus.doors]\nopen_pins = [17]\n",
         "stimulus.doors.open_pins: GPIO 17 is connectors[1].contactor.pin of the station"),
        ("[stimulus.doors]\nopen_pins = [5]\n[stimulus.stop_button]\npress_pin = 5\n",
         "stimulus.stop_button.press_pin: GPIO 5 is stimulus.doors.open_pins"),
        ("[stimulus.kettle]\n", "stimulus.kettle: unknown role"),
        ("[stimulus.rcd]\nleak_pin = 40\n", "stimulus.rcd.leak_pin: 40 is not a GPIO"),
    ],
)
def test_bad_benches_are_refused(tmp_path: Path, stimulus: str, reason: str) -> None:
    with pytest.raises(BenchError) as raised:
        load_bench(bench_with(tmp_path, stimulus))
    assert reason in str(raised.value)


def test_no_bench_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVSE_HIL_CONFIG", raising=False)
    assert bench_from_env() is None
    monkeypatch.setenv("EVSE_HIL_CONFIG", str(EXAMPLE))
    bench = bench_from_env()
    assert bench is not None and bench.path == EXAMPLE

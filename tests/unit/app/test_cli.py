"""The ``evse`` command and the :class:`~firmware.app.commands.Command` hook other packages
plug their subcommands into (the simulator's ``evse sim``)."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from firmware.app import cli
from firmware.app.commands import ENTRY_POINT_GROUP, Command, commands_from, installed_commands
from hal_sim.command import COMMAND as SIM_COMMAND
from tests.support.paths import ROOT, TEST_STATIONS


class Greet:
    """A command as another package would add one: options on its own parser, and
    ``greet raw ...`` taken before the ``evse`` parser (like ``evse sim ctl``)."""

    name = "greet"
    help = "say hello"

    def __init__(self) -> None:
        self.ran: list[argparse.Namespace] = []
        self.raw: list[list[str]] = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("who")
        parser.add_argument("--times", type=int, default=1)

    def run_argv(self, argv: Sequence[str]) -> int | None:
        if list(argv[:1]) != ["raw"]:
            return None
        self.raw.append(list(argv[1:]))
        return 7

    def run(self, args: argparse.Namespace) -> int:
        self.ran.append(args)
        print(" ".join([f"hello {args.who}"] * args.times))
        return 3


def test_an_added_command_gets_its_arguments_and_its_exit_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    greet = Greet()
    commands = [cli.RunCommand(), greet, cli.ConfigCommand()]
    assert cli.main(["greet", "you", "--times", "2"], commands) == 3
    assert capsys.readouterr().out == "hello you hello you\n"
    assert [args.who for args in greet.ran] == ["you"]
    assert greet.raw == []


def test_a_command_takes_its_raw_argv_before_the_evse_parser() -> None:
    greet = Greet()
    # `--not-an-option` would stop the evse parser: the command saw it first.
    assert cli.main(["greet", "raw", "--not-an-option", "x"], [greet]) == 7
    assert greet.raw == [["--not-an-option", "x"]]
    assert greet.ran == []


def test_the_help_lists_the_station_runners_first_and_the_tools_last(
    capsys: pytest.CaptureFixture[str],
) -> None:
    commands = cli.default_commands([Greet()])
    assert [c.name for c in commands] == ["run", "greet", "config"]
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"], commands)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "{run,greet,config}" in out
    assert "say hello" in out


def test_an_added_command_cannot_replace_a_board_command(
    caplog: pytest.LogCaptureFixture,
) -> None:
    impostor = Greet()
    impostor.name = "run"  # type: ignore[misc]
    with caplog.at_level(logging.WARNING, logger="firmware.app.cli"):
        commands = cli.default_commands([impostor])
    assert [type(c) for c in commands] == [cli.RunCommand, cli.ConfigCommand]
    assert "an installed command named 'run' is ignored" in caplog.text


def test_the_simulator_command_is_installed_through_the_entry_point() -> None:
    commands = installed_commands()
    assert SIM_COMMAND in commands
    assert isinstance(SIM_COMMAND, Command)
    assert [c.name for c in cli.default_commands()] == ["run", "sim", "config"]


def test_an_entry_point_that_cannot_load_or_is_no_command_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    points = [
        EntryPoint("gone", "no_such_package.cli:COMMAND", ENTRY_POINT_GROUP),
        EntryPoint("helper", "firmware.app.cli:host_port", ENTRY_POINT_GROUP),
        EntryPoint("sim", "hal_sim.command:COMMAND", ENTRY_POINT_GROUP),
    ]
    with caplog.at_level(logging.WARNING, logger="firmware.app.commands"):
        assert commands_from(points) == [SIM_COMMAND]
    assert "evse gone is not available" in caplog.text
    assert "firmware.app.cli:host_port is not an evse Command" in caplog.text


def test_evse_sim_ctl_reaches_the_control_client(capsys: pytest.CaptureFixture[str]) -> None:
    # Port 1 on loopback refuses at once: the client's own error shows it got the call.
    assert cli.main(["sim", "ctl", "--url", "http://127.0.0.1:1", "state"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evse sim ctl: cannot reach the simulated station at http://127.0.0.1:1")


def test_evse_sim_with_a_bad_station_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[station]\ncharge_point_id = 7\n", encoding="utf-8")
    assert cli.main(["sim", "--station", str(bad)]) == 2
    assert f"{bad}: " in capsys.readouterr().err


def test_evse_sim_refuses_a_bad_set_key_value() -> None:
    """The whole ``evse sim`` path up to the station's configuration keys, in a child:
    the command shuts logging down when it ends."""
    evse = Path(sys.executable).with_name("evse")
    child = subprocess.run(
        [str(evse), "sim", "--station", str(TEST_STATIONS / "ac_test.toml"), "--no-csms",
         "--http", "127.0.0.1:0", "--set-key", "MeterValueSampleInterval=often"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert child.returncode == 2, child.stdout + child.stderr
    assert child.stderr.startswith("--set-key: "), child.stderr

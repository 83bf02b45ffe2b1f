"""The ``evse`` command.

    evse run --station FILE [--state-dir DIR] [--http HOST:PORT] [--csms URL]
    evse config check FILE

and the commands installed packages add (:mod:`firmware.app.commands`), e.g. the
simulator's ``evse sim`` and ``evse sim ctl``.

Imports are deferred into each command so that start-up (and the time to the first
BootNotification) stays short.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from firmware.app.commands import Command, installed_commands

log = logging.getLogger(__name__)


def host_port(text: str) -> tuple[str, int]:
    """Argument type ``HOST:PORT`` (``[::1]:8080`` too)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def key_value(text: str) -> tuple[str, str]:
    """Argument type ``KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


class RunCommand:
    """``evse run``: the station on its controller board."""

    name = "run"
    help = "run the station on its controller board"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--station", type=Path, required=True, help="station file (TOML)")
        parser.add_argument("--state-dir", type=Path, default=Path("/var/lib/evse"))
        parser.add_argument("--http", type=host_port, default=("0.0.0.0", 8080))
        parser.add_argument("--csms", help="central system URL (overrides the station file)")

    def run_argv(self, argv: Sequence[str]) -> int | None:
        return None

    def run(self, args: argparse.Namespace) -> int:
        from firmware.app.runtime import run_board

        return run_board(args)


class ConfigCommand:
    """``evse config check FILE``: check a station file and report its problems."""

    name = "config"
    help = "station file tools"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        config_sub = parser.add_subparsers(dest="config_command", required=True)
        check = config_sub.add_parser("check", help="check a station file and report problems")
        check.add_argument("file", type=Path)

    def run_argv(self, argv: Sequence[str]) -> int | None:
        return None

    def run(self, args: argparse.Namespace) -> int:
        return _config_check(args.file)


def default_commands(installed: Iterable[Command] | None = None) -> list[Command]:
    """The board's commands and ``installed`` (default: the installed packages'), as
    ``evse --help`` lists them: the station runners first, the tools last. An installed
    command cannot replace a board command."""
    run, config = RunCommand(), ConfigCommand()
    added: list[Command] = []
    for command in installed_commands() if installed is None else installed:
        if command.name in (run.name, config.name):
            log.warning("an installed command named %r is ignored: evse has its own",
                        command.name)
            continue
        added.append(command)
    return [run, *added, config]


def _parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evse", description="EVSE controller firmware")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in commands:
        command.add_arguments(sub.add_parser(command.name, help=command.help))
    return parser


def main(argv: list[str] | None = None, commands: Sequence[Command] | None = None) -> int:
    """Run ``evse`` with ``argv`` (default: the process's); ``commands`` replaces the
    board's and the installed commands (tests)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = default_commands() if commands is None else commands
    by_name = {command.name: command for command in commands}
    if argv and argv[0] in by_name:
        status = by_name[argv[0]].run_argv(argv[1:])
        if status is not None:
            return status
    args = _parser(commands).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    try:
        return by_name[args.command].run(args)
    except KeyboardInterrupt:
        return 0


def _config_check(path: Path) -> int:
    from firmware.config import check_station

    problems = check_station(path)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        return 1
    from firmware.config import load_station

    config = load_station(path)
    print(f"{path}: OK ({len(config.connectors)} connectors, {config.identity.charge_point_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

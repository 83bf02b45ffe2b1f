"""The ``evse`` command.

    evse run --station FILE [--state-dir DIR] [--http HOST:PORT] [--csms URL]
    evse sim [--station FILE] [--csms URL | --no-csms] [--id ID] [--state-dir DIR]
             [--http HOST:PORT] [--set-key KEY=VALUE ...]
    evse sim ctl COMMAND ...          (see ``evse sim ctl --help``)
    evse config check FILE

Imports are deferred into each command so that start-up (and the time to the first
BootNotification) stays short.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evse", description="EVSE controller firmware")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the station on its controller board")
    run.add_argument("--station", type=Path, required=True, help="station file (TOML)")
    run.add_argument("--state-dir", type=Path, default=Path("/var/lib/evse"))
    run.add_argument("--http", type=_host_port, default=("0.0.0.0", 8080))
    run.add_argument("--csms", help="central system URL (overrides the station file)")

    sim = sub.add_parser("sim", help="run a simulated station (and its demo central system)")
    sim.add_argument("--station", type=Path, help="station file (default: the example AC)")
    group = sim.add_mutually_exclusive_group()
    group.add_argument("--csms", help="central system URL; the station connects as URL/ID")
    group.add_argument("--no-csms", action="store_true", help="run standalone")
    sim.add_argument("--id", dest="charge_point_id", help="charge point id override")
    sim.add_argument("--state-dir", type=Path, help="persistent state (default: temporary)")
    sim.add_argument("--http", type=_host_port, default=("127.0.0.1", 8080))
    sim.add_argument(
        "--set-key", type=_key_value, action="append", default=[], metavar="KEY=VALUE"
    )

    config = sub.add_parser("config", help="station file tools")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    check = config_sub.add_parser("check", help="check a station file and report problems")
    check.add_argument("file", type=Path)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `evse sim ctl ...` is a separate small client with its own parser.
    if argv[:2] == ["sim", "ctl"]:
        from hal_sim.ctl import main as ctl_main

        return ctl_main(argv[2:])
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    if args.command == "config":
        return _config_check(args.file)
    from firmware.app.runtime import run_board, run_sim

    try:
        if args.command == "sim":
            return run_sim(args)
        return run_board(args)
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

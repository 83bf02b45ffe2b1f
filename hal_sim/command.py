"""``evse sim`` and ``evse sim ctl``: the simulator's command, plugged into ``evse``.

    evse sim [--station FILE] [--csms URL | --no-csms] [--id ID] [--state-dir DIR]
             [--http HOST:PORT] [--set-key KEY=VALUE ...]
    evse sim ctl COMMAND ...          (see ``evse sim ctl --help``)

Installed through the ``evse.commands`` entry point (pyproject.toml): :data:`COMMAND`
follows :class:`firmware.app.commands.Command`. ``evse`` loads this module on every
invocation to build its parser, so it imports only argparse-level modules; the
simulator itself is imported when the command runs.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from firmware.app.cli import host_port, key_value

log = logging.getLogger(__name__)


class SimCommand:
    """A simulated station (and by default its demo central system) in this process."""

    name = "sim"
    help = "run a simulated station (and its demo central system)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--station", type=Path,
                            help="station file (default: the example AC)")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--csms", help="central system URL; the station connects as URL/ID")
        group.add_argument("--no-csms", action="store_true", help="run standalone")
        parser.add_argument("--id", dest="charge_point_id", help="charge point id override")
        parser.add_argument("--state-dir", type=Path,
                            help="persistent state (default: temporary)")
        parser.add_argument("--http", type=host_port, default=("127.0.0.1", 8080))
        parser.add_argument(
            "--set-key", type=key_value, action="append", default=[], metavar="KEY=VALUE"
        )

    def run_argv(self, argv: Sequence[str]) -> int | None:
        """``evse sim ctl ...`` is a separate small client with its own parser."""
        if list(argv[:1]) != ["ctl"]:
            return None
        from hal_sim.ctl import main as ctl_main

        return ctl_main(list(argv[1:]))

    def run(self, args: argparse.Namespace) -> int:
        import asyncio

        from firmware.app.runtime import load_or_report
        from firmware.ocpp.key_specs import InvalidValue
        from hal_sim.runner import default_station, sim_main

        config = load_or_report(args.station or default_station())
        if config is None:
            return 2
        try:
            return asyncio.run(sim_main(config, args))
        except InvalidValue as exc:
            print(f"--set-key: {exc}", file=sys.stderr)
            return 2
        finally:
            with contextlib.suppress(Exception):
                logging.shutdown()


COMMAND = SimCommand()

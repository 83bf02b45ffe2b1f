"""Subcommands of ``evse``: the :class:`Command` contract and the ones other packages add.

The board package has ``evse run`` and ``evse config check`` (``firmware.app.cli``). Other
installed packages add commands through the entry-point group :data:`ENTRY_POINT_GROUP`
(``evse.commands``); each entry names an object that follows :class:`Command`, e.g. the
simulator's

.. code-block:: toml

    [project.entry-points."evse.commands"]
    sim = "hal_sim.command:COMMAND"

Every ``evse`` invocation loads these objects to build its parser, so a command's module
must import fast: it defers the heavy imports into :meth:`Command.run`.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "evse.commands"


@runtime_checkable
class Command(Protocol):
    """One ``evse`` subcommand."""

    @property
    def name(self) -> str:
        """The word after ``evse`` (``sim``)."""
        ...

    @property
    def help(self) -> str:
        """One line for ``evse --help``."""
        ...

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's options on its own subparser."""
        ...

    def run_argv(self, argv: Sequence[str]) -> int | None:
        """Take the words after the command's name before the ``evse`` parser sees them.

        For a part with a parser of its own (``evse sim ctl ...``, a small client that
        starts fast): return its exit status. None leaves ``argv`` to the ``evse``
        parser, and :meth:`run` gets the parsed arguments."""
        ...

    def run(self, args: argparse.Namespace) -> int:
        """Carry out the command (logging is set up); returns the exit status."""
        ...


def commands_from(points: Iterable[EntryPoint]) -> list[Command]:
    """The commands the given ``evse.commands`` entry points name, in name order.

    An entry whose module cannot be imported (a package removed but its metadata left)
    or whose object is not a :class:`Command` is left out with a warning: ``evse run``
    must work whatever else is installed."""
    found: list[Command] = []
    for point in sorted(points, key=lambda p: p.name):
        try:
            command = point.load()
        except Exception as exc:  # whatever a plugin's import raises: leave it out
            log.warning("evse %s is not available: %s = %s cannot be loaded: %s",
                        point.name, point.name, point.value, exc)
            continue
        # A check of what the entry point names (the plugin's declaration), not a
        # contract lookup: a wrong object would otherwise fail later inside argparse.
        if not isinstance(command, Command):
            log.warning("evse %s is not available: %s is not an evse Command",
                        point.name, point.value)
            continue
        found.append(command)
    return found


def installed_commands() -> list[Command]:
    """The commands installed packages add to ``evse`` (``evse.commands``)."""
    return commands_from(entry_points(group=ENTRY_POINT_GROUP))

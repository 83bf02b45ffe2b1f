"""Log lines that say which connector they are about.

Every line a connector's code writes starts with ``connector N:`` (what an installer
greps for); :func:`connector_logger` puts it there, so no call repeats it by hand. The id
also goes into the record's ``extra`` as ``connector_id`` for handlers that want it as a
field.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any


class ConnectorLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose every line is prefixed ``connector N: ``."""

    def __init__(self, logger: logging.Logger, connector_id: int) -> None:
        super().__init__(logger, {"connector_id": connector_id})
        self.connector_id = connector_id

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        # The prefix is plain text (no % in it), so %-style arguments still format.
        msg, kwargs = super().process(msg, kwargs)
        return f"connector {self.connector_id}: {msg}", kwargs


def connector_logger(logger: logging.Logger, connector_id: int) -> ConnectorLogger:
    """``logger`` (a module's ``logging.getLogger(__name__)``) for connector ``connector_id``."""
    return ConnectorLogger(logger, connector_id)

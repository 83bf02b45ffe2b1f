"""Log lines that say which connector they are about, and that keep idTags private.

Every line a connector's code writes starts with ``connector N:`` (what an installer
greps for); :func:`connector_logger` puts it there, so no call repeats it by hand. The id
also goes into the record's ``extra`` as ``connector_id`` for handlers that want it as a
field.

An idTag is personal data (a card's UID, a contract id). A line at INFO or above names a
card only as :func:`redact_id_tag` gives it; DEBUG may show the tag in clear. The OCPP
messages, the store and the HTTP API keep the real tag: they need it.
"""

from __future__ import annotations

import hashlib
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


def redact_id_tag(id_tag: str) -> str:
    """``id_tag`` as a log line at INFO and above shows it: ``#`` and the first 6 hex
    digits of the SHA-256 of the casefolded tag (``04A2B3C4D5`` is ``#085ed7``).

    Stable (the same card gives the same form on every station and after every restart,
    in any letter case since idTags compare case-insensitively), so the lines of one card
    can be followed and a known card found: ``python -c "from firmware.log_context
    import redact_id_tag; print(redact_id_tag('04A2B3C4D5'))"``, then grep for that.

    Why no character of the tag in clear: the commonest cards have a 4-byte UID (8 hex
    digits). Two digits in clear plus 24 bits of hash leave about one candidate for the
    remaining 24 bits, so such a form could be reversed by trying them all in a second;
    24 bits of hash alone leave about 256 candidates for every 4-byte UID (2^32 / 2^24)
    and many more for longer tags. The price is that two of a station's cards may share
    a form (about 3 % for 1,000 cards): enough to follow a card through the log, never a
    way to tell cards apart for certain. DEBUG lines keep the full tag for development.
    """
    digest = hashlib.sha256(id_tag.casefold().encode("utf-8")).hexdigest()
    return "#" + digest[:6]

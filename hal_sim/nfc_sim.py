"""A simulated NFC reader standing in for ``nfc.ContactlessFrontend``.

nfcpy has no wire-level seam (its drivers talk USB/UART frames to a PN53x), so the
simulator stands in at the library interface: :class:`FakeClf` offers the same blocking
``connect(rdwr=..., terminate=...)`` and ``close()`` the driver uses, with nfcpy's
reader-mode behaviour (``on-connect`` returning True waits until the card leaves).

Simulation side: :meth:`FakeClf.present` holds a card to the reader (a tap by default),
:meth:`FakeClf.unplug` makes the reader disappear (open/connect raise ``IOError``) and
:meth:`FakeClf.replug` brings it back.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

logger = logging.getLogger(__name__)

_POLL_S = 0.01  # how often a blocked connect() looks at the field and terminate()


@dataclass(frozen=True)
class FakeTag:
    """What ``on-connect`` receives: nfcpy tags carry the UID as ``identifier``."""

    identifier: bytes
    type: str = "Type2Tag"
    ndef: Any = None  # nfcpy: tag.ndef.records (ndeflib records; TextRecord has .text)

    @property
    def is_present(self) -> bool:  # nfcpy API; the fake decides presence itself
        return True


class FakeClf:
    """One simulated reader. Thread-safe: the driver blocks in ``connect`` in its own
    thread while the simulation presents cards from the loop thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._plugged = True
        self._card: bytes | None = None
        self._card_text: str | None = None
        self._card_serial = 0  # bumps on every presentation, so a new tap is new
        self._card_until = 0.0
        self._open = False
        self.opens = 0
        self.reads = 0

    # ------------------------------------------------------------ simulation side

    def present(self, uid_hex: str, hold_s: float | None = 0.5, text: str | None = None) -> None:
        """A card enters the field for ``hold_s`` seconds (``None``: until
        :meth:`remove`); ``text``: the card carries an NDEF text record."""
        uid = bytes.fromhex(uid_hex)
        with self._cond:
            self._card = uid
            self._card_text = text
            self._card_serial += 1
            self._card_until = float("inf") if hold_s is None else time.monotonic() + hold_s
            self._cond.notify_all()

    def remove(self) -> None:
        """The card leaves the field."""
        with self._cond:
            self._card = None
            self._cond.notify_all()

    def unplug(self) -> None:
        """The reader is gone: open and connect raise ``IOError`` until :meth:`replug`."""
        with self._cond:
            self._plugged = False
            self._cond.notify_all()

    def replug(self) -> None:
        with self._cond:
            self._plugged = True
            self._cond.notify_all()

    @property
    def plugged(self) -> bool:
        return self._plugged

    # ------------------------------------------------------------ nfcpy side

    def open(self, device: str) -> FakeClf:
        """Like ``nfc.ContactlessFrontend(device)``: the opened reader, or ``IOError``."""
        with self._cond:
            if not self._plugged:
                raise OSError(errno.ENODEV, f"no such device: {device}")
            self._open = True
            self.opens += 1
        return self

    def close(self) -> None:
        with self._cond:
            self._open = False

    def _present_card(self) -> tuple[bytes, int] | None:
        if self._card is not None and time.monotonic() >= self._card_until:
            self._card = None  # the tap is over
        return None if self._card is None else (self._card, self._card_serial)

    def _check_reader(self) -> None:
        if not self._plugged or not self._open:
            raise OSError(errno.EIO, "reader lost")

    def connect(
        self, rdwr: dict[str, Any] | None = None, terminate: Callable[[], bool] = lambda: False
    ) -> Any:
        """Block until a card is in the field, then call ``rdwr['on-connect'](tag)``.

        Returns None when ``terminate()`` turned true, True after a card handled with
        ``on-connect`` returning True has left, the tag when ``on-connect`` returned
        False. Raises ``IOError`` when the reader is unplugged."""
        options = dict(rdwr or {})
        on_connect: Callable[[Any], Any] = options.get("on-connect", lambda tag: True)
        on_release: Callable[[Any], Any] = options.get("on-release", lambda tag: True)
        with self._cond:
            while True:
                self._check_reader()
                if terminate():
                    return None
                card = self._present_card()
                if card is not None:
                    break
                self._cond.wait(_POLL_S)
        uid, serial = card
        self.reads += 1
        text = self._card_text
        ndef = SimpleNamespace(records=[SimpleNamespace(text=text)]) if text else None
        tag = FakeTag(uid, ndef=ndef)
        if not on_connect(tag):
            return tag
        with self._cond:  # nfcpy waits for the card to leave before returning
            while True:
                self._check_reader()
                if terminate():
                    break
                card = self._present_card()
                if card is None or card[1] != serial:
                    break
                self._cond.wait(_POLL_S)
        return on_release(tag)

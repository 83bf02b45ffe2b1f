"""NFC / RFID card reader through nfcpy (PN532 on a UART, PN533 / RC-S380 on USB)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from drivers.context import DriverContext
from drivers.interfaces import ReaderFault, TokenReader
from drivers.loop_bridge import LoopBridge
from drivers.params import Param

logger = logging.getLogger(__name__)

# Pause between attempts to (re)open a failing reader.
RETRY_S = 0.2


class NfcpyReader:
    """:class:`drivers.interfaces.TokenReader` on an nfcpy ``ContactlessFrontend``.

    ``run()`` opens the reader in its own thread and loops on nfcpy's blocking
    ``connect``; each card's UID goes to the subscribers as upper-case hex, on the loop
    thread. ``on-connect`` returns True, so nfcpy waits until the card leaves before
    looking again: a card held on the reader is reported once. A reader that cannot be
    opened or fails (nfcpy raises ``IOError`` or returns False) is reopened every
    ``RETRY_S``; after ``lost_after_s`` of failing, ``fault`` is ``ReaderFault.LOST``
    until it works again.
    """

    PARAMS: ClassVar[dict[str, Param]] = {
        "device": Param(
            str, resource="port",
            doc="nfcpy device string, e.g. tty:AMA0:pn532 (PN532 on /dev/ttyAMA0), usb:072f:2200",
        ),
        "lost_after_s": Param(float, 5.0, min=1, max=60, doc="failing this long = reader lost"),
        "id_from": Param(
            str, "uid", choices=("uid", "ndef_text"),
            doc="uid: the card's UID in hex; ndef_text: an NDEF text record's text "
            "(e.g. a contract id written on the card), else the UID",
        ),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._device: str = params["device"]
        self._lost_after_s: float = params.get("lost_after_s", 5.0)
        self._ndef_text = params.get("id_from", "uid") == "ndef_text"
        self._subscribers: list[Callable[[str], None]] = []
        self._fault_subscribers: list[Callable[[ReaderFault | None], None]] = []
        self._fault: ReaderFault | None = None

    async def start(self) -> None:
        """Nothing to claim before ``run()``: the reader is opened by its thread."""

    async def release(self) -> None:
        """Nothing to free: the reader is closed when ``run()`` ends."""

    def subscribe(self, on_token: Callable[[str], None]) -> None:
        """Call ``on_token(id_tag)`` on the event loop for every card presented."""
        self._subscribers.append(on_token)

    def subscribe_fault(self, on_fault: Callable[[ReaderFault | None], None]) -> None:
        """Call ``on_fault(fault)`` on the event loop whenever ``fault`` changes (reader
        lost: ``ReaderFault.LOST``, the AC list's 109; working again: None)."""
        self._fault_subscribers.append(on_fault)

    @property
    def fault(self) -> ReaderFault | None:
        return self._fault

    async def run(self) -> None:
        """Poll the reader until cancelled."""
        bridge = LoopBridge.to_running_loop(f"NFC reader {self._device}")
        stop = threading.Event()
        finished: asyncio.Future[None] = bridge.loop.create_future()

        def post(callback: Callable[..., object], *args: object) -> None:
            if not bridge.post(callback, *args):  # the loop is gone: stop quietly
                stop.set()

        def done() -> None:
            if not finished.done():
                finished.set_result(None)

        thread = threading.Thread(
            target=self._poll, args=(stop, post, done), name="nfc-reader", daemon=True
        )
        thread.start()
        try:
            await asyncio.shield(finished)
        finally:
            stop.set()
            if not finished.done():
                # nfcpy checks terminate() between polls: the thread ends shortly.
                await asyncio.wait([finished], timeout=3.0)

    # ------------------------------------------------------------ reader thread

    def _poll(
        self,
        stop: threading.Event,
        post: Callable[..., None],
        done: Callable[[], None],
    ) -> None:
        failing_since: float | None = None
        try:
            while not stop.is_set():
                clf: Any = None
                try:
                    clf = self._ctx.wiring.open_nfc(self._device)
                    if failing_since is not None:
                        failing_since = None
                        post(self._set_fault, None)
                    self._read_cards(clf, stop, post)
                    if stop.is_set():
                        return
                    problem = "connect reported a failure"
                except Exception as exc:  # nfcpy raises IOError and others for a lost reader
                    problem = repr(exc)
                finally:
                    if clf is not None:
                        self._close_quietly(clf)
                now = self._ctx.monotonic()
                if failing_since is None:
                    failing_since = now
                    logger.warning("NFC reader %s failing: %s", self._device, problem)
                if now - failing_since >= self._lost_after_s and self._fault is None:
                    post(self._set_fault, ReaderFault.LOST)
                stop.wait(RETRY_S)
        finally:
            post(done)

    @staticmethod
    def _ndef_id(tag: Any) -> str | None:
        """The first NDEF text record of the card, if it has one that fits an idTag
        (CiString20). Runs in the reader thread: nfcpy reads the NDEF data here."""
        try:
            # Data, not a contract: nfcpy gives only NDEF-capable tag types an ``ndef``
            # attribute, and it is None on a card without NDEF data.
            records = tag.ndef.records if getattr(tag, "ndef", None) is not None else []
        except Exception:  # unreadable NDEF: fall back to the UID
            logger.debug("NDEF read failed", exc_info=True)
            return None
        for record in records:
            text = getattr(record, "text", None)  # data: only an NDEF text record has one
            if isinstance(text, str) and 0 < len(text.strip()) <= 20:
                return text.strip()
        return None

    def _read_cards(self, clf: Any, stop: threading.Event, post: Callable[..., None]) -> None:
        """Loop on ``connect`` until stopped; returns when the reader fails."""

        def on_connect(tag: Any) -> bool:
            id_tag = (self._ndef_id(tag) if self._ndef_text else None) or bytes(
                tag.identifier
            ).hex().upper()
            post(self._deliver, id_tag)
            return True  # wait until the card leaves: one report per presentation

        options = {"on-connect": on_connect, "iterations": 1, "interval": 0.1}
        while not stop.is_set():
            result = clf.connect(rdwr=options, terminate=stop.is_set)
            if result is False:  # nfcpy's way of saying IOError / unsupported target
                return

    @staticmethod
    def _close_quietly(clf: Any) -> None:
        try:
            clf.close()
        except Exception as exc:  # closing a reader that is gone fails in many ways
            logger.debug("NFC reader close failed: %r", exc)

    # ------------------------------------------------------------ loop thread

    def _deliver(self, id_tag: str) -> None:
        # DEBUG: a card's UID is personal data. The firmware logs what it does with the card
        # at INFO under a redacted form (firmware.log_context.redact_id_tag), which this
        # layer cannot import.
        logger.debug("NFC card %s", id_tag)
        for callback in list(self._subscribers):
            callback(id_tag)

    def _set_fault(self, fault: ReaderFault | None) -> None:
        if fault is self._fault:
            return
        if fault is None:
            logger.info("NFC reader %s works again", self._device)
        else:
            logger.error("NFC reader %s lost", self._device)
        self._fault = fault
        for callback in list(self._fault_subscribers):
            callback(fault)


# The registry hands driver classes out untyped: mypy checks each against its role here.
_NFCPY_READER_ROLE: type[TokenReader] = NfcpyReader

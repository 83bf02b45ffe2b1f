"""A simulated mobile modem: the far end of a pty pair, answering AT commands.

The firmware's modem driver opens :attr:`ModemPeer.path` with pyserial, exactly as it
opens ``/dev/ttyUSB2`` on a board; the peer reads the other end on the event loop and
answers like a Quectel-style LTE modem (``AT+CSQ``, ``AT+COPS?``, ``AT+CCID`` /
``AT+QCCID``, ``AT+CIMI``, echo until ``ATE0``).

Simulation side: set ``csq``, ``operator``, ``act``, ``iccid``, ``imsi``; ``sim_present =
False`` answers the SIM commands with ``+CME ERROR: 10``; ``registered = False`` drops the
operator from ``+COPS``; ``silent = True`` answers nothing; ``garbage = True`` answers
nonsense.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tty
from typing import Any

log = logging.getLogger(__name__)


class ModemPeer:
    """One simulated modem. ``await start()`` opens the pty (``path`` is then set)."""

    def __init__(self) -> None:
        self.path = ""
        self.silent = False
        self.garbage = False
        self.sim_present = True
        self.registered = True
        self.echo = True
        self.csq = 20  # -73 dBm
        self.operator = "Vodafone.de"
        self.act = 7  # E-UTRAN: 4G
        self.iccid = "89490200001234567890"
        self.imsi = "262021234567890"
        self.commands: list[str] = []
        self._fds: list[int] = []
        self._buffer = b""

    async def start(self) -> None:
        if self._fds:
            return
        master, slave = os.openpty()
        # Raw (no echo, no line editing by the kernel), and our slave fd stays open so
        # reads on the master never fail with EIO while the firmware has the port closed.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._fds = [master, slave]
        self.path = os.ttyname(slave)
        asyncio.get_running_loop().add_reader(master, self._readable)
        log.info("simulated modem on %s", self.path)

    async def stop(self) -> None:
        if not self._fds:
            return
        asyncio.get_running_loop().remove_reader(self._fds[0])
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def state(self) -> dict[str, Any]:
        """What the modem would report, JSON-ready."""
        return {
            "csq": self.csq,
            "operator": self.operator if self.registered else None,
            "act": self.act,
            "iccid": self.iccid if self.sim_present else None,
            "imsi": self.imsi if self.sim_present else None,
            "silent": self.silent,
        }

    # ------------------------------------------------------------------ the line

    def _readable(self) -> None:
        try:
            data = os.read(self._fds[0], 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.debug("simulated modem line: %s", exc)
            return
        self._buffer += data
        while b"\r" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\r", 1)
            command = raw.decode("ascii", "replace").strip()
            if command:
                self._answer(command)

    def _send(self, text: str) -> None:
        try:
            os.write(self._fds[0], text.encode("ascii"))
        except OSError as exc:  # nobody reading: the bytes are lost, as on a real line
            log.debug("simulated modem line: %s", exc)

    def _answer(self, command: str) -> None:
        self.commands.append(command)
        if self.silent:
            return
        if self.echo:
            self._send(command + "\r")
        if self.garbage:
            self._send("\r\n+CSQ: banana\r\n\r\nOK\r\n")
            return
        lines, final = self._respond(command.upper())
        out = "".join(f"\r\n{line}\r\n" for line in lines)
        self._send(out + f"\r\n{final}\r\n")

    def _respond(self, command: str) -> tuple[list[str], str]:
        no_sim = "+CME ERROR: 10"
        if command in ("AT", "ATZ"):
            return [], "OK"
        if command.startswith("ATE"):
            self.echo = command.endswith("1")
            return [], "OK"
        if command == "AT+CSQ":
            return [f"+CSQ: {self.csq},99"], "OK"
        if command == "AT+COPS?":
            if not self.registered or not self.sim_present:
                return ["+COPS: 0"], "OK"
            return [f'+COPS: 0,0,"{self.operator}",{self.act}'], "OK"
        if command in ("AT+CCID", "AT+QCCID", "AT+ICCID"):
            if not self.sim_present:
                return [], no_sim
            prefix = command[2:]  # +CCID / +QCCID / +ICCID
            return [f"{prefix}: {self.iccid}"], "OK"
        if command == "AT+CIMI":
            if not self.sim_present:
                return [], no_sim
            return [self.imsi], "OK"
        return [], "ERROR"

"""Mobile modem on a serial port, queried with 3GPP TS 27.007 AT commands (pyserial).

``read()`` asks for the signal (``AT+CSQ``: rssi 0–31 is -113 + 2 x rssi dBm, 99 unknown),
the operator and access technology (``AT+COPS?``: ``+COPS: mode,format,"oper",AcT``),
the SIM's ICCID (``AT+CCID``, falling back to Quectel's ``AT+QCCID`` and SIMCom's
``AT+CICCID``) and its IMSI (``AT+CIMI``). pyserial blocks, so every exchange runs in a
worker thread, one at a time, with short timeouts: a modem that stays silent raises
``DeviceSilent`` within ``timeout_ms`` rather than hanging anything.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from drivers.context import DriverContext
from drivers.errors import DeviceFaulted, DeviceSilent, DriverError
from drivers.interfaces_station import Modem, ModemFault, ModemInfo
from drivers.params import Param

logger = logging.getLogger(__name__)

# 27.007 <AcT> of +COPS -> the generation MobileConnectionStandard reports.
ACCESS_TECHNOLOGY: Final[Mapping[int, str]] = {
    0: "2G", 1: "2G", 3: "2G", 8: "2G",  # GSM, GSM compact, EGPRS, EC-GSM-IoT
    2: "3G", 4: "3G", 5: "3G", 6: "3G",  # UTRAN, HSDPA, HSUPA, HSPA
    7: "4G", 9: "4G", 10: "4G",  # E-UTRAN, NB-IoT, E-UTRA on 5GC
    11: "5G", 12: "5G", 13: "5G",  # NR on 5GC, NG-RAN, EN-DC
}
_COPS = re.compile(r'\+COPS:\s*(\d+)(?:,(\d+),"([^"]*)"(?:,(\d+))?)?')
_CSQ = re.compile(r"\+CSQ:\s*(\d+),(\d+)")
_ICCID = re.compile(r"([0-9]{18,20}[0-9Ff]?)")
_IMSI = re.compile(r"([0-9]{6,15})")
SIM_ERRORS: Final = ("+CME ERROR: 10", "+CME ERROR: 13", "+CME ERROR: SIM not inserted",
                     "+CME ERROR: SIM failure")


class AtError(DriverError):
    """The modem answered ERROR / +CME ERROR (``line`` is the answer).

    A device error like the others: the driver turns the answers it expects (no SIM, a
    command this modem spells differently) into a fault or a fallback; one it does not
    expect (ERROR to ``AT+CSQ``) leaves :meth:`AtModem.read` as this DriverError."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def rssi_dbm(csq: int) -> int | None:
    """``+CSQ`` rssi in dBm (None for 99, not known); ``ValueError`` outside 0–31/99."""
    if csq == 99:
        return None
    if not 0 <= csq <= 31:
        raise ValueError(f"CSQ rssi {csq} out of 0..31")
    return -113 + 2 * csq


def parse_cops(line: str) -> tuple[str | None, str | None]:
    """(operator, technology) of a ``+COPS?`` answer; (None, None) when not registered."""
    match = _COPS.search(line)
    if match is None:
        raise ValueError(f"not a +COPS answer: {line!r}")
    operator = match.group(3) or None
    act = match.group(4)
    technology = ACCESS_TECHNOLOGY.get(int(act)) if act is not None else None
    return operator, technology


class AtModem:
    """:class:`drivers.interfaces_station.Modem` on ``port``."""

    PARAMS: ClassVar[dict[str, Param]] = {
        "port": Param(str, resource="port", doc="AT command port, e.g. /dev/ttyUSB2"),
        "baudrate": Param(int, 115200, choices=(9600, 19200, 38400, 57600, 115200)),
        "timeout_ms": Param(int, 1000, min=50, max=10000, doc="answer deadline per command"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._port: str = params["port"]
        self._baudrate: int = params.get("baudrate", 115200)
        self._timeout_s: float = params.get("timeout_ms", 1000) / 1000.0
        self._serial: Any = None
        self._io = threading.Lock()  # one exchange on the line at a time
        self._fault: ModemFault | None = None
        self._silent = False
        self.info = ModemInfo()

    async def start(self) -> None:
        """Nothing is opened yet: the first ``read()`` opens the port (a modem that boots
        slower than the station must not stop it)."""
        logger.info("modem on %s at %d baud", self._port, self._baudrate)

    async def release(self) -> None:
        with self._io:
            if self._serial is not None:
                try:
                    self._serial.close()
                except OSError as exc:
                    logger.debug("modem close failed: %s", exc)
                self._serial = None

    @property
    def fault(self) -> ModemFault | None:
        return self._fault

    async def read(self) -> ModemInfo:
        """Query the modem (see the module docstring)."""
        try:
            info, fault = await asyncio.to_thread(self._query)
        except DeviceSilent:
            if not self._silent:
                logger.warning("modem on %s does not answer", self._port)
            self._silent = True
            raise
        if self._silent:
            logger.info("modem on %s answers again", self._port)
            self._silent = False
        if fault != self._fault:
            logger.log(logging.WARNING if fault else logging.INFO, "modem: %s",
                       fault or "registered")
        self._fault = fault
        self.info = info
        return info

    # ------------------------------------------------------------------ worker thread

    def _open(self) -> Any:
        if self._serial is None:
            import serial  # late: only stations with a modem need pyserial

            path = self._ctx.wiring.serial_port(self._port)
            try:
                self._serial = serial.Serial(path, self._baudrate, timeout=0.05)
            except (OSError, serial.SerialException) as exc:
                raise DeviceSilent(f"modem port {self._port}: {exc}") from exc
        return self._serial

    def _query(self) -> tuple[ModemInfo, ModemFault | None]:
        with self._io:
            self._command("AT")  # alive? (DeviceSilent if not)
            self._command_quiet("ATE0")
            fault: ModemFault | None = None
            try:
                rssi = rssi_dbm(int(self._answer("AT+CSQ", _CSQ).group(1)))
                operator, technology = parse_cops(self._line("AT+COPS?", "+COPS"))
            except ValueError as exc:
                raise DeviceFaulted(ModemFault.BAD_ANSWER, str(exc)) from exc
            iccid = imsi = None
            try:
                iccid = self._iccid()
                imsi = self._answer("AT+CIMI", _IMSI).group(1)
            except AtError as exc:
                if not exc.line.startswith(SIM_ERRORS):
                    raise DeviceFaulted(ModemFault.BAD_ANSWER, exc.line) from exc
                fault = ModemFault.NO_SIM
            if fault is None and operator is None:
                fault = ModemFault.NOT_REGISTERED
            return ModemInfo(rssi, operator, technology, iccid, imsi), fault

    def _iccid(self) -> str:
        error: AtError | None = None
        for command in ("AT+CCID", "AT+QCCID", "AT+CICCID"):
            try:
                return self._answer(command, _ICCID).group(1).upper()
            except AtError as exc:
                if exc.line.startswith(SIM_ERRORS):
                    raise
                error = exc  # this modem spells it differently: try the next one
        assert error is not None
        raise error

    def _answer(self, command: str, pattern: re.Pattern[str]) -> re.Match[str]:
        for line in self._command(command):
            match = pattern.search(line)
            if match is not None:
                return match
        raise DeviceFaulted(ModemFault.BAD_ANSWER, f"{command}: no usable answer")

    def _line(self, command: str, prefix: str) -> str:
        for line in self._command(command):
            if line.startswith(prefix):
                return line
        raise DeviceFaulted(ModemFault.BAD_ANSWER, f"{command}: no {prefix} line")

    def _command_quiet(self, command: str) -> None:
        try:
            self._command(command)
        except AtError:
            pass  # an old modem without the command: harmless

    def _command(self, command: str) -> list[str]:
        """Send ``command``; the information lines before OK. Raises ``AtError`` on
        ERROR and ``DeviceSilent`` when no final answer comes within the timeout."""
        port = self._open()
        try:
            port.reset_input_buffer()
            port.write(command.encode("ascii") + b"\r")
            lines: list[str] = []
            deadline = time.monotonic() + self._timeout_s
            while time.monotonic() < deadline:
                raw = port.readline()
                line = raw.decode("ascii", "replace").strip()
                if not line or line == command:  # blank or echo
                    continue
                if line == "OK":
                    return lines
                if line == "ERROR" or line.startswith(("+CME ERROR", "+CMS ERROR")):
                    raise AtError(line)
                lines.append(line)
        except OSError as exc:
            self._drop_port()
            raise DeviceSilent(f"modem on {self._port}: {exc}") from exc
        raise DeviceSilent(f"modem on {self._port}: no answer to {command}")

    def _drop_port(self) -> None:
        try:
            self._serial.close()
        except Exception as exc:  # a port that vanished closes in odd ways
            logger.debug("modem port close: %r", exc)
        self._serial = None


# The registry hands driver classes out untyped: mypy checks each against its role here.
_AT_MODEM_ROLE: type[Modem] = AtModem

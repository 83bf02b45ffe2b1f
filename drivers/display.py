"""Station displays: a character LCD (HD44780 behind a PCF8574 I2C backpack) and a
"log" display for boards without one (it writes each message to the log).

Layout of the LCD: connector n (1-based) owns ``rows_per_connector`` rows from row
(n - 1) x ``rows_per_connector``; its message is word-wrapped into them. A non-empty
station message (connector 0, e.g. "Out of service: service door open") takes the whole
screen until it is cleared. Characters the LCD's ROM lacks are written without their
accents (ë -> e); anything else becomes "?".

PCF8574 backpack wiring (the common one): P0 RS, P1 RW, P2 E, P3 backlight, P4-P7 D4-D7.
The LCD runs in 4-bit mode: each byte is two nibbles, each nibble latched on the falling
edge of E, so one nibble is two port writes (E high, E low). A PCF8574 sets its port once
per byte of an I2C write, so a row is sent as a few block writes.
"""

from __future__ import annotations

import logging
import textwrap
import time
import unicodedata
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from drivers.context import DriverContext
from drivers.errors import DeviceSilent
from drivers.i2c import I2CBus
from drivers.interfaces_station import Display
from drivers.params import Param, i2c_address
from drivers.wiring import SMBusLike

logger = logging.getLogger(__name__)

RS: Final = 0x01
ENABLE: Final = 0x04
BACKLIGHT: Final = 0x08
CLEAR: Final = 0x01
ENTRY_INCREMENT: Final = 0x06
DISPLAY_ON: Final = 0x0C
DISPLAY_OFF: Final = 0x08
FUNCTION_4BIT_2LINE: Final = 0x28
SET_DDRAM: Final = 0x80
BLOCK_MAX: Final = 32  # SMBus block limit (data bytes after the first)


def fold(text: str) -> str:
    """``text`` in the LCD's ASCII: accents dropped, other non-ASCII as ``?``."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in plain)


def layout(text: str, columns: int, rows: int) -> list[str]:
    """``text`` word-wrapped into ``rows`` rows of exactly ``columns`` characters."""
    lines = textwrap.wrap(fold(text), columns) if text else []
    lines = lines[:rows] + [""] * max(0, rows - len(lines))
    return [line.ljust(columns)[:columns] for line in lines]


def nibble_bytes(value: int, rs: bool, backlight: bool = True) -> list[int]:
    """The port writes that send ``value`` (a byte) as two nibbles."""
    base = (RS if rs else 0) | (BACKLIGHT if backlight else 0)
    out: list[int] = []
    for nibble in (value >> 4, value & 0x0F):
        port = nibble << 4 | base
        out += [port | ENABLE, port]
    return out


def send(smbus: SMBusLike, address: int, data: list[int]) -> None:
    """Port writes in as few I2C transactions as the SMBus block limit allows."""
    for i in range(0, len(data), BLOCK_MAX + 1):
        chunk = data[i:i + BLOCK_MAX + 1]
        smbus.write_i2c_block_data(address, chunk[0], chunk[1:])


class LogDisplay:
    """:class:`drivers.interfaces_station.Display` that logs each new message."""

    PARAMS: ClassVar[dict[str, Param]] = {}

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._texts: dict[int, str] = {}

    async def start(self) -> None:
        """Nothing to claim."""

    async def release(self) -> None:
        """Nothing to release."""

    async def show(self, connector_id: int, text: str) -> None:
        if self._texts.get(connector_id, "") != text:
            logger.info("connector %d: display: %s", connector_id, text or "(blank)")
        self._texts[connector_id] = text

    def text(self, connector_id: int) -> str:
        return self._texts.get(connector_id, "")


class Hd44780Display:
    """:class:`drivers.interfaces_station.Display` on an HD44780 LCD with a PCF8574."""

    BUS_KIND: ClassVar[str] = "i2c"
    PARAMS: ClassVar[dict[str, Param]] = {
        "bus": Param(str, doc="name of the I2C bus ([buses.i2c.<name>])"),
        "address": i2c_address("PCF8574 backpack address (0x27; PCF8574A: 0x3F)", 0x27),
        "columns": Param(int, 20, choices=(16, 20, 40), doc="characters per row"),
        "rows": Param(int, 4, choices=(1, 2, 4), doc="rows of the display"),
        "rows_per_connector": Param(int, 2, min=1, max=4, doc="rows each connector owns"),
    }

    def __init__(self, params: Mapping[str, Any], ctx: DriverContext) -> None:
        self._ctx = ctx
        self._bus_name: str = params["bus"]
        self._address: int = params.get("address", 0x27)
        self._columns: int = params.get("columns", 20)
        self._rows: int = params.get("rows", 4)
        self._per_connector: int = min(params.get("rows_per_connector", 2), self._rows)
        self._offsets = [0x00, 0x40, self._columns, 0x40 + self._columns][: self._rows]
        self._bus: I2CBus | None = None
        self._texts: dict[int, str] = {}
        self._shown: list[str | None] = [None] * self._rows  # None: unknown, rewrite
        self._initialised = False

    async def start(self) -> None:
        """Borrow the bus and initialise the LCD, blank (retried on first use if silent)."""
        self._bus = self._ctx.bus(self._bus_name, "I2C")
        try:
            await self._refresh()
        except DeviceSilent as exc:
            logger.warning("display not answering yet: %s", exc)
        logger.info("display: %dx%d LCD at 0x%02x on bus %s", self._columns, self._rows,
                    self._address, self._bus_name)

    async def release(self) -> None:
        """The LCD keeps its text; the bus is not ours."""

    def text(self, connector_id: int) -> str:
        return self._texts.get(connector_id, "")

    async def show(self, connector_id: int, text: str) -> None:
        """Show ``text`` for the connector; raises ``DeviceSilent`` when the LCD does not
        answer (the message is kept and written once it does)."""
        if self._texts.get(connector_id, "") != text:
            logger.info("connector %d: display: %s", connector_id, text or "(blank)")
        self._texts[connector_id] = text
        await self._refresh()

    def screen(self) -> list[str]:
        """The rows the LCD should show now."""
        station = self._texts.get(0, "")
        if station:
            return layout(station, self._columns, self._rows)
        rows = [" " * self._columns] * self._rows
        for cid, text in self._texts.items():
            first = (cid - 1) * self._per_connector
            if cid <= 0 or first >= self._rows:
                continue
            count = min(self._per_connector, self._rows - first)
            rows[first:first + count] = layout(text, self._columns, count)
        return rows

    async def _refresh(self) -> None:
        if self._bus is None:
            raise RuntimeError("display used before start()")
        await self._bus.call(self._write_screen, self.screen())

    def _write_screen(self, smbus: SMBusLike, rows: list[str]) -> None:
        try:
            if not self._initialised:
                self._init(smbus)
            for row, line in enumerate(rows):
                if self._shown[row] == line:
                    continue
                data = nibble_bytes(SET_DDRAM | self._offsets[row], rs=False)
                for char in line:
                    data += nibble_bytes(ord(char), rs=True)
                send(smbus, self._address, data)
                self._shown[row] = line
        except OSError as exc:
            self._initialised = False  # it may have lost power: start over next time
            self._shown = [None] * self._rows
            raise DeviceSilent(f"LCD at 0x{self._address:02x}: {exc}") from exc

    def _init(self, smbus: SMBusLike) -> None:
        """The HD44780's 4-bit initialisation by instruction (datasheet figure 24)."""
        a = self._address
        for nibble, pause_s in ((0x3, 0.0045), (0x3, 0.0002), (0x3, 0.0002), (0x2, 0.0002)):
            port = nibble << 4 | BACKLIGHT
            send(smbus, a, [port | ENABLE, port])
            time.sleep(pause_s)  # in the bus worker thread, never on the loop
        for command in (FUNCTION_4BIT_2LINE, DISPLAY_OFF, CLEAR, ENTRY_INCREMENT, DISPLAY_ON):
            send(smbus, a, nibble_bytes(command, rs=False))
            if command == CLEAR:
                time.sleep(0.002)  # clear takes 1.52 ms
        self._initialised = True
        self._shown = [" " * self._columns] * self._rows  # cleared


# The registry hands driver classes out untyped: mypy checks each against its role here.
_LOG_DISPLAY_ROLE: type[Display] = LogDisplay
_HD44780_DISPLAY_ROLE: type[Display] = Hd44780Display

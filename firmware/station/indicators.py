"""LED rings and the display follow each connector's status.

The station calls :meth:`ConnectorIndicators.update` (synchronous, on the loop) whenever a
connector's status or message changes; :meth:`ConnectorIndicators.run` writes the latest
wish of each connector to its LED ring (colour of the GUIConnectorHolderColors key) and to
the display, and retries a device that did not answer. The message is the connector's
fault display text when it has one, else a short status text in the display language.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

from drivers.errors import DriverError
from drivers.interfaces_station import Display, LedRing, Rgb
from drivers.leds import DEFAULT_HOLDER_COLORS, HolderColors, parse_holder_colors

log = logging.getLogger(__name__)

RETRY_S: Final = 5.0

STATUS_TEXTS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "Available": "Available. Present your card.",
        "Preparing": "Present your card or plug in.",
        "Charging": "Charging.",
        "SuspendedEV": "Charging paused by the vehicle.",
        "SuspendedEVSE": "Charging paused.",
        "Finishing": "Charging finished. Unplug the cable.",
        "Reserved": "Reserved.",
        "Unavailable": "Out of service.",
        "Faulted": "Cannot charge. Call for support.",
    },
    "nl": {
        "Available": "Beschikbaar. Houd uw pas voor de lezer.",
        "Preparing": "Houd uw pas voor de lezer of sluit aan.",
        "Charging": "Bezig met laden.",
        "SuspendedEV": "Laden gepauzeerd door de auto.",
        "SuspendedEVSE": "Laden gepauzeerd.",
        "Finishing": "Laden klaar. Neem de kabel uit.",
        "Reserved": "Gereserveerd.",
        "Unavailable": "Buiten gebruik.",
        "Faulted": "Kan niet laden. Bel voor ondersteuning.",
    },
}


def status_text(status: str, language: str = "en") -> str:
    """The display text for an OCPP status (English where the language has none)."""
    texts = STATUS_TEXTS.get(language, STATUS_TEXTS["en"])
    return texts.get(status, STATUS_TEXTS["en"].get(status, status))


class ConnectorIndicators:
    """The LED ring of each connector (``leds``) and the station display."""

    def __init__(
        self,
        leds: Mapping[int, LedRing],
        display: Display | None,
        colors: HolderColors | str = DEFAULT_HOLDER_COLORS,
        language: str = "en",
        retry_s: float = RETRY_S,
    ) -> None:
        self._leds = dict(leds)
        self._display = display
        self.colors = parse_holder_colors(colors) if isinstance(colors, str) else colors
        self.language = language
        self._retry_s = retry_s
        self._status: dict[int, str] = {}
        self._wanted: dict[int, tuple[Rgb | None, str]] = {}
        self._pending: set[int] = set()
        self._wake = asyncio.Event()

    def update(self, connector_id: int, status: str, display_text: str = "") -> None:
        """Connector ``connector_id`` is now in ``status`` with ``display_text`` (its fault
        message, "" for the status text). Connector 0: the station message ("" clears)."""
        self._status[connector_id] = status
        if connector_id == 0:
            wanted: tuple[Rgb | None, str] = (None, display_text)
        else:
            wanted = (self.colors.for_status(status),
                      display_text or status_text(status, self.language))
        if self._wanted.get(connector_id) != wanted:
            self._wanted[connector_id] = wanted
            self._pending.add(connector_id)
            self._wake.set()

    def set_colors(self, csl: str) -> None:
        """New GUIConnectorHolderColors (raises ``ValueError`` for a bad list)."""
        self.colors = parse_holder_colors(csl)
        for cid, status in list(self._status.items()):
            if cid != 0:
                _, text = self._wanted.get(cid, (None, ""))
                self._wanted[cid] = (self.colors.for_status(status), text)
                self._pending.add(cid)
        self._wake.set()

    def shown(self, connector_id: int) -> tuple[Rgb | None, str]:
        """What the connector should show now: (colour, message)."""
        return self._wanted.get(connector_id, (None, ""))

    async def run(self) -> None:
        """Write changes to the devices until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            failed = False
            for cid in sorted(self._pending):
                self._pending.discard(cid)
                if not await self._apply(cid):
                    self._pending.add(cid)
                    failed = True
            if failed:
                # Try again later (or at the next change); keep the loop responsive.
                try:
                    await asyncio.wait_for(self._wake.wait(), self._retry_s)
                except TimeoutError:
                    pass
                self._wake.set()

    async def _apply(self, cid: int) -> bool:
        rgb, text = self._wanted[cid]
        ok = True
        led = self._leds.get(cid)
        if led is not None and rgb is not None:
            try:
                await led.set_color(rgb)
            except DriverError as exc:
                log.warning("connector %d: LED ring: %s", cid, exc)
                ok = False
        if self._display is not None:
            try:
                await self._display.show(cid, text)
            except DriverError as exc:
                log.warning("connector %d: display: %s", cid, exc)
                ok = False
        return ok

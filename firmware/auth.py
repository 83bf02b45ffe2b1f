"""Authorization of idTags: the central system when online, local rules otherwise.

This is the spine's version: online → Authorize.req; offline → the OCPP offline rules
(AllowOfflineTxForUnknownId); no central system at all (``--no-csms``) → every card is
accepted, as a free-charging station would. The authorization cache, the local list,
kiosk mode and the NFC whitelist slot in here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from firmware.ports import CentralSystemLink, IdTagInfo

log = logging.getLogger(__name__)


class Authorizer:
    """Decides whether an idTag may start (or stop) a session."""

    def __init__(
        self,
        link: CentralSystemLink | None,
        key: Callable[[str], str | None] = lambda _name: None,
    ) -> None:
        self._link = link
        self._key = key

    def _flag(self, name: str) -> bool:
        return (self._key(name) or "false").lower() == "true"

    async def authorize(self, id_tag: str) -> IdTagInfo:
        if self._link is None:
            return IdTagInfo("Accepted")
        if self._link.online:
            info = await self._link.authorize(id_tag)
            if info is not None:
                log.info("idTag %s: %s (central system)", id_tag, info.status)
                return info
        if self._flag("AllowOfflineTxForUnknownId"):
            log.info("idTag %s: accepted offline (AllowOfflineTxForUnknownId)", id_tag)
            return IdTagInfo("Accepted")
        log.info("idTag %s: refused, central system unreachable", id_tag)
        return IdTagInfo("Invalid")

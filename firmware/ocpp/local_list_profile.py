"""LocalAuthListManagement profile: SendLocalList and GetLocalListVersion.

The list itself (persistence, version checks, LocalAuthListEnabled, LocalAuthListMaxLength,
SendLocalListMaxLength) is the station's ``local_list``
(:class:`firmware.auth.authorizer.LocalList`),
looked up with ``getattr``: a station without one answers NotSupported and version -1.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from firmware.ocpp.rpc import JsonObject, Router
from firmware.ocpp.transactions import id_tag_info
from firmware.ports import IdTagInfo

if TYPE_CHECKING:
    from firmware.ocpp.link import OcppLink

logger = logging.getLogger(__name__)


class LocalListProfile:
    """Handlers of the LocalAuthListManagement feature profile."""

    name = "LocalAuthListManagement"

    def __init__(self, link: OcppLink) -> None:
        self._link = link

    def install(self, router: Router) -> None:
        router.add("SendLocalList", self.send_local_list)
        router.add("GetLocalListVersion", self.get_local_list_version)

    def _list(self) -> Any:
        return getattr(self._link.station, "local_list", None)

    async def send_local_list(self, req: JsonObject) -> JsonObject:
        local_list = self._list()
        if local_list is None:
            return {"status": "NotSupported"}
        version = int(req["listVersion"])
        full = req["updateType"] == "Full"
        entries: list[tuple[str, IdTagInfo | None]] = [
            (str(e["idTag"]), id_tag_info(e["idTagInfo"]) if "idTagInfo" in e else None)
            for e in req.get("localAuthorizationList", [])
        ]
        status = str(local_list.update(version, entries, full))
        logger.info("SendLocalList v%d (%s, %d entries): %s", version, req["updateType"],
                    len(entries), status)
        return {"status": status}

    async def get_local_list_version(self, req: JsonObject) -> JsonObject:
        local_list = self._list()
        version = int(local_list.version()) if local_list is not None else -1
        return {"listVersion": version}

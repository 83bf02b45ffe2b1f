"""LocalAuthListManagement profile: SendLocalList and GetLocalListVersion.

The list itself (persistence, version checks, LocalAuthListEnabled, LocalAuthListMaxLength,
SendLocalListMaxLength) is the station's :class:`~firmware.ports.LocalAuthList`
(:class:`firmware.auth.authorizer.LocalList`). A station without a local list does not
install this profile: the calls then answer NotSupported and SupportedFeatureProfiles does
not name it.
"""

from __future__ import annotations

import logging

from firmware.ocpp.rpc import JsonObject, Router
from firmware.ocpp.transactions import id_tag_info
from firmware.ports import IdTagInfo, LocalAuthList

logger = logging.getLogger(__name__)


class LocalListProfile:
    """Handlers of the LocalAuthListManagement feature profile."""

    name = "LocalAuthListManagement"

    def __init__(self, local_list: LocalAuthList) -> None:
        self._list = local_list

    def install(self, router: Router) -> None:
        router.add("SendLocalList", self.send_local_list)
        router.add("GetLocalListVersion", self.get_local_list_version)

    async def send_local_list(self, req: JsonObject) -> JsonObject:
        version = int(req["listVersion"])
        full = req["updateType"] == "Full"
        entries: list[tuple[str, IdTagInfo | None]] = [
            (str(e["idTag"]), id_tag_info(e["idTagInfo"]) if "idTagInfo" in e else None)
            for e in req.get("localAuthorizationList", [])
        ]
        status = self._list.update(version, entries, full)
        logger.info("SendLocalList v%d (%s, %d entries): %s", version, req["updateType"],
                    len(entries), status)
        return {"status": status}

    async def get_local_list_version(self, req: JsonObject) -> JsonObject:
        return {"listVersion": self._list.version()}

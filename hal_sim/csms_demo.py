"""A small embedded central system, for ``evse sim`` without ``--csms`` and for tests.

Built on the server side of the ``ocpp`` package (an independent implementation from our
client's message layer). It accepts any charge point id (the last path segment of the
URL), logs every message on the ``csms`` logger as ``"<cp_id> <- Action {json}"`` (received)
and ``"<cp_id> -> Action.conf {json}"`` (sent), and keeps them in :attr:`DemoCsms.messages`.

Answers: BootNotification Accepted (``boot_status`` / ``boot_interval`` change that),
Heartbeat, StatusNotification, MeterValues, DataTransfer (UnknownVendorId; set
``data_transfer_answer``), Authorize and StartTransaction with idTagInfo Accepted except
idTags starting with ``INVALID`` (Invalid) or ``BLOCKED`` (Blocked), or as
``id_tags[idTag]`` says (any IdTagInfo, e.g. with a parentIdTag), increasing
transactionIds, StopTransaction.

:meth:`DemoCsms.call_json` sends any CALL as plain JSON (``{"connectorId": 1, ...}``) and
returns the CALLRESULT payload, for tests that speak OCPP JSON rather than the package's
dataclasses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import ssl
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar, cast
from urllib.parse import unquote

from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

logger = logging.getLogger("csms")
# The package logs every message at INFO as well; ours are the readable ones.
_package_logger = logging.getLogger("csms.ocpp")
_package_logger.setLevel(logging.WARNING)


_F = TypeVar("_F", bound=Callable[..., Any])


def _on(action: str) -> Callable[[_F], _F]:
    """``ocpp.routing.on`` with a type mypy can see through."""
    return cast(Callable[[_F], _F], on(action))


class CsmsMessage(NamedTuple):
    """One message on the wire. ``action`` is "Action" for a CALL, "Action.conf" for its
    CALLRESULT and "Action.error" for a CALLERROR; direction "<-" = from the charge point."""

    cp_id: str
    direction: str
    action: str
    payload: Any


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id_tag_info(id_tag: str | None, known: dict[str, Any] | None = None) -> dict[str, Any]:
    for tag, info in (known or {}).items():
        if id_tag is not None and tag.casefold() == id_tag.casefold():
            return dict(info)
    tag = (id_tag or "").upper()
    if tag.startswith("INVALID"):
        return {"status": "Invalid"}
    if tag.startswith("BLOCKED"):
        return {"status": "Blocked"}
    return {"status": "Accepted"}


class CsmsCallError(Exception):
    """The charge point answered a :meth:`DemoCsms.call_json` with a CALLERROR."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code


class _Wire:
    """The connection as the ocpp ChargePoint sees it: records every message both ways."""

    def __init__(self, ws: ServerConnection, cp_id: str, csms: DemoCsms) -> None:
        self._ws = ws
        self._cp_id = cp_id
        self._csms = csms

    async def recv(self) -> str:
        while True:
            raw = await self._ws.recv()
            text = raw if isinstance(raw, str) else raw.decode()
            msg = self._csms._record(self._cp_id, "<-", text)
            waiter = self._csms._raw_waiters.pop(msg[1], None) if msg else None
            if msg is not None and waiter is not None and not waiter.done():
                waiter.set_result(msg)  # the answer to raw_call(): not for the ChargePoint
                continue
            return text

    async def send(self, text: str) -> None:
        msg = self._csms._record(self._cp_id, "->", text)
        if msg is not None and msg[0] in (3, 4):
            # An answer that can no longer go out must not end the receive loop: what the
            # charge point sent before closing (a last answer of its own) is still read.
            try:
                await self._ws.send(text)
            except ConnectionClosed:
                logger.info("%s: answer not sent, the connection is closing", self._cp_id)
            return
        await self._ws.send(text)


class _DemoChargePoint(ChargePoint):  # type: ignore[misc]
    def __init__(self, cp_id: str, wire: _Wire, csms: DemoCsms) -> None:
        super().__init__(cp_id, wire, response_timeout=30, logger=_package_logger)
        self._csms = csms
        self.ws_wire = wire

    @_on("BootNotification")
    def on_boot(self, **_: Any) -> call_result.BootNotification:
        self._csms._maybe_fail("BootNotification")
        return call_result.BootNotification(
            current_time=_now(), interval=self._csms.boot_interval, status=self._csms.boot_status
        )

    @_on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        self._csms._maybe_fail("Heartbeat")
        return call_result.Heartbeat(current_time=_now())

    @_on("StatusNotification")
    def on_status(self, **_: Any) -> call_result.StatusNotification:
        self._csms._maybe_fail("StatusNotification")
        return call_result.StatusNotification()

    @_on("MeterValues")
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        self._csms._maybe_fail("MeterValues")
        return call_result.MeterValues()

    @_on("Authorize")
    def on_authorize(self, id_tag: str, **_: Any) -> call_result.Authorize:
        self._csms._maybe_fail("Authorize")
        return call_result.Authorize(id_tag_info=_id_tag_info(id_tag, self._csms.id_tags))

    @_on("StartTransaction")
    def on_start(self, id_tag: str, **_: Any) -> call_result.StartTransaction:
        self._csms._maybe_fail("StartTransaction")
        return call_result.StartTransaction(
            transaction_id=next(self._csms._tx_ids),
            id_tag_info=_id_tag_info(id_tag, self._csms.id_tags),
        )

    @_on("StopTransaction")
    def on_stop(self, id_tag: str | None = None, **_: Any) -> call_result.StopTransaction:
        self._csms._maybe_fail("StopTransaction")
        info = _id_tag_info(id_tag, self._csms.id_tags) if id_tag is not None else None
        return call_result.StopTransaction(id_tag_info=info)

    @_on("DataTransfer")
    def on_data_transfer(self, **_: Any) -> call_result.DataTransfer:
        return call_result.DataTransfer(**self._csms.data_transfer_answer)

    @_on("FirmwareStatusNotification")
    def on_firmware_status(self, **_: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @_on("DiagnosticsStatusNotification")
    def on_diagnostics_status(self, **_: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()


class DemoCsms:
    """A running demo central system; build it with :func:`serve`."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self.secure = False  # serving wss://
        self.boot_status = "Accepted"
        self.boot_interval = 300
        self.messages: list[CsmsMessage] = []
        self.auth: dict[str, str | None] = {}  # Authorization header per charge point
        self.id_tags: dict[str, dict[str, Any]] = {}  # idTag -> the idTagInfo to answer
        self.data_transfer_answer: dict[str, Any] = {"status": "UnknownVendorId"}
        self._server: Server | None = None
        self._cps: dict[str, _DemoChargePoint] = {}
        self._tx_ids: Iterator[int] = itertools.count(1)
        self._actions: dict[str, str] = {}  # unique id -> action, to name the answers
        self._failures: dict[str, tuple[int, str]] = {}
        self._raw_waiters: dict[str, asyncio.Future[list[Any]]] = {}
        self._json_ids: Iterator[int] = itertools.count(1)
        self._changed = asyncio.Event()

    @property
    def url(self) -> str:
        """The URL to give a charge point (it appends ``/<charge point id>``)."""
        return f"{'wss' if self.secure else 'ws'}://{self.host}:{self.port}/ocpp"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # ------------------------------------------------------------------ inspection

    def connected(self, cp_id: str) -> bool:
        return cp_id in self._cps

    def received(self, cp_id: str, action: str) -> list[Any]:
        """Payloads of the CALLs ``action`` received from that charge point, in order."""
        return [m.payload for m in self.messages
                if m.cp_id == cp_id and m.direction == "<-" and m.action == action]

    async def wait_for(
        self, cp_id: str, action: str, count: int = 1, timeout: float = 10.0
    ) -> list[Any]:
        """Wait until ``count`` CALLs ``action`` arrived from the charge point; returns all."""
        async with asyncio.timeout(timeout):
            while len(got := self.received(cp_id, action)) < count:
                self._changed.clear()
                await self._changed.wait()
        return got

    async def wait_connected(self, cp_id: str, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.connected(cp_id):
                self._changed.clear()
                await self._changed.wait()

    # ------------------------------------------------------------------ behaviour for tests

    def fail_next(self, action: str, count: int = 1, code: str = "InternalError") -> None:
        """Answer the next ``count`` CALLs ``action`` with a CALLERROR."""
        self._failures[action] = (count, code)

    def _maybe_fail(self, action: str) -> None:
        count, code = self._failures.get(action, (0, ""))
        if count <= 0:
            return
        self._failures[action] = (count - 1, code)
        raise InternalError(description=f"demo CSMS: injected failure ({code})")

    async def disconnect(self, cp_id: str) -> None:
        """Drop a charge point's connection (it will reconnect by itself)."""
        cp = self._cps.get(cp_id)
        if cp is not None:
            await cp.ws_wire._ws.close(1001, "demo CSMS: going away")

    # ------------------------------------------------------------------ calls to a charge point

    async def call(self, cp_id: str, payload: Any) -> Any:
        """Send any ``ocpp.v16.call`` payload; returns the ``call_result`` (CALLERROR raises)."""
        cp = self._cps[cp_id]
        return await cp.call(payload, suppress=False)

    async def remote_start(self, cp_id: str, id_tag: str, connector_id: int | None = None) -> str:
        result = await self.call(
            cp_id, call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector_id)
        )
        return str(result.status)

    async def remote_stop(self, cp_id: str, transaction_id: int) -> str:
        result = await self.call(cp_id, call.RemoteStopTransaction(transaction_id=transaction_id))
        return str(result.status)

    async def change_configuration(self, cp_id: str, key: str, value: str) -> str:
        result = await self.call(cp_id, call.ChangeConfiguration(key=key, value=value))
        return str(result.status)

    async def get_configuration(
        self, cp_id: str, keys: list[str] | None = None
    ) -> dict[str, list[Any]]:
        result = await self.call(cp_id, call.GetConfiguration(key=keys))
        return {
            "configurationKey": list(result.configuration_key or []),
            "unknownKey": list(result.unknown_key or []),
        }

    async def call_json(
        self, cp_id: str, action: str, params: dict[str, Any], timeout: float = 10.0
    ) -> dict[str, Any]:
        """Send a CALL given as JSON; returns the CALLRESULT payload (CALLERROR raises
        :class:`CsmsCallError`)."""
        unique_id = f"json-{next(self._json_ids)}"
        answer = await self.raw_call(
            cp_id, json.dumps([2, unique_id, action, params]), unique_id, timeout
        )
        if answer[0] != 3:
            code = str(answer[2]) if len(answer) > 2 else "?"
            raise CsmsCallError(code, str(answer[3]) if len(answer) > 3 else "")
        result: dict[str, Any] = answer[2]
        return result

    async def send_raw(self, cp_id: str, text: str) -> None:
        """Send any text to a charge point, expecting no answer (e.g. a stray CALLRESULT)."""
        await self._cps[cp_id].ws_wire.send(text)

    async def raw_call(
        self, cp_id: str, text: str, unique_id: str, timeout: float = 10.0
    ) -> list[Any]:
        """Send any text (malformed on purpose) and return the answer with ``unique_id``."""
        cp = self._cps[cp_id]
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._raw_waiters[unique_id] = future
        try:
            await cp.ws_wire.send(text)
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._raw_waiters.pop(unique_id, None)

    # ------------------------------------------------------------------ internals

    def _record(self, cp_id: str, direction: str, text: str) -> list[Any] | None:
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        payload: Any
        if not isinstance(msg, list) or len(msg) < 3 or not isinstance(msg[1], str):
            action, payload = "?", {"raw": text}
        elif msg[0] == 2:
            action, payload = str(msg[2]), msg[3] if len(msg) > 3 else None
            self._actions[msg[1]] = action
        elif msg[0] == 3:
            action, payload = self._actions.pop(msg[1], "?") + ".conf", msg[2]
        else:
            action = self._actions.pop(msg[1], "?") + ".error"
            payload = {"errorCode": msg[2], "errorDescription": msg[3] if len(msg) > 3 else "",
                       "errorDetails": msg[4] if len(msg) > 4 else {}}
        self.messages.append(CsmsMessage(cp_id, direction, action, payload))
        logger.info("%s %s %s %s", cp_id, direction, action, json.dumps(payload))
        self._changed.set()
        return msg if isinstance(msg, list) and len(msg) > 1 else None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        cp_id = unquote(ws.request.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1])
        if ws.subprotocol != "ocpp1.6":
            logger.warning("%s: refused, no ocpp1.6 subprotocol", cp_id)
            await ws.close(1002, "ocpp1.6 required")
            return
        cp = _DemoChargePoint(cp_id, _Wire(ws, cp_id, self), self)
        self._cps[cp_id] = cp
        self.auth[cp_id] = ws.request.headers.get("Authorization")
        logger.info("%s connected", cp_id)
        self._changed.set()
        try:
            await cp.start()
        except ConnectionClosed:
            pass
        finally:
            if self._cps.get(cp_id) is cp:
                del self._cps[cp_id]
            logger.info("%s disconnected", cp_id)
            self._changed.set()


async def serve(
    host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
) -> DemoCsms:
    """Start the demo central system (port 0: any free port, see ``.port`` / ``.url``);
    with ``tls`` (a server context) it serves wss://."""
    csms = DemoCsms(host)
    csms.secure = tls is not None
    csms._server = await ws_serve(
        csms._handler, host, port, subprotocols=[Subprotocol("ocpp1.6")], ssl=tls
    )
    csms.port = int(next(iter(csms._server.sockets)).getsockname()[1])
    logger.info("demo central system on %s", csms.url)
    return csms

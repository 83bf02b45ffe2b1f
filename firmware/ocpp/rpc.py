"""OCPP-J 1.6 message layer over one WebSocket connection.

What it guarantees:

* one outstanding CALL at a time (a lock); an answer is matched to its CALL by unique id,
  answers with an unknown id are logged and dropped; when the connection goes away every
  waiting CALL fails at once with :class:`RpcClosed` (the lock is released by unwinding,
  it can never stay held);
* every CALL from the central system is handled in its own task (owned by the session's
  TaskGroup) so the receive loop keeps reading answers meanwhile; a handler exception
  becomes a CALLERROR InternalError plus a logged traceback, never a crash;
* payloads are checked against the official OCPP 1.6 JSON schemas (shipped with the ``ocpp``
  package) in both directions, date-time formats included, and a malformed CALL gets the
  OCPP 1.6 error code (see :func:`schema_error`).

Why not ``ocpp.v16.ChargePoint``: its dispatcher answers schema errors with the OCPP 2.0
code ``FormatViolation`` (1.6 spells it ``FormationViolation``), swaps NotImplemented and
NotSupported (OCPP-J 1.6 table 7: NotImplemented = action not known, NotSupported = known but
not supported), silently drops CALLs it cannot parse even when their unique id is readable,
runs ``@after`` hooks fire-and-forget, and its ``call()`` waits out the full timeout after a
disconnect. Messages, schemas and error classes still come from the package.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import ocpp.v16
from jsonschema import Draft4Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import (  # type: ignore[import-untyped]
    ValidationError,
    best_match,
)
from ocpp.exceptions import (
    FormationViolationError,
    InternalError,
    NotImplementedError,
    NotSupportedError,
    OccurenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    TypeConstraintViolationError,
)
from ocpp.messages import Call, CallError, CallResult
from ocpp.v16.enums import Action

from firmware.errors import FirmwareError

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
V16_ACTIONS = frozenset(a.value for a in Action)


class RpcClosed(FirmwareError, ConnectionError):
    """The connection went away before the answer arrived."""


class CallFailed(FirmwareError):
    """The central system answered a CALL with a CALLERROR."""

    def __init__(self, action: str, code: str, description: str, details: object) -> None:
        super().__init__(f"{action}: CALLERROR {code}: {description}")
        self.action = action
        self.code = code
        self.description = description
        self.details = details


class InvalidMessage(FirmwareError):
    """A payload that breaks the schema: ours (a bug) or the central system's answer."""


@dataclass
class Reply:
    """A handler's answer; ``after`` runs once the CALLRESULT is on its way (TriggerMessage
    sends the requested message only after confirming)."""

    payload: JsonObject
    after: Callable[[], Awaitable[None]] | None = None


Handler = Callable[[JsonObject], Awaitable[Reply | JsonObject]]


class Router:
    """Which handler answers which CSMS-initiated action (one instance per link)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, action: str, handler: Handler) -> None:
        if action not in V16_ACTIONS:
            raise ValueError(f"{action} is not an OCPP 1.6 action")
        if action in self._handlers:
            raise ValueError(f"a handler for {action} is already installed")
        self._handlers[action] = handler

    def get(self, action: str) -> Handler | None:
        return self._handlers.get(action)

    def actions(self) -> list[str]:
        return sorted(self._handlers)


class Transport(Protocol):
    """The part of a WebSocket connection the layer uses."""

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...


# --------------------------------------------------------------------------- schemas

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)
_FORMATS = FormatChecker(formats=())


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True  # the "type" keyword reports that
    if not _RFC3339.fullmatch(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # range check
    return True


_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


@functools.cache
def _validator(action: str, response: bool) -> Draft4Validator:
    # action is checked against V16_ACTIONS by the callers, so it is a safe file name
    name = action + ("Response" if response else "")
    path = Path(ocpp.v16.__file__).parent / "schemas" / f"{name}.json"
    # Decimal floats: "multipleOf 0.1" (charging schedule limits) fails with binary floats
    schema = json.loads(path.read_text(encoding="utf-8-sig"), parse_float=Decimal)
    return Draft4Validator(schema, format_checker=_FORMATS)


# jsonschema keyword -> OCPP 1.6 CallError code (1.6 spells "FormationViolation" and
# "OccurenceConstraintViolation" that way: errata sheet, known issues not to be fixed).
_CODES: dict[str, type[OCPPError]] = {
    "type": TypeConstraintViolationError,
    "maxLength": TypeConstraintViolationError,  # CiStringNN is a data type with a length
    "minLength": TypeConstraintViolationError,
    "enum": PropertyConstraintViolationError,
    "minimum": PropertyConstraintViolationError,
    "maximum": PropertyConstraintViolationError,
    "pattern": PropertyConstraintViolationError,
    "format": PropertyConstraintViolationError,
    "multipleOf": PropertyConstraintViolationError,
    "required": OccurenceConstraintViolationError,
    "minItems": OccurenceConstraintViolationError,
    "maxItems": OccurenceConstraintViolationError,
    "uniqueItems": OccurenceConstraintViolationError,
    "additionalProperties": FormationViolationError,
}


def schema_error(action: str, payload: object, *, response: bool = False) -> OCPPError | None:
    """The CallError a payload deserves, or None when it matches the schema."""
    instance = json.loads(json.dumps(payload), parse_float=Decimal)
    errors: list[ValidationError] = list(_validator(action, response).iter_errors(instance))
    if not errors:
        return None
    error: ValidationError = best_match(errors)
    # A value of the wrong type also fails that field's enum: the type is what is wrong.
    for other in errors:
        if other.validator == "type" and other.absolute_path == error.absolute_path:
            error = other
            break
    cls = _CODES.get(str(error.validator), FormationViolationError)
    where = "/".join(str(p) for p in error.absolute_path) or "payload"
    return cls(details={"cause": f"{action}: {where}: {error.message}"[:300]})  # type: ignore[no-any-return]


def _error_json(unique_id: str, error: OCPPError) -> str:
    return CallError(unique_id, error.code, error.description, error.details).to_json()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- the layer


class Rpc:
    """One connection's OCPP-J message exchange, charge point side."""

    def __init__(
        self,
        transport: Transport,
        router: Router,
        *,
        name: str,
        timeout: float = 30.0,
        on_activity: Callable[[], None] = lambda: None,
    ) -> None:
        self._transport = transport
        self._router = router
        self._name = name  # charge point id, for log lines
        self._timeout = timeout
        self._on_activity = on_activity
        self._lock = asyncio.Lock()
        self._pending: dict[str, tuple[str, asyncio.Future[JsonObject]]] = {}
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def busy(self) -> bool:
        """A CALL is outstanding (or waiting for its turn)."""
        return self._lock.locked()

    @contextlib.asynccontextmanager
    async def idle(self) -> AsyncIterator[None]:
        """Inside, no CALL of ours is outstanding and none starts (closing politely)."""
        async with self._lock:
            yield

    async def call(self, action: str, payload: JsonObject, *, checked: bool = False) -> JsonObject:
        """Send a CALL and return the CALLRESULT payload (within the layer's timeout;
        callers wanting less wrap the call in ``asyncio.timeout``).

        ``checked``: the caller validated the payload already (the transaction queue
        checks MeterValues once, when they are recorded, not each time they are sent).

        Raises :class:`CallFailed` (CALLERROR), :class:`TimeoutError`, :class:`RpcClosed`
        and :class:`InvalidMessage` (our payload or the answer breaks the schema)."""
        if action not in V16_ACTIONS:
            raise ValueError(f"{action} is not an OCPP 1.6 action")
        problem = None if checked else schema_error(action, payload)
        if problem is not None:
            raise InvalidMessage(f"refusing to send {action}: {problem.details}")
        async with self._lock:
            if self._closed:
                raise RpcClosed(action)
            unique_id = str(uuid.uuid4())
            future: asyncio.Future[JsonObject] = asyncio.get_running_loop().create_future()
            self._pending[unique_id] = (action, future)
            try:
                await self._send(Call(unique_id, action, payload).to_json())
                async with asyncio.timeout(self._timeout):
                    result = await future
            finally:
                self._pending.pop(unique_id, None)
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: no "never retrieved" noise if unawaited
        problem = schema_error(action, result, response=True)
        if problem is not None:
            raise InvalidMessage(f"{action}.conf from the central system: {problem.details}")
        return result

    async def serve(self, tg: asyncio.TaskGroup) -> None:
        """Receive until the connection closes (the transport's exception propagates).

        CSMS calls are handled in tasks of ``tg``."""
        try:
            while True:
                raw = await self._transport.recv()
                self._on_activity()
                self._route(raw, tg)
        finally:
            self.close()

    def close(self) -> None:
        """Fail every waiting CALL; later calls raise :class:`RpcClosed`."""
        self._closed = True
        for action, future in self._pending.values():
            if not future.done():
                future.set_exception(RpcClosed(action))

    async def _send(self, text: str) -> None:
        logger.debug("%s: -> %s", self._name, text)
        await self._transport.send(text)
        self._on_activity()

    # ------------------------------------------------------------------ incoming

    def _route(self, raw: str | bytes, tg: asyncio.TaskGroup) -> None:
        logger.debug("%s: <- %s", self._name, raw)
        try:
            msg = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
            logger.warning("%s: dropped a message that is not JSON: %.200r", self._name, raw)
            return
        if not isinstance(msg, list) or len(msg) < 2 or not isinstance(msg[1], str):
            # Without a readable unique id there is nobody to answer to.
            logger.warning("%s: dropped a message that is not OCPP-J: %.200r", self._name, raw)
            return
        kind, unique_id = msg[0], msg[1]
        if kind == 2:
            if len(msg) != 4 or not isinstance(msg[2], str) or not isinstance(msg[3], dict):
                error = FormationViolationError(details={"cause": "not [2, id, action, {}]"})
                tg.create_task(self._send_error(unique_id, error))
                return
            tg.create_task(self._handle_call(unique_id, msg[2], msg[3]))
        elif kind in (3, 4):
            self._answer(unique_id, msg)
        else:
            logger.warning("%s: dropped a message of unknown type %r", self._name, kind)

    def _answer(self, unique_id: str, msg: list[Any]) -> None:
        pending = self._pending.get(unique_id)
        if pending is None or pending[1].done():
            logger.warning("%s: dropped an answer with unknown id %s", self._name, unique_id)
            return
        action, future = pending
        if msg[0] == 3:
            if len(msg) == 3 and isinstance(msg[2], dict):
                future.set_result(msg[2])
            else:
                future.set_exception(InvalidMessage(f"{action}: malformed CALLRESULT"))
        else:
            code = msg[2] if len(msg) > 2 and isinstance(msg[2], str) else "GenericError"
            description = msg[3] if len(msg) > 3 and isinstance(msg[3], str) else ""
            details = msg[4] if len(msg) > 4 else {}
            future.set_exception(CallFailed(action, code, description, details))

    async def _send_error(self, unique_id: str, error: OCPPError) -> None:
        await self._send(_error_json(unique_id, error))

    async def _handle_call(self, unique_id: str, action: str, payload: JsonObject) -> None:
        try:
            reply = await self._dispatch(action, payload)
        except OCPPError as e:
            logger.warning("%s: %s answered with %s: %s", self._name, action, e.code, e.details)
            await self._send_error(unique_id, e)
            return
        except Exception:
            logger.exception("%s: the %s handler failed", self._name, action)
            await self._send_error(unique_id, InternalError(details={"cause": "handler failed"}))
            return
        await self._send(CallResult(unique_id, reply.payload).to_json())
        if reply.after is not None:
            try:
                await reply.after()
            except RpcClosed:
                logger.info("%s: connection lost during the follow-up of %s", self._name, action)
            except Exception:
                logger.exception("%s: the follow-up of %s failed", self._name, action)

    async def _dispatch(self, action: str, payload: JsonObject) -> Reply:
        handler = self._router.get(action)
        if handler is None:
            # The package's default descriptions of these two are swapped: give our own.
            if action in V16_ACTIONS:
                raise NotSupportedError(
                    "Requested Action is recognized but not supported by the receiver",
                    {"cause": f"{action} is not supported"},
                )
            raise NotImplementedError(
                "Requested Action is not known by receiver", {"cause": f"{action} is not known"}
            )
        problem = schema_error(action, payload)
        if problem is not None:
            raise problem
        reply = await handler(payload)
        if not isinstance(reply, Reply):
            reply = Reply(reply)
        problem = schema_error(action, reply.payload, response=True)
        if problem is not None:
            logger.error("%s: our %s.conf breaks the schema: %s", self._name, action, problem)
            raise InternalError(details={"cause": "invalid answer"})
        return reply


# --------------------------------------------------------------------------- timestamps


def format_time(t: datetime) -> str:
    """OCPP dateTime: UTC, milliseconds, "Z" (``2026-01-01T12:00:00.000Z``)."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """Parse an OCPP dateTime; raises ValueError. A time without zone is taken as UTC."""
    t = datetime.fromisoformat(text.strip().upper().replace("Z", "+00:00"))
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)

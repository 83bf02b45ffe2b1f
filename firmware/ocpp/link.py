"""The OCPP 1.6J link: connection, boot, heartbeat, status, and the session around them.

:class:`OcppLink` implements :class:`firmware.ports.CentralSystemLink`. It is built
without the station (identity, URL, store, keys, clock, endpoint), so the station receives
it complete; ``await link.run(station)`` (inside the station's TaskGroup) then runs it for
that :class:`firmware.ports.StationPort`: connects to ``url/charge_point_id`` with
subprotocol ``ocpp1.6``, boots, and keeps the session up; when the connection fails it
reconnects with exponential back-off and jitter.

The link knows no feature profile by name: the assembly installs each one with
:meth:`OcppLink.install` (see :mod:`firmware.ocpp.profile`), and SupportedFeatureProfiles
lists the installed ones in the order they were installed. The link itself is the
:class:`~firmware.ocpp.profile.LinkServices` the profiles use.

Session order after connecting: BootNotification until Accepted (Pending / Rejected: retry
after ``interval``, send nothing else meanwhile, answer the central system's calls), then
the current StatusNotification of connector 0 and every connector, then the transaction
queue, the status changes and the heartbeats. ``online`` is True from the accepted boot
until the connection drops.

Status changes wait ``MinimumStatusDuration`` seconds and go out only if still current
(:mod:`firmware.ocpp.status_notifications`).
A WebSocket ping every ``WebSocketPingInterval`` seconds finds a dead link (no pong within
the interval): the connection is dropped and rebuilt. Security profile 1: HTTP Basic with
``AuthorizationKey`` (ws and wss); a new key reconnects at once.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import ssl
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from firmware import __version__
from firmware.clock import Clock
from firmware.config.model import Identity
from firmware.log_context import redact_id_tag
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.metering import Metering
from firmware.ocpp.profile import Profile
from firmware.ocpp.rpc import (
    CallFailed,
    InvalidMessage,
    JsonObject,
    Router,
    Rpc,
    RpcClosed,
    format_time,
    parse_time,
)
from firmware.ocpp.status_notifications import StatusNotifications
from firmware.ocpp.transactions import TransactionQueue, id_tag_info
from firmware.ports import IdTagInfo, StationPort, StatusReport, TxHandle
from firmware.storage.store import Store

logger = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("ocpp1.6")
# Errors of one message that must not end the session (never for RpcClosed).
_MESSAGE_ERRORS = (CallFailed, InvalidMessage, TimeoutError)


class Backoff:
    """Reconnect delays: ``initial`` doubling up to ``maximum``, each ±``jitter``."""

    def __init__(
        self,
        initial: float = 1.0,
        maximum: float = 60.0,
        jitter: float = 0.25,
        rng: random.Random | None = None,
    ) -> None:
        self._initial = initial
        self._maximum = maximum
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay * (1 + self._rng.uniform(-self._jitter, self._jitter))

    def reset(self) -> None:
        self._next = self._initial


def _direct(host: str, port: int) -> tuple[str, int]:
    return host, port


class OcppLink:
    """The charge point side of OCPP 1.6J (see the module docstring)."""

    def __init__(
        self,
        identity: Identity,
        url: str,
        store: Store,
        keys: ConfigKeys,
        clock: Clock,
        endpoint: Callable[[str, int], tuple[str, int]] = _direct,
        *,
        connector_count: int,
        call_timeout: float = 30.0,
        authorize_timeout: float = 5.0,
        boot_retry_s: float = 60.0,
        backoff: Backoff | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.identity = identity
        self.keys = keys
        self.store = store
        self._url = url
        self._clock = clock
        self._endpoint = endpoint
        self._call_timeout = call_timeout
        self._authorize_timeout = authorize_timeout
        self._boot_retry_s = boot_retry_s  # after a Pending/Rejected with interval 0
        self._backoff = backoff or Backoff()
        self._station: StationPort | None = None  # the station run() runs for
        self._ssl = ssl_context  # wss: None = the system's trusted certificates
        self.router = Router()
        self._profiles: list[str] = []
        self._rpc: Rpc | None = None
        self._online = False
        self._last_activity = clock.monotonic()
        self.statuses = StatusNotifications(keys, clock)
        self._ws: ClientConnection | None = None
        self._ping_wake = asyncio.Event()
        self._reconnect_wanted = False
        self._stopping = False  # shutdown(): no more connections
        self._heartbeat_wake = asyncio.Event()
        self._boot_now = asyncio.Event()
        self.transactions = TransactionQueue(store, keys)
        self.metering = Metering(keys, clock, store, self.transactions.meter_values,
                                 send_direct=self._meter_values_now)

        keys.set_readonly("NumberOfConnectors", str(connector_count))
        keys.on_change("HeartbeatInterval", lambda _v: self._heartbeat_wake.set())
        keys.on_change("WebSocketPingInterval", lambda _v: self._ping_wake.set())
        keys.on_change("AuthorizationKey", lambda _v: self._want_reconnect())

    # ------------------------------------------------------------------ assembly

    @property
    def charge_point_id(self) -> str:
        return self.identity.charge_point_id

    def install(self, profile: Profile) -> None:
        """Add a feature profile's handlers and announce it in SupportedFeatureProfiles
        (in the order of installation). Install every profile before :meth:`run`."""
        profile.install(self.router)
        if profile.name not in self._profiles:
            self._profiles.append(profile.name)
            self.keys.set_readonly("SupportedFeatureProfiles", ",".join(self._profiles))

    # ------------------------------------------------------------------ CentralSystemLink

    @property
    def online(self) -> bool:
        return self._online

    @property
    def url(self) -> str:
        return self._url

    def notify_status(self, connector_id: int, report: StatusReport) -> None:
        self.statuses.changed(connector_id, report, self._online)

    async def authorize(self, id_tag: str) -> IdTagInfo | None:
        rpc = self._rpc
        if not self._online or rpc is None:
            return None
        try:
            async with asyncio.timeout(self._authorize_timeout):
                answer = await rpc.call("Authorize", {"idTag": id_tag})
        except (*_MESSAGE_ERRORS, RpcClosed, ConnectionClosed) as e:
            logger.warning("Authorize %s: no answer (%s)", redact_id_tag(id_tag),
                           e or type(e).__name__)
            return None
        return id_tag_info(answer["idTagInfo"])

    def start_transaction(
        self,
        connector_id: int,
        id_tag: str,
        meter_start_wh: float,
        timestamp: datetime,
        reservation_id: int | None = None,
        remote: bool = False,
    ) -> TxHandle:
        handle = self.transactions.start(
            connector_id, id_tag, meter_start_wh, timestamp, reservation_id, remote
        )
        self.metering.track(handle)
        return handle

    def stop_transaction(
        self,
        handle: TxHandle,
        meter_stop_wh: float,
        timestamp: datetime,
        reason: str,
        id_tag: str | None = None,
    ) -> None:
        periodic = self.metering.untrack(handle.local_id)
        data = self.metering.transaction_data(handle, periodic, meter_stop_wh, timestamp)
        self.transactions.stop(handle, meter_stop_wh, timestamp, reason, id_tag, data)

    async def data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None
    ) -> tuple[str, str | None] | None:
        """DataTransfer to the central system: (status, data), None when offline."""
        payload: JsonObject = {"vendorId": vendor_id}
        if message_id is not None:
            payload["messageId"] = message_id
        if data is not None:
            payload["data"] = data
        if not self._online:
            return None
        answer = await self.send_now("DataTransfer", payload)
        if answer is None:
            return None
        return str(answer["status"]), answer.get("data")

    # ------------------------------------------------------------------ LinkServices (profiles)

    def connector_of(self, transaction_id: int) -> int | None:
        """The connector running the transaction with that central-system id."""
        station = self._station
        if station is None:  # not running: no transaction is known to run
            return None
        for c in station.connector_ids():
            handle = station.active_transaction(c)
            if handle is None:
                continue
            if transaction_id in (handle.transaction_id, self.store.csms_tx_id(handle.local_id)):
                return c
        return None

    async def trigger_boot(self) -> None:
        """TriggerMessage(BootNotification): during the boot, retry now; later, send one."""
        rpc = self._rpc
        if not self._online or rpc is None:
            self._boot_now.set()
            return
        try:
            answer = await rpc.call("BootNotification", self._boot_payload())
        except _MESSAGE_ERRORS as e:
            logger.warning("%s: triggered BootNotification failed: %s", self.charge_point_id, e)
            return
        self._adopt_boot(answer)

    async def send_heartbeat(self) -> None:
        rpc = self._rpc
        if rpc is None:
            return
        try:
            answer = await rpc.call("Heartbeat", {})
        except _MESSAGE_ERRORS as e:
            logger.warning("%s: Heartbeat failed: %s", self.charge_point_id, e)
            return
        self._adopt_time(answer["currentTime"])

    async def send_status(self, connector_id: int) -> None:
        """Send a connector's current status now (boot, TriggerMessage)."""
        station = self._station
        if station is None:
            return
        await self.statuses.send(self._rpc, connector_id, station.status_of(connector_id))

    async def send_now(self, action: str, payload: JsonObject) -> JsonObject | None:
        """Send a message that is not queued (status notifications, DataTransfer) now;
        None when offline or it failed (logged)."""
        rpc = self._rpc
        if rpc is None:
            logger.info("%s: %s not sent: not connected", self.charge_point_id, action)
            return None
        try:
            return await rpc.call(action, payload)
        except (*_MESSAGE_ERRORS, RpcClosed, ConnectionClosed) as e:
            logger.warning("%s: %s failed: %s", self.charge_point_id, action, e)
            return None

    async def _meter_values_now(self, payload: JsonObject) -> None:
        """Clock-aligned values outside a transaction: sent when online, else dropped."""
        if self._online:
            await self.send_now("MeterValues", payload)

    async def send_meter_values(self, connector_id: int) -> None:
        """MeterValues of a connector now, context Trigger (not queued)."""
        rpc, station = self._rpc, self._station
        if rpc is None or station is None:
            return
        values = self.metering.snapshot_values(station, connector_id, "Trigger")
        if not values:
            return
        payload: JsonObject = {
            "connectorId": connector_id,
            "meterValue": [{"timestamp": format_time(self._clock.now()), "sampledValue": values}],
        }
        handle = station.active_transaction(connector_id)
        if handle is not None:
            tx_id = handle.transaction_id or self.store.csms_tx_id(handle.local_id)
            if tx_id is not None:
                payload["transactionId"] = tx_id
        try:
            await rpc.call("MeterValues", payload)
        except _MESSAGE_ERRORS as e:
            logger.warning("connector %d: triggered MeterValues failed: %s", connector_id, e)

    # ------------------------------------------------------------------ connection

    async def run(self, station: StationPort) -> None:
        """Connect and keep the session up for ``station``, until cancelled or
        :meth:`shutdown`."""
        self._station = station
        async with asyncio.TaskGroup() as tg:
            metering = tg.create_task(self.metering.run(station), name="ocpp-metering")
            while not self._stopping:
                try:
                    await self._connect_once(station)
                except Exception:  # a bug must not end the link: log it, reconnect
                    logger.exception("%s: connection attempt failed", self.charge_point_id)
                if self._stopping:
                    break
                delay = self._backoff.next()
                logger.info("%s: reconnecting in %.2f s", self.charge_point_id, delay)
                await asyncio.sleep(delay)
            # shutdown(): the link ends by itself. (Waiting to be cancelled is not safe on
            # Python 3.11: a cancellation that meets a failing session's TaskGroup is lost.)
            metering.cancel()

    def _uri(self) -> str:
        return self._url.rstrip("/") + "/" + quote(self.charge_point_id, safe="")

    def _headers(self) -> dict[str, str]:
        key = self.keys.get("AuthorizationKey")
        if not key:
            return {}
        # Security profile 1: HTTP Basic, user = charge point id, password = the key.
        token = base64.b64encode(f"{self.charge_point_id}:{key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    async def _connect_once(self, station: StationPort) -> None:
        uri = self._uri()
        try:
            parsed = parse_uri(uri)
            host, port = self._endpoint(parsed.host, parsed.port)
            tls: dict[str, Any] = {}  # connect() refuses an ssl argument for ws://
            if parsed.secure and self._ssl is not None:
                tls["ssl"] = self._ssl
            async with connect(
                uri,
                subprotocols=[SUBPROTOCOL],
                additional_headers=self._headers(),
                open_timeout=self._call_timeout,
                ping_interval=None,  # our own pings follow WebSocketPingInterval (_keepalive)
                close_timeout=5,
                proxy=None,
                host=host,
                port=port,
                **tls,
            ) as ws:
                if ws.subprotocol != SUBPROTOCOL:
                    logger.error("%s: the central system refused ocpp1.6", self.charge_point_id)
                    return
                logger.info("%s: connected to %s (via %s:%d)", self.charge_point_id, uri,
                            host, port)
                self._ws = ws
                try:
                    await self._session(ws, station)
                finally:
                    self._ws = None
        except InvalidURI as e:
            logger.error("%s: bad central system URL: %s", self.charge_point_id, e)
        except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as e:
            logger.warning("%s: cannot connect to %s: %s", self.charge_point_id, uri, e)

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Close the connection politely, once no CALL of ours waits for its answer, and
        do not reconnect (the station is stopping or restarting)."""
        self._stopping = True
        ws, rpc = self._ws, self._rpc
        if ws is None:
            return
        logger.info("%s: closing the connection", self.charge_point_id)
        try:
            async with asyncio.timeout(timeout):
                if rpc is not None:
                    async with rpc.idle():
                        await ws.close(1001, "station stopping")
                else:
                    await ws.close(1001, "station stopping")
        except TimeoutError:
            logger.warning("%s: no clean close within %.0f s", self.charge_point_id, timeout)
            ws.transport.abort()

    def _want_reconnect(self) -> None:
        if self._ws is not None:
            self._reconnect_wanted = True

    async def reconnect_if_requested(self) -> None:
        """After ChangeConfiguration: a new AuthorizationKey takes effect by reconnecting."""
        ws = self._ws
        if not self._reconnect_wanted or ws is None:
            return
        self._reconnect_wanted = False
        logger.info("%s: new AuthorizationKey: reconnecting", self.charge_point_id)
        self._backoff.reset()
        rpc = self._rpc
        try:
            # Not in the middle of a CALL of ours: its answer would be lost.
            async with asyncio.timeout(self._call_timeout):
                if rpc is not None:
                    async with rpc.idle():
                        await ws.close(1000, "new AuthorizationKey")
                    return
        except TimeoutError:
            pass
        await ws.close(1000, "new AuthorizationKey")

    async def _keepalive(self, ws: ClientConnection) -> None:
        """WebSocketPingInterval: a ping every interval; no pong within it: the link is dead
        (a dropped network often sends no FIN), so drop the connection and reconnect."""
        while True:
            self._ping_wake.clear()
            interval = self.keys.get_int("WebSocketPingInterval")
            if interval <= 0:  # 0: no pings from our side
                await self._ping_wake.wait()
                continue
            try:
                async with asyncio.timeout(interval):
                    await self._ping_wake.wait()  # the interval changed: start over
                continue
            except TimeoutError:
                pass
            pong = await ws.ping()
            try:
                async with asyncio.timeout(interval):
                    await pong
            except TimeoutError:
                logger.warning("%s: no pong within %d s: link dead, reconnecting",
                               self.charge_point_id, interval)
                ws.transport.abort()
                raise RpcClosed("WebSocket ping unanswered") from None

    async def _session(self, ws: ClientConnection, station: StationPort) -> None:
        rpc = Rpc(ws, self.router, name=self.charge_point_id, timeout=self._call_timeout,
                  on_activity=self._touch)
        self._rpc = rpc
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(rpc.serve(tg))
                tg.create_task(self._keepalive(ws))
                tg.create_task(self._drive(rpc, tg, station))
        except* (ConnectionClosed, RpcClosed) as eg:
            logger.warning("%s: connection lost: %s", self.charge_point_id, eg.exceptions[0])
        except* Exception:
            logger.exception("%s: session failed", self.charge_point_id)
        finally:
            self._rpc = None
            self._online = False
            self.statuses.forget_pending()
            rpc.close()

    def _touch(self) -> None:
        self._last_activity = self._clock.monotonic()

    async def _drive(self, rpc: Rpc, tg: asyncio.TaskGroup, station: StationPort) -> None:
        await self._boot(rpc)
        self._online = True
        self._backoff.reset()
        self.statuses.forget_pending()  # superseded by the full status below
        for c in (0, *station.connector_ids()):
            await self.send_status(c)
        tg.create_task(self.transactions.deliver(rpc, station))
        tg.create_task(self.statuses.deliver(rpc))
        tg.create_task(self._heartbeats())

    # ------------------------------------------------------------------ boot

    def _boot_payload(self) -> JsonObject:
        ident = self.identity
        fields = {
            "chargePointVendor": ident.vendor,
            "chargePointModel": ident.model,
            "chargePointSerialNumber": ident.serial_number,
            "chargeBoxSerialNumber": ident.charge_box_serial_number,
            "firmwareVersion": ident.firmware_version or __version__,
            "iccid": ident.iccid,
            "imsi": ident.imsi,
            "meterType": ident.meter_type,
            "meterSerialNumber": ident.meter_serial_number,
        }
        return {k: v for k, v in fields.items() if v}  # empty ones are left out

    async def _boot(self, rpc: Rpc) -> None:
        """BootNotification until Accepted; only the central system's calls meanwhile."""
        while True:
            self._boot_now.clear()
            try:
                answer = await rpc.call("BootNotification", self._boot_payload())
            except TimeoutError:
                logger.warning("%s: no answer to BootNotification, again", self.charge_point_id)
                continue
            except (CallFailed, InvalidMessage) as e:
                logger.warning("%s: BootNotification failed: %s", self.charge_point_id, e)
                wait = self._boot_retry_s
            else:
                if self._adopt_boot(answer):
                    return
                wait = int(answer["interval"]) or self._boot_retry_s
                logger.info("%s: boot %s, retrying in %s s", self.charge_point_id,
                            answer["status"], wait)
            try:
                async with asyncio.timeout(wait):
                    await self._boot_now.wait()  # TriggerMessage(BootNotification)
            except TimeoutError:
                pass

    def _adopt_boot(self, answer: JsonObject) -> bool:
        """Apply a BootNotification.conf; True when Accepted."""
        self._adopt_time(answer["currentTime"])
        if answer["status"] != "Accepted":
            return False
        interval = int(answer["interval"])
        if interval > 0:
            self.keys.set_internal("HeartbeatInterval", str(interval))
        logger.info("%s: boot accepted, heartbeat every %s s", self.charge_point_id,
                    self.keys.get("HeartbeatInterval"))
        return True

    def _adopt_time(self, text: str) -> None:
        try:
            self._clock.set_time(parse_time(text))
        except ValueError:
            logger.warning("%s: unusable currentTime %r", self.charge_point_id, text)

    # ------------------------------------------------------------------ while online

    async def _heartbeats(self) -> None:
        """A Heartbeat after HeartbeatInterval seconds without any OCPP message."""
        while True:
            self._heartbeat_wake.clear()
            interval = self.keys.get_int("HeartbeatInterval")
            if interval <= 0:
                await self._heartbeat_wake.wait()
                continue
            idle = self._clock.monotonic() - self._last_activity
            if idle < interval:
                try:
                    async with asyncio.timeout(interval - idle):
                        await self._heartbeat_wake.wait()
                except TimeoutError:
                    pass
                continue
            await self.send_heartbeat()

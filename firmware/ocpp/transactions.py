"""The transaction message queue: StartTransaction, StopTransaction, transaction MeterValues.

Only these three are queued (OCPP 1.6 §4.7): they go into the store the moment the station
reports the event, with the event's timestamp, and are delivered strictly in order when the
link is up. Strict order is what makes the transactionId swap safe: a StopTransaction or
MeterValues of a transaction is only ever sent after its StartTransaction.conf arrived and
the central system's ``transactionId`` replaced our local id, so no message ever goes out
with a placeholder id.

A CALLERROR (the central system failed to process it) is retried up to
TransactionMessageAttempts times, waiting TransactionMessageRetryInterval × attempt number
in between, then dropped with a log line. A missing answer is not counted: the message is
sent again (the connection is probably gone and the session will be rebuilt).

Throughput (a long offline period leaves thousands of MeterValues): delivery reads the
queue ahead in batches and removes delivered MeterValues in one write per batch, so a
power cut can at worst send a few MeterValues twice, never lose one; StartTransaction
(with the transactionId swap) and StopTransaction are removed at once. MeterValues are
checked against the schema when they are recorded, not again each time they are sent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from firmware.log_context import redact_id_tag
from firmware.ocpp.keys import ConfigKeys
from firmware.ocpp.rpc import (
    CallFailed,
    InvalidMessage,
    JsonObject,
    Rpc,
    format_time,
    parse_time,
    schema_error,
)
from firmware.ports import IdTagInfo, TransactionFeedback, TxHandle
from firmware.storage.store import QueuedMessage, Store

logger = logging.getLogger(__name__)

START = "StartTransaction"
STOP = "StopTransaction"
METER = "MeterValues"
BATCH = 100  # messages read ahead, and delivered MeterValues removed in one write


def id_tag_info(data: JsonObject) -> IdTagInfo:
    """IdTagInfo from its JSON form (an unparsable expiryDate is left out)."""
    expiry: datetime | None = None
    if "expiryDate" in data:
        try:
            expiry = parse_time(str(data["expiryDate"]))
        except ValueError:
            logger.warning("idTagInfo with an invalid expiryDate %r", data["expiryDate"])
    return IdTagInfo(
        status=str(data["status"]), parent_id_tag=data.get("parentIdTag"), expiry_date=expiry
    )


class TransactionQueue:
    """Records transactions in the store and delivers their messages in order."""

    def __init__(self, store: Store, keys: ConfigKeys) -> None:
        self._store = store
        self._keys = keys
        self._handles: dict[int, TxHandle] = {}  # local id -> the station's handle
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ recording

    def start(
        self,
        connector_id: int,
        id_tag: str,
        meter_start_wh: float,
        timestamp: datetime,
        reservation_id: int | None = None,
        remote: bool = False,
    ) -> TxHandle:
        payload: JsonObject = {
            "connectorId": connector_id,
            "idTag": id_tag,
            "meterStart": round(meter_start_wh),  # integer Wh on the wire
            "timestamp": format_time(timestamp),
        }
        if reservation_id is not None:
            payload["reservationId"] = reservation_id
        with self._store.atomic():
            local_id = self._store.next_local_tx_id()
            self._store.record_start(
                local_id, connector_id, id_tag, meter_start_wh, timestamp, reservation_id, remote
            )
            self._store.queue_push(START, payload, local_id, timestamp)
        handle = TxHandle(local_id, connector_id, id_tag, meter_start_wh, timestamp, None, remote)
        self._handles[local_id] = handle
        logger.info("connector %d: transaction %d started (%s)", connector_id, local_id,
                    redact_id_tag(id_tag))
        self._wake.set()
        return handle

    def stop(
        self,
        handle: TxHandle,
        meter_stop_wh: float,
        timestamp: datetime,
        reason: str,
        id_tag: str | None,
        transaction_data: list[JsonObject],
    ) -> None:
        payload: JsonObject = {
            "meterStop": round(meter_stop_wh),
            "timestamp": format_time(timestamp),
            "reason": reason,
        }  # transactionId is filled in at delivery
        if id_tag is not None:
            payload["idTag"] = id_tag
        if transaction_data:
            payload["transactionData"] = transaction_data
        with self._store.atomic():
            self._store.record_stop(handle.local_id, meter_stop_wh, timestamp, reason, id_tag)
            self._store.queue_push(STOP, payload, handle.local_id, timestamp)
        # Recovered transactions (power loss) arrive here with a handle we have not seen.
        self._handles.setdefault(handle.local_id, handle)
        logger.info(
            "connector %d: transaction %d stopped (%s)",
            handle.connector_id, handle.local_id, reason,
        )
        self._wake.set()

    def meter_values(self, handle: TxHandle, meter_value: JsonObject) -> None:
        payload: JsonObject = {"connectorId": handle.connector_id, "meterValue": [meter_value]}
        # Checked once here (with the transactionId it will get), not at each delivery.
        problem = schema_error(METER, {**payload, "transactionId": 0})
        if problem is not None:
            logger.error("connector %d: MeterValues not recorded, it breaks the schema: %s",
                         handle.connector_id, problem.details)
            return
        created = parse_time(meter_value["timestamp"])
        self._store.queue_push(METER, payload, handle.local_id, created)
        self._wake.set()

    def handle(self, local_id: int) -> TxHandle | None:
        return self._handles.get(local_id)

    # ------------------------------------------------------------------ delivery

    async def deliver(self, rpc: Rpc, feedback: TransactionFeedback) -> None:
        """Send the queue in order over ``rpc`` until cancelled or the connection fails;
        the idTagInfo of the answers goes to ``feedback`` (the station)."""
        acks: list[int] = []  # delivered MeterValues not yet removed from the store
        cursor = 0  # the last message dealt with (delivered, or dropped)
        try:
            while True:
                batch = self._store.queue_batch(cursor, BATCH)
                if not batch:
                    self._flush(acks)
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                for msg in batch:
                    fresh = await self._deliver_one(rpc, msg, acks, feedback)
                    cursor = msg.seq
                    if not fresh:
                        break  # messages of the batch were dropped: read again
                self._flush(acks)
        finally:
            self._flush(acks)  # also when the connection went away under us

    def _flush(self, acks: list[int]) -> None:
        if acks:
            self._store.queue_ack_many(acks)
            acks.clear()

    def _tx_id(self, local_id: int) -> int | None:
        handle = self._handles.get(local_id)
        if handle is not None and handle.transaction_id is not None:
            return handle.transaction_id
        return self._store.csms_tx_id(local_id)

    async def _deliver_one(
        self, rpc: Rpc, msg: QueuedMessage, acks: list[int], feedback: TransactionFeedback
    ) -> bool:
        """Deliver one message (retrying as the keys say) or drop it. False when other
        queued messages were dropped with it (the caller's batch is stale)."""
        payload = dict(msg.payload)
        if msg.action != START:
            tx_id = self._tx_id(msg.local_tx_id) if msg.local_tx_id else None
            if tx_id is None:
                # Its StartTransaction was abandoned: no transactionId will ever come.
                logger.error(
                    "connector %d: %s of transaction %s dropped: it has no transactionId",
                    self._connector(msg), msg.action, msg.local_tx_id,
                )
                self._flush(acks)
                self._store.queue_ack(msg.seq)
                return True
            payload["transactionId"] = tx_id
        while True:
            try:
                result = await rpc.call(msg.action, payload, checked=msg.action == METER)
            except (CallFailed, InvalidMessage) as e:
                if await self._failed(msg, e, acks):
                    continue
                return msg.action != START
            except TimeoutError:
                logger.warning(
                    "connector %d: no answer to %s, sending it again",
                    self._connector(msg), msg.action,
                )
                continue
            self._delivered(msg, result, acks, feedback)
            return True

    def _connector(self, msg: QueuedMessage) -> int:
        if "connectorId" in msg.payload:
            return int(msg.payload["connectorId"])
        record = self._store.transaction(msg.local_tx_id) if msg.local_tx_id else None
        return record.connector_id if record is not None else 0

    async def _failed(self, msg: QueuedMessage, error: Exception, acks: list[int]) -> bool:
        """A CALLERROR: True to try again (after the retry interval), False when the
        message was dropped after its last attempt."""
        self._flush(acks)  # what was delivered stays delivered while we wait
        attempts = self._store.queue_attempt(msg.seq)
        limit = max(1, self._keys.get_int("TransactionMessageAttempts", 1))
        connector = self._connector(msg)
        if attempts < limit:
            delay = self._keys.get_int("TransactionMessageRetryInterval") * attempts
            logger.warning(
                "connector %d: %s failed (attempt %d of %d), retrying in %d s: %s",
                connector, msg.action, attempts, limit, delay, error,
            )
            await asyncio.sleep(delay)
            return True
        logger.error(
            "connector %d: %s dropped after %d attempts: %s", connector, msg.action, attempts, error
        )
        with self._store.atomic():
            self._flush(acks)
            self._store.queue_ack(msg.seq)
            if msg.action == START and msg.local_tx_id is not None:
                dropped = self._store.queue_drop_transaction(msg.local_tx_id)
                if dropped:
                    logger.error(
                        "connector %d: %d queued messages of transaction %d dropped with it",
                        connector, dropped, msg.local_tx_id,
                    )
            elif msg.action == STOP and msg.local_tx_id is not None:
                self._store.forget_if_done(msg.local_tx_id)
        return False

    def _delivered(
        self, msg: QueuedMessage, result: JsonObject, acks: list[int],
        feedback: TransactionFeedback,
    ) -> None:
        local_id = msg.local_tx_id
        if msg.action == START and local_id is not None:
            tx_id = int(result["transactionId"])
            # On disk before anything of this transaction goes out with that id.
            with self._store.atomic():
                self._flush(acks)
                self._store.set_csms_tx_id(local_id, tx_id)
                self._store.queue_ack(msg.seq)
            info = id_tag_info(result["idTagInfo"])
            logger.info(
                "connector %d: transaction %d is transactionId %d (%s)",
                self._connector(msg), local_id, tx_id, info.status,
            )
            handle = self._handles.get(local_id)
            if handle is not None:
                handle.transaction_id = tx_id
                try:
                    feedback.transaction_authorization(handle, info)
                except Exception:
                    logger.exception("connector %d: transaction_authorization failed",
                                     handle.connector_id)
        elif msg.action == STOP and local_id is not None:
            with self._store.atomic():
                self._flush(acks)
                self._store.queue_ack(msg.seq)
                self._store.forget_if_done(local_id)
            self._handles.pop(local_id, None)
            if "idTagInfo" in result and "idTag" in msg.payload:
                feedback.stop_authorization(str(msg.payload["idTag"]),
                                            id_tag_info(result["idTagInfo"]))
        elif msg.action == METER:
            acks.append(msg.seq)
            if len(acks) >= BATCH:
                self._flush(acks)
        else:
            self._flush(acks)
            self._store.queue_ack(msg.seq)

"""Persistent state on SQLite: configuration keys, transactions, the outbound queue.

Nothing the station has promised the central system may be lost by a power cut, so the
database runs in WAL mode with ``synchronous=FULL``: a committed transaction is on disk.
The calls are short (well under a millisecond with WAL) and run on the event loop thread;
never add a long query here.

Schema (version 1)::

    schema_version(version INTEGER)               -- one row: the applied migration
    config(name TEXT PRIMARY KEY, value TEXT)     -- OCPP configuration keys as set
    counters(name TEXT PRIMARY KEY, value INTEGER)  -- next_local_tx_id
    transactions(
        local_id INTEGER PRIMARY KEY,             -- ours, never reused
        connector_id, id_tag, meter_start_wh, started (ISO 8601),
        reservation_id, remote (0/1),
        csms_tx_id INTEGER NULL,                  -- transactionId of StartTransaction.conf
        stopped (0/1), meter_stop_wh, stop_time, stop_reason, stop_id_tag,
        last_meter_wh, last_meter_time)           -- latest persisted reading (power loss)
    outbound(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,    -- delivery order
        action TEXT, payload TEXT (JSON), local_tx_id INTEGER NULL,
        attempts INTEGER, created TEXT)

A transaction row is deleted once it is stopped and nothing in the outbound queue refers to
it any more. Migrations live in ``_MIGRATIONS``; add one entry per schema change.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from firmware.ports import TxHandle

logger = logging.getLogger(__name__)

_MIGRATIONS: list[str] = [
    # 1: configuration keys, transactions, outbound queue
    """
    CREATE TABLE config (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE transactions (
        local_id INTEGER PRIMARY KEY,
        connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL,
        meter_start_wh REAL NOT NULL,
        started TEXT NOT NULL,
        reservation_id INTEGER,
        remote INTEGER NOT NULL DEFAULT 0,
        csms_tx_id INTEGER,
        stopped INTEGER NOT NULL DEFAULT 0,
        meter_stop_wh REAL,
        stop_time TEXT,
        stop_reason TEXT,
        stop_id_tag TEXT,
        last_meter_wh REAL,
        last_meter_time TEXT
    );
    CREATE INDEX transactions_csms ON transactions (csms_tx_id);
    CREATE TABLE outbound (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        local_tx_id INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
    );
    CREATE INDEX outbound_tx ON outbound (local_tx_id);
    """,
]


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    """A transaction as persisted."""

    local_id: int
    connector_id: int
    id_tag: str
    meter_start_wh: float
    started: datetime
    reservation_id: int | None
    remote: bool
    csms_tx_id: int | None
    stopped: bool
    meter_stop_wh: float | None
    stop_time: datetime | None
    stop_reason: str | None
    last_meter_wh: float | None
    last_meter_time: datetime | None

    def handle(self) -> TxHandle:
        """A :class:`TxHandle` for this transaction (power-loss recovery on start)."""
        return TxHandle(
            local_id=self.local_id,
            connector_id=self.connector_id,
            id_tag=self.id_tag,
            meter_start_wh=self.meter_start_wh,
            started=self.started,
            transaction_id=self.csms_tx_id,
            remote=self.remote,
        )


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One transaction-related message waiting for delivery, oldest first."""

    seq: int
    action: str
    payload: dict[str, Any]
    local_tx_id: int | None
    attempts: int
    created: datetime


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


class Store:
    """The station's persistent state. ``Store(None)`` keeps it in memory (tests)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (see _write).
        self._db = sqlite3.connect(
            str(path) if path is not None else ":memory:", isolation_level=None
        )
        self._db.row_factory = sqlite3.Row
        if path is not None:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._depth = 0
        self._migrate()

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group several writes into one transaction (nests: the outermost commits)."""
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0])

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        current = int(row[0]) if row is not None else 0
        if row is None:
            self._db.execute("INSERT INTO schema_version (version) VALUES (0)")
        for version, script in enumerate(_MIGRATIONS[current:], start=current + 1):
            with self.atomic():
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute("UPDATE schema_version SET version = ?", (version,))
            logger.info("store %s: schema migrated to version %d", self.path, version)

    # ------------------------------------------------------------------ configuration keys

    def get_key(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM config WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row is not None else None

    def set_key(self, name: str, value: str) -> None:
        with self.atomic():
            self._db.execute(
                "INSERT INTO config (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def all_keys(self) -> dict[str, str]:
        return {r["name"]: r["value"] for r in self._db.execute("SELECT name, value FROM config")}

    # ------------------------------------------------------------------ transactions

    def next_local_tx_id(self) -> int:
        """A transaction id of our own, never handed out twice (survives restarts)."""
        with self.atomic():
            self._db.execute(
                "INSERT INTO counters (name, value) VALUES ('local_tx_id', 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1"
            )
            row = self._db.execute(
                "SELECT value FROM counters WHERE name = 'local_tx_id'"
            ).fetchone()
        return int(row[0])

    def record_start(
        self,
        local_id: int,
        connector_id: int,
        id_tag: str,
        meter_start_wh: float,
        started: datetime,
        reservation_id: int | None = None,
        remote: bool = False,
    ) -> None:
        with self.atomic():
            self._db.execute(
                "INSERT INTO transactions (local_id, connector_id, id_tag, meter_start_wh, "
                "started, reservation_id, remote, last_meter_wh, last_meter_time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    local_id,
                    connector_id,
                    id_tag,
                    meter_start_wh,
                    started.isoformat(),
                    reservation_id,
                    int(remote),
                    meter_start_wh,
                    started.isoformat(),
                ),
            )

    def record_stop(
        self,
        local_id: int,
        meter_stop_wh: float,
        stopped: datetime,
        reason: str,
        id_tag: str | None = None,
    ) -> None:
        with self.atomic():
            self._db.execute(
                "UPDATE transactions SET stopped = 1, meter_stop_wh = ?, stop_time = ?, "
                "stop_reason = ?, stop_id_tag = ?, last_meter_wh = ?, last_meter_time = ? "
                "WHERE local_id = ?",
                (
                    meter_stop_wh,
                    stopped.isoformat(),
                    reason,
                    id_tag,
                    meter_stop_wh,
                    stopped.isoformat(),
                    local_id,
                ),
            )

    def persist_meter(self, local_id: int, wh: float, t: datetime) -> None:
        """Remember the latest meter reading of a running transaction (for PowerLoss)."""
        with self.atomic():
            self._db.execute(
                "UPDATE transactions SET last_meter_wh = ?, last_meter_time = ? "
                "WHERE local_id = ? AND stopped = 0",
                (wh, t.isoformat(), local_id),
            )

    def set_csms_tx_id(self, local_id: int, transaction_id: int) -> None:
        with self.atomic():
            self._db.execute(
                "UPDATE transactions SET csms_tx_id = ? WHERE local_id = ?",
                (transaction_id, local_id),
            )

    def csms_tx_id(self, local_id: int) -> int | None:
        row = self._db.execute(
            "SELECT csms_tx_id FROM transactions WHERE local_id = ?", (local_id,)
        ).fetchone()
        return int(row[0]) if row is not None and row[0] is not None else None

    def local_id_for(self, transaction_id: int) -> int | None:
        """The local id of the (not yet forgotten) transaction with that CSMS id."""
        row = self._db.execute(
            "SELECT local_id FROM transactions WHERE csms_tx_id = ? ORDER BY local_id DESC",
            (transaction_id,),
        ).fetchone()
        return int(row[0]) if row is not None else None

    def transaction(self, local_id: int) -> TransactionRecord | None:
        row = self._db.execute(
            "SELECT * FROM transactions WHERE local_id = ?", (local_id,)
        ).fetchone()
        return self._record(row) if row is not None else None

    def unfinished_transactions(self) -> list[TransactionRecord]:
        """Transactions started but never stopped: the station stops them on start-up with
        reason PowerLoss and the last persisted meter reading."""
        rows = self._db.execute(
            "SELECT * FROM transactions WHERE stopped = 0 ORDER BY local_id"
        ).fetchall()
        return [self._record(r) for r in rows]

    def forget_if_done(self, local_id: int) -> None:
        """Delete a stopped transaction once no queued message refers to it."""
        with self.atomic():
            self._db.execute(
                "DELETE FROM transactions WHERE local_id = ? AND stopped = 1 AND NOT EXISTS "
                "(SELECT 1 FROM outbound WHERE local_tx_id = ?)",
                (local_id, local_id),
            )

    @staticmethod
    def _record(row: sqlite3.Row) -> TransactionRecord:
        started = _dt(row["started"])
        assert started is not None
        return TransactionRecord(
            local_id=int(row["local_id"]),
            connector_id=int(row["connector_id"]),
            id_tag=str(row["id_tag"]),
            meter_start_wh=float(row["meter_start_wh"]),
            started=started,
            reservation_id=row["reservation_id"],
            remote=bool(row["remote"]),
            csms_tx_id=row["csms_tx_id"],
            stopped=bool(row["stopped"]),
            meter_stop_wh=row["meter_stop_wh"],
            stop_time=_dt(row["stop_time"]),
            stop_reason=row["stop_reason"],
            last_meter_wh=row["last_meter_wh"],
            last_meter_time=_dt(row["last_meter_time"]),
        )

    # ------------------------------------------------------------------ outbound queue

    def queue_push(
        self,
        action: str,
        payload: dict[str, Any],
        local_tx_id: int | None,
        created: datetime,
    ) -> int:
        """Append a message; returns its sequence number (delivery order)."""
        with self.atomic():
            cur = self._db.execute(
                "INSERT INTO outbound (action, payload, local_tx_id, created) VALUES (?, ?, ?, ?)",
                (action, json.dumps(payload, separators=(",", ":")), local_tx_id,
                 created.isoformat()),
            )
        assert cur.lastrowid is not None
        return int(cur.lastrowid)

    def queue_peek(self) -> QueuedMessage | None:
        """The oldest message, or None when the queue is empty."""
        row = self._db.execute("SELECT * FROM outbound ORDER BY seq LIMIT 1").fetchone()
        return self._message(row) if row is not None else None

    def queue_all(self) -> list[QueuedMessage]:
        return [self._message(r) for r in self._db.execute("SELECT * FROM outbound ORDER BY seq")]

    def queue_ack(self, seq: int) -> None:
        """Remove a delivered (or abandoned) message."""
        with self.atomic():
            self._db.execute("DELETE FROM outbound WHERE seq = ?", (seq,))

    def queue_attempt(self, seq: int) -> int:
        """Count one failed attempt; returns the number of attempts so far."""
        with self.atomic():
            self._db.execute("UPDATE outbound SET attempts = attempts + 1 WHERE seq = ?", (seq,))
            row = self._db.execute("SELECT attempts FROM outbound WHERE seq = ?", (seq,)).fetchone()
        return int(row[0]) if row is not None else 0

    def queue_drop_transaction(self, local_tx_id: int) -> int:
        """Drop every queued message of a transaction; returns how many."""
        with self.atomic():
            cur = self._db.execute("DELETE FROM outbound WHERE local_tx_id = ?", (local_tx_id,))
        return cur.rowcount

    def queue_len(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM outbound").fetchone()[0])

    @staticmethod
    def _message(row: sqlite3.Row) -> QueuedMessage:
        created = _dt(row["created"])
        assert created is not None
        return QueuedMessage(
            seq=int(row["seq"]),
            action=str(row["action"]),
            payload=json.loads(row["payload"]),
            local_tx_id=row["local_tx_id"],
            attempts=int(row["attempts"]),
            created=created,
        )

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

Schema version 3 adds the fault event log (``firmware.safety.fault_events``)::

    fault_events(seq PRIMARY KEY, time, connector_id, code, error_code, info,
                 event)                           -- event: "raised" | "cleared"

Schema version 2 adds the authorization and station state::

    local_list(id_tag PRIMARY KEY, status, parent_id_tag, expiry)  -- SendLocalList
    auth_cache(id_tag PRIMARY KEY, status, parent_id_tag, expiry, used)  -- idTagInfo seen,
                                                  -- used: recency for the eviction
    whitelist(id_tag PRIMARY KEY, added)          -- the NFC whitelist of the web interface
    availability(connector_id PRIMARY KEY, operative)  -- ChangeAvailability, 0 = station
    reservations(reservation_id PRIMARY KEY, connector_id, id_tag, parent_id_tag, expiry)

(the local list's version is the counter ``local_list_version``; idTags are CiString20:
case-insensitive keys).

A transaction row is deleted once it is stopped and nothing in the outbound queue refers to
it any more. Migrations live in ``_MIGRATIONS``; add one entry per schema change.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
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
    # 2: local authorization list, authorization cache, whitelist, availability, reservations
    """
    CREATE TABLE local_list (
        id_tag TEXT PRIMARY KEY COLLATE NOCASE, status TEXT NOT NULL, parent_id_tag TEXT,
        expiry TEXT
    );
    CREATE TABLE auth_cache (
        id_tag TEXT PRIMARY KEY COLLATE NOCASE, status TEXT NOT NULL, parent_id_tag TEXT,
        expiry TEXT, used INTEGER NOT NULL
    );
    CREATE TABLE whitelist (id_tag TEXT PRIMARY KEY COLLATE NOCASE, added TEXT NOT NULL);
    CREATE TABLE availability (connector_id INTEGER PRIMARY KEY, operative INTEGER NOT NULL);
    CREATE TABLE reservations (
        reservation_id INTEGER PRIMARY KEY, connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL, parent_id_tag TEXT, expiry TEXT NOT NULL
    );
    """,
    # 3: the fault event log (firmware.safety.fault_events): every raise and clear
    """
    CREATE TABLE fault_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL,
        connector_id INTEGER NOT NULL, code TEXT NOT NULL, error_code TEXT NOT NULL,
        info TEXT NOT NULL, event TEXT NOT NULL
    );
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
class AuthRecord:
    """An idTag's authorization as stored (local list or cache): the IdTagInfo fields."""

    id_tag: str
    status: str
    parent_id_tag: str | None = None
    expiry: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    """A reservation accepted by ReserveNow (connector 0: the station as a whole)."""

    reservation_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry: datetime


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


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _auth(row: sqlite3.Row) -> AuthRecord:
    return AuthRecord(str(row["id_tag"]), str(row["status"]), row["parent_id_tag"],
                      _dt(row["expiry"]))


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

    def counter(self, name: str) -> int:
        """A persistent counter (0 until first added to), e.g. a connector's plug cycles."""
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row is not None else 0

    def add_counter(self, name: str, delta: int = 1) -> int:
        """Add to a persistent counter and return the new value."""
        with self.atomic():
            value = self.counter(name) + delta
            self._db.execute(
                "INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value)
            )
        return value

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

    def queue_batch(self, after_seq: int, limit: int) -> list[QueuedMessage]:
        """Up to ``limit`` messages after ``after_seq``, oldest first (delivery reads
        ahead instead of asking for the oldest message each time)."""
        rows = self._db.execute(
            "SELECT * FROM outbound WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit)
        ).fetchall()
        return [self._message(r) for r in rows]

    def queue_ack_many(self, seqs: Iterable[int]) -> None:
        """Remove delivered messages in one transaction: one disk sync for all of them."""
        with self.atomic():
            self._db.executemany("DELETE FROM outbound WHERE seq = ?", [(s,) for s in seqs])

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

    # ------------------------------------------------------------------ local list (v2)

    def local_list_version(self) -> int:
        row = self._db.execute(
            "SELECT value FROM counters WHERE name = 'local_list_version'"
        ).fetchone()
        return int(row[0]) if row is not None else 0

    def local_list_get(self, id_tag: str) -> AuthRecord | None:
        row = self._db.execute("SELECT * FROM local_list WHERE id_tag = ?", (id_tag,)).fetchone()
        return _auth(row) if row is not None else None

    def local_list_all(self) -> list[AuthRecord]:
        return [_auth(r) for r in self._db.execute("SELECT * FROM local_list ORDER BY id_tag")]

    def local_list_size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM local_list").fetchone()[0])

    def local_list_update(
        self,
        version: int,
        upserts: Iterable[AuthRecord],
        removals: Iterable[str] = (),
        *,
        full: bool = False,
    ) -> None:
        """Apply a SendLocalList in one transaction (``full``: replace the whole list)."""
        with self.atomic():
            if full:
                self._db.execute("DELETE FROM local_list")
            for id_tag in removals:
                self._db.execute("DELETE FROM local_list WHERE id_tag = ?", (id_tag,))
            for r in upserts:
                self._db.execute(
                    "INSERT OR REPLACE INTO local_list (id_tag, status, parent_id_tag, expiry) "
                    "VALUES (?, ?, ?, ?)",
                    (r.id_tag, r.status, r.parent_id_tag, _iso(r.expiry)),
                )
            self._db.execute(
                "INSERT OR REPLACE INTO counters (name, value) VALUES ('local_list_version', ?)",
                (version,),
            )

    # ------------------------------------------------------------------ authorization cache

    def cache_get(self, id_tag: str) -> AuthRecord | None:
        row = self._db.execute("SELECT * FROM auth_cache WHERE id_tag = ?", (id_tag,)).fetchone()
        return _auth(row) if row is not None else None

    def cache_put(self, record: AuthRecord, limit: int) -> None:
        """Store an idTagInfo; beyond ``limit`` entries the least recently used go."""
        with self.atomic():
            self._db.execute(
                "INSERT OR REPLACE INTO auth_cache (id_tag, status, parent_id_tag, expiry, used) "
                "VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(used), 0) + 1 FROM auth_cache))",
                (record.id_tag, record.status, record.parent_id_tag, _iso(record.expiry)),
            )
            self._db.execute(
                "DELETE FROM auth_cache WHERE id_tag NOT IN "
                "(SELECT id_tag FROM auth_cache ORDER BY used DESC LIMIT ?)",
                (max(0, limit),),
            )

    def cache_clear(self) -> None:
        with self.atomic():
            self._db.execute("DELETE FROM auth_cache")

    def cache_size(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM auth_cache").fetchone()[0])

    # ------------------------------------------------------------------ NFC whitelist

    def whitelist_add(self, id_tag: str, added: datetime) -> bool:
        """Add an idTag; False when it was already there."""
        with self.atomic():
            cur = self._db.execute(
                "INSERT OR IGNORE INTO whitelist (id_tag, added) VALUES (?, ?)",
                (id_tag, added.isoformat()),
            )
        return cur.rowcount > 0

    def whitelist_remove(self, id_tag: str) -> bool:
        with self.atomic():
            cur = self._db.execute("DELETE FROM whitelist WHERE id_tag = ?", (id_tag,))
        return cur.rowcount > 0

    def whitelist_clear(self) -> int:
        with self.atomic():
            cur = self._db.execute("DELETE FROM whitelist")
        return cur.rowcount

    def whitelist(self) -> list[str]:
        return [str(r[0]) for r in self._db.execute("SELECT id_tag FROM whitelist ORDER BY added")]

    def whitelisted(self, id_tag: str) -> bool:
        row = self._db.execute("SELECT 1 FROM whitelist WHERE id_tag = ?", (id_tag,)).fetchone()
        return row is not None

    # ------------------------------------------------------------------ availability

    def set_availability(self, connector_id: int, operative: bool) -> None:
        with self.atomic():
            self._db.execute(
                "INSERT OR REPLACE INTO availability (connector_id, operative) VALUES (?, ?)",
                (connector_id, int(operative)),
            )

    def availability(self) -> dict[int, bool]:
        """Persisted ChangeAvailability per connector (absent: operative)."""
        rows = self._db.execute("SELECT connector_id, operative FROM availability")
        return {int(r[0]): bool(r[1]) for r in rows}

    # ------------------------------------------------------------------ reservations

    def put_reservation(self, r: ReservationRecord) -> None:
        with self.atomic():
            self._db.execute(
                "INSERT OR REPLACE INTO reservations "
                "(reservation_id, connector_id, id_tag, parent_id_tag, expiry) "
                "VALUES (?, ?, ?, ?, ?)",
                (r.reservation_id, r.connector_id, r.id_tag, r.parent_id_tag,
                 r.expiry.isoformat()),
            )

    def delete_reservation(self, reservation_id: int) -> bool:
        with self.atomic():
            cur = self._db.execute(
                "DELETE FROM reservations WHERE reservation_id = ?", (reservation_id,)
            )
        return cur.rowcount > 0

    def reservations(self) -> list[ReservationRecord]:
        rows = self._db.execute("SELECT * FROM reservations ORDER BY reservation_id")
        return [
            ReservationRecord(
                int(r["reservation_id"]), int(r["connector_id"]), str(r["id_tag"]),
                r["parent_id_tag"], datetime.fromisoformat(r["expiry"]),
            )
            for r in rows
        ]

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

    # ------------------------------------------------------------------ fault events

    def event_add(self, time: datetime, connector_id: int, code: str, error_code: str,
                  info: str, event: str, keep: int = 10_000) -> None:
        """Append a fault event; only the newest ``keep`` events are kept."""
        with self.atomic():
            self._db.execute(
                "INSERT INTO fault_events (time, connector_id, code, error_code, info, event)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (time.isoformat(), connector_id, code, error_code, info, event),
            )
            self._db.execute(
                "DELETE FROM fault_events WHERE seq <= (SELECT MAX(seq) FROM fault_events) - ?",
                (keep,),
            )

    def events(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest ``limit`` fault events, newest first."""
        rows = self._db.execute(
            "SELECT * FROM fault_events ORDER BY seq DESC LIMIT ?", (limit,)
        ).fetchall()
        return [dict(r) for r in rows]

"""The SQLite store: keys, transactions, the outbound queue, and what survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.storage.store import _MIGRATIONS, Store

T0 = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)


def test_fresh_store_is_migrated_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"
    store = Store(path)
    assert store.schema_version == len(_MIGRATIONS)
    store.set_key("HeartbeatInterval", "60")
    assert (tmp_path / "sub" / "state.db-wal").exists()  # WAL journal
    store.close()
    again = Store(path)
    assert again.schema_version == len(_MIGRATIONS)
    assert again.get_key("HeartbeatInterval") == "60"
    again.close()


def test_config_keys() -> None:
    store = Store(None)
    assert store.get_key("X") is None
    store.set_key("X", "1")
    store.set_key("X", "2")
    store.set_key("Y", "true")
    assert store.get_key("X") == "2"
    assert store.all_keys() == {"X": "2", "Y": "true"}


def test_local_transaction_ids_are_never_reused(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    first = [store.next_local_tx_id() for _ in range(3)]
    store.close()
    store = Store(tmp_path / "state.db")
    assert first == [1, 2, 3]
    assert store.next_local_tx_id() == 4
    store.close()


def test_transaction_lifecycle_and_power_loss_view(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    a, b = store.next_local_tx_id(), store.next_local_tx_id()
    store.record_start(a, 1, "TAG-A", 100.0, T0, reservation_id=7, remote=True)
    store.record_start(b, 2, "TAG-B", 200.0, T0)
    store.persist_meter(a, 150.5, T0 + timedelta(minutes=1))
    store.set_csms_tx_id(a, 4711)
    store.record_stop(b, 260.0, T0 + timedelta(minutes=2), "Local", "TAG-B")
    store.persist_meter(b, 999.0, T0 + timedelta(minutes=3))  # stopped: ignored
    store.close()

    store = Store(tmp_path / "state.db")  # after a power cut
    (open_tx,) = store.unfinished_transactions()
    assert open_tx.local_id == a and open_tx.connector_id == 1 and open_tx.remote
    assert open_tx.reservation_id == 7 and open_tx.csms_tx_id == 4711
    assert open_tx.last_meter_wh == 150.5 and open_tx.last_meter_time == T0 + timedelta(minutes=1)
    handle = open_tx.handle()
    assert (handle.local_id, handle.transaction_id, handle.meter_start_wh) == (a, 4711, 100.0)
    assert handle.started == T0
    stopped = store.transaction(b)
    assert stopped is not None and stopped.stopped and stopped.meter_stop_wh == 260.0
    assert stopped.stop_reason == "Local" and stopped.last_meter_wh == 260.0
    assert store.local_id_for(4711) == a and store.local_id_for(1) is None
    assert store.csms_tx_id(b) is None
    store.close()


def test_queue_order_attempts_and_ack(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    s1 = store.queue_push("StartTransaction", {"connectorId": 1}, 1, T0)
    s2 = store.queue_push("MeterValues", {"connectorId": 1, "meterValue": []}, 1, T0)
    s3 = store.queue_push("StopTransaction", {"meterStop": 5}, 1, T0)
    assert s1 < s2 < s3
    assert store.queue_attempt(s1) == 1 and store.queue_attempt(s1) == 2
    store.close()
    store = Store(tmp_path / "state.db")  # survives a restart with its attempts
    head = store.queue_peek()
    assert head is not None
    assert (head.seq, head.action, head.attempts) == (s1, "StartTransaction", 2)
    assert head.payload == {"connectorId": 1} and head.created == T0 and head.local_tx_id == 1
    store.queue_ack(s1)
    assert [m.action for m in store.queue_all()] == ["MeterValues", "StopTransaction"]
    assert store.queue_len() == 2
    store.close()


def test_dropping_a_transaction_and_forgetting_it() -> None:
    store = Store(None)
    store.record_start(1, 1, "T", 0.0, T0)
    store.queue_push("StartTransaction", {}, 1, T0)
    store.queue_push("StartTransaction", {}, 2, T0)
    store.record_stop(1, 10.0, T0, "Local")
    store.forget_if_done(1)
    assert store.transaction(1) is not None  # still referred to by the queue
    assert store.queue_drop_transaction(1) == 1
    store.forget_if_done(1)
    assert store.transaction(1) is None
    assert [m.local_tx_id for m in store.queue_all()] == [2]


def test_atomic_rolls_back_everything_on_error() -> None:
    store = Store(None)
    with pytest.raises(RuntimeError), store.atomic():
        local_id = store.next_local_tx_id()
        store.record_start(local_id, 1, "T", 0.0, T0)
        store.queue_push("StartTransaction", {}, local_id, T0)
        raise RuntimeError("power cut halfway")
    assert store.unfinished_transactions() == []
    assert store.queue_len() == 0
    assert store.next_local_tx_id() == 1  # the counter rolled back too


@given(st.lists(st.booleans(), max_size=40))
def test_queue_is_first_in_first_out(ops: list[bool]) -> None:
    """Any mix of pushes (True) and acks of the head (False) delivers in push order."""
    store = Store(None)
    pushed: list[int] = []
    delivered: list[int] = []
    for n, push in enumerate(ops):
        if push:
            store.queue_push("MeterValues", {"n": n}, None, T0)
            pushed.append(n)
        elif (head := store.queue_peek()) is not None:
            delivered.append(head.payload["n"])
            store.queue_ack(head.seq)
    while (head := store.queue_peek()) is not None:
        delivered.append(head.payload["n"])
        store.queue_ack(head.seq)
    assert delivered == pushed
    store.close()

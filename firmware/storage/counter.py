"""A named counter in the store that survives restarts (a connector's plug cycles)."""

from __future__ import annotations

from firmware.storage.store import Store


class StoredCounter:
    """The store's counter ``name``, read once and kept in step with every increment
    (so reading it costs no query: the station page reads plug cycles every second)."""

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self._name = name
        self._value = store.counter(name)

    @property
    def value(self) -> int:
        return self._value

    def increment(self) -> int:
        """Add one, persistently (a synchronous commit); returns the new value."""
        self._value = self._store.add_counter(self._name)
        return self._value

"""The garbage collector's policy: the start-up heap is frozen once the station runs, and
settling again (a station replaced in the same process) frees what the old one left."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from firmware.app.gc_policy import release_heap, settle_heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    """Leave the test process's collector as it was."""
    try:
        yield
    finally:
        release_heap()


def test_settling_freezes_the_heap(thawed: None) -> None:
    settle_heap()
    assert gc.get_freeze_count() > 0
    release_heap()
    assert gc.get_freeze_count() == 0


def test_settling_again_frees_the_garbage_of_the_last_station(thawed: None) -> None:
    # A reference cycle (as a station's objects form), alive when the heap is settled ...
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    settle_heap()
    # ... and dropped later (the station was replaced): only a collection frees a cycle,
    # and frozen objects are never collected unless they are thawed first.
    del a, b
    gc.collect()
    assert gone() is not None  # frozen: kept
    settle_heap()
    assert gone() is None

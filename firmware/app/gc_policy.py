"""The garbage collector's policy in a running station.

A full (generation 2) collection walks every object the interpreter tracks, with the
event loop stopped. With the OCPP schemas, the fault catalogue and the libraries loaded
that is 40–60 ms on this class of machine (measured: ``tests/e2e/test_no_blocking.py``) —
more than half the 100 ms IEC 61851 gives for opening the contactors once the EV leaves
state C. Nearly all of those objects are made at start-up and live as long as the
process, so once the station runs they go to the permanent generation
(:func:`gc.freeze`), which collections do not scan; what the station allocates while
running is small and collects in a few milliseconds. Reference counting still frees
everything as usual: only cycles among frozen objects are kept.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Collect what start-up left behind, then freeze the rest (call once running).

    Idempotent: what an earlier call froze is thawed first, so a station replaced in the
    same process (the simulator's in-process Reset) does not stay behind as frozen
    garbage."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info("heap settled: %d objects frozen", gc.get_freeze_count())


def release_heap() -> None:
    """Undo :func:`settle_heap` (a station in a shared process stopping: its objects
    become collectable again)."""
    gc.unfreeze()

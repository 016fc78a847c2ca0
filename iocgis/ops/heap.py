"""The garbage collector's view of a long-running process (the app's workers, the MQTT
consumer).

CPython's full collection walks every tracked object. After start-up a worker holds some
300,000 of them (pygeoapi, the registry, the OGC configurations) that live as long as the
process; a live batch of 5,000 readings makes enough new objects that every few batches a
full collection walks them all again: measured in ``bench/live_bench.py``, two full collections
took 1.7 s of the server while it ingested 80,000 readings (load ~10 on 2 cores). Frozen once
start-up is done, they are left out of every collection (``gc.freeze``); what is made later is
collected as before.
"""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default 700): a batch's readings, alive
# until it is written, are walked by every young collection; fewer, larger ones walk them less
# often (measured with the benchmark: see the README's live section).
YOUNG = 10_000


def freeze_startup_heap() -> int:
    """Collect what start-up left behind, then freeze the rest; returns how many objects are
    frozen (the process's permanent generation)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, *gc.get_threshold()[1:])
    return gc.get_freeze_count()

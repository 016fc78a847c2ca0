"""What every reader yields: batches of features with ordinal ids, geometries and columns."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
from pyproj import CRS

# Features per batch: small enough that the three batches in flight (read ahead, being
# cleaned, being sent) stay a few MB each; large enough that the per-batch Python is noise.
BATCH_SIZE = 5_000


@dataclass
class FeatureBatch:
    """A slice of the source: ``fids`` are 1-based positions in the file (rows for tables)."""

    fids: np.ndarray  # int64
    geoms: np.ndarray  # shapely geometries (object array), None where unreadable
    columns: dict[str, pa.Array]  # source field name -> values
    # What the reader found: (rule, severity, message, row mask, field, example); rows of
    # "reject" problems are dropped before any other rule looks at them.
    problems: list[tuple[str, str, str, np.ndarray, str | None, str | None]] = field(
        default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (rule, message) fixes made
    # the geometries' WKB as read (vector files): written again as it is where the rules
    # left a geometry unchanged, instead of encoding it once more
    wkb: pa.Array | None = None

    def __len__(self) -> int:
        return len(self.fids)


@dataclass
class SourceInfo:
    format: str
    crs: CRS | None  # None: the file does not say
    encoding: str
    fields: list[str]
    count: int | None  # features, when cheap to know (for progress)
    geometry_type: str | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)  # (rule, message) to report
    feature_word: str = "feature"  # "row" for spreadsheets and CSV


class Reader(Protocol):
    info: SourceInfo

    def batches(self, size: int = BATCH_SIZE) -> Iterator[FeatureBatch]: ...


class _End:
    """What the reading thread hands over last: nothing more, or the error that stopped it."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(batches: Iterator[FeatureBatch], depth: int = 1) -> Iterator[FeatureBatch]:
    """The reader's batches, read on a thread of its own while the caller works on the
    previous one (GDAL's reading and Arrow's conversions run outside the GIL). At most
    ``depth`` batches wait; the reader's error is raised here, in order; closing the
    generator (the caller stopped early or failed) stops the reading thread."""
    handed: queue.Queue[FeatureBatch | _End] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand(item: FeatureBatch | _End) -> bool:
        """Put ``item`` in the queue unless the caller stopped; False when it did."""
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        end = _End()
        try:
            for batch in batches:
                if not hand(batch):
                    return
        except BaseException as exc:  # re-raised in the caller's thread
            end = _End(exc)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # the reader's files, closed on the thread that opened them
        hand(end)

    reader = threading.Thread(target=read, name="iocgis-read", daemon=True)
    reader.start()
    try:
        while not isinstance(item := handed.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stop.set()
        reader.join()

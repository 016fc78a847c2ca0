"""What every reader yields: batches of features with ordinal ids, geometries and columns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
from pyproj import CRS

BATCH_SIZE = 20_000


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

"""What the caller asks of one import: the parameter object every entry point shares."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

from iocgis.errors import InvalidInput

Mode = Literal["replace", "append", "upsert"]
MODES: tuple[str, ...] = ("replace", "append", "upsert")
# registry: the layer's group decides (approval: true -> pending); submit: stop at pending in
# any case; auto: go live at once (the demo loader, tests, the operator's --auto-approve).
Approval = Literal["registry", "submit", "auto"]
APPROVALS: tuple[str, ...] = ("registry", "submit", "auto")
LEGACY_ENCODINGS = ("tcvn3", "vni")


@dataclass(frozen=True)
class ImportOptions:
    """Options of one import; the CLI, the HTTP upload and the demo loader all build one."""

    crs: str | None = None  # overrides the file's CRS, e.g. "EPSG:5899"
    encoding: str | None = None  # utf-8 (default), cp1258, tcvn3, vni or any Python codec
    mapping: str | Path | dict[str, Any] | None = None  # mapping YAML file (or its parsed body)
    mode: Mode = "replace"
    dry_run: bool = False
    user: str = "cli"
    source_date: date | None = None
    # Share of features that may be rejected before the whole import is aborted (0 = none).
    max_rejected: float = 0.0
    swap_xy: bool = False  # the file has latitude/northing first
    source_layer: str | None = None  # which layer of a multi-layer file (GeoPackage, KML)
    keep_versions: int = 3  # previous versions kept for rollback
    # The communes of an officer limited to some (None: every commune). Rows must be of these
    # communes; ``replace`` then replaces only their rows and keeps every other commune's.
    communes: tuple[str, ...] | None = None
    # Whether the import stops at *pending* until a data steward approves it (review.py).
    approval: Approval = "registry"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"unknown import mode {self.mode!r}", where="mode",
                               hint="use replace, append or upsert")
        if not 0.0 <= self.max_rejected <= 1.0:
            raise InvalidInput(f"max_rejected {self.max_rejected} is not a share between 0 and 1",
                               where="max_rejected", hint="e.g. 0.05 to accept up to 5 % rejects")
        if self.approval not in APPROVALS:
            raise InvalidInput(f"unknown approval {self.approval!r}", where="approval",
                               hint="use registry, submit or auto")
        if self.keep_versions < 0:
            raise InvalidInput("keep_versions must be 0 or more", where="keep_versions")

    def with_(self, **changes: Any) -> ImportOptions:
        return replace(self, **changes)

"""The quality report of one import: counts, per-rule findings with feature ids, provenance.

Findings are aggregated per (rule, field): a count and the first few feature ids, so the
report stays small however many features break a rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from typing import Any, Literal

Severity = Literal["info", "fix", "warn", "reject", "abort"]
# The dimensions of data quality officers know: đúng (correct), đủ (complete),
# sạch (clean), sống (live).
Dimension = Literal["đúng", "đủ", "sạch", "sống"]
SAMPLE_IDS = 20


@dataclass
class Finding:
    rule: str
    severity: Severity
    dimension: Dimension
    message: str
    field: str | None = None
    count: int = 0
    feature_ids: list[int] = dc_field(default_factory=list)
    example: str | None = None

    def add(self, ids: Iterable[int], count: int | None = None) -> None:
        ids = list(ids)
        self.count += len(ids) if count is None else count
        room = SAMPLE_IDS - len(self.feature_ids)
        if room > 0:
            self.feature_ids.extend(int(i) for i in ids[:room])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportReport:
    """What one import did; stored in meta.imports.report and printed by ``--json``."""

    import_id: int | None
    layer_id: str
    mode: str
    dry_run: bool
    source_path: str
    user: str
    status: str = "running"
    source_format: str | None = None
    source_checksum: str | None = None
    source_crs: str | None = None
    source_encoding: str | None = None
    source_date: date | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    rows_in: int = 0
    rows_loaded: int = 0
    rows_fixed: int = 0
    rows_rejected: int = 0
    data_version: int | None = None
    error: str | None = None
    findings: list[Finding] = dc_field(default_factory=list)
    extra: dict[str, Any] = dc_field(default_factory=dict)  # e.g. the raster catalog entry
    # Fields the importer filled itself: field -> how, the scheme, rows filled and missed.
    derivations: dict[str, dict[str, Any]] = dc_field(default_factory=dict)
    _index: dict[tuple[str, str | None], Finding] = dc_field(default_factory=dict, repr=False)

    def finding(self, rule: str, severity: Severity, dimension: Dimension, message: str,
                field_name: str | None = None) -> Finding:
        """The finding for (rule, field), created on first use."""
        key = (rule, field_name)
        if key not in self._index:
            item = Finding(rule=rule, severity=severity, dimension=dimension, message=message,
                           field=field_name)
            self._index[key] = item
            self.findings.append(item)
        return self._index[key]

    def note(self, rule: str, severity: Severity, dimension: Dimension, message: str,
             ids: Iterable[int] = (), field_name: str | None = None, count: int | None = None,
             example: str | None = None) -> Finding:
        item = self.finding(rule, severity, dimension, message, field_name)
        item.add(ids, count)
        if example and not item.example:
            item.example = example[:200]
        return item

    def derived(self, field_name: str, how: str, scheme: str, rows: int, missing: int,
                **details: Any) -> None:
        """Note that the importer filled ``field_name`` itself (added up over batches)."""
        entry = self.derivations.setdefault(field_name, {"how": how, "scheme": scheme,
                                                         "rows": 0, "missing": 0, **details})
        entry["rows"] += rows
        entry["missing"] += missing

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return round((self.finished_at - self.started_at).total_seconds(), 3)
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id, "layer_id": self.layer_id, "status": self.status,
            "mode": self.mode, "dry_run": self.dry_run, "user": self.user,
            "source": {"path": self.source_path, "format": self.source_format,
                       "checksum": self.source_checksum, "crs": self.source_crs,
                       "encoding": self.source_encoding,
                       "date": self.source_date.isoformat() if self.source_date else None},
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": self.duration_s,
            "rows_in": self.rows_in, "rows_loaded": self.rows_loaded,
            "rows_fixed": self.rows_fixed, "rows_rejected": self.rows_rejected,
            "data_version": self.data_version, "error": self.error,
            "findings": [f.as_dict() for f in self.findings],
            **({"derived": self.derivations} if self.derivations else {}),
            **({"extra": self.extra} if self.extra else {}),
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=indent, default=str)

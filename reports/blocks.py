"""What a generated report is made of, before it is written as PDF or XLSX: sections holding
tables (typed columns, sorted rows) and figures (charts, maps as PNG)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from iocgis.reports.model import Text

ColumnKind = Literal["text", "number", "integer", "date", "datetime"]


@dataclass(frozen=True)
class Column:
    name: str
    title: Text
    kind: ColumnKind = "text"
    digits: int = 2  # numbers: decimals shown in the PDF (the XLSX keeps the full value)


@dataclass
class Table:
    id: str
    title: Text
    columns: list[Column]
    rows: list[list[Any]]
    note: Text | None = None

    def index(self, name: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.name == name)


@dataclass
class Figure:
    id: str
    title: Text
    png: bytes
    width_mm: float
    kind: Literal["chart", "map"]
    facts: dict[str, Any] = field(default_factory=dict)  # what it was drawn from


@dataclass
class Section:
    id: str
    title: Text
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    note: Text | None = None
    left_out: list[str] = field(default_factory=list)  # what the caller may not see

    def data(self) -> dict[str, Any]:
        """The section's data in a canonical form (its SHA-256 is recorded)."""
        return {"tables": [{"id": t.id, "columns": [c.name for c in t.columns],
                            "rows": t.rows} for t in self.tables],
                "figures": [{"id": f.id, "facts": f.facts} for f in self.figures],
                "left_out": self.left_out}

    def sha256(self) -> str:
        text = json.dumps(self.data(), default=plain, sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def cell(value: Any) -> Any:
    """A database value as kept in a table: numbers as float/int, the rest as is."""
    return float(value) if isinstance(value, Decimal) else value

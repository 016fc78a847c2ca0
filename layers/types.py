"""Field types, declared once: every table, encoder and schema derives from these descriptors.

A registry field names one of these types (``FieldDef.type``); the table DDL, the COPY
encoding, the Arrow type the importers coerce to, the JSON Schema of queryables and features,
the MVT value, the QGIS field and the CQL2 comparison class all come from the same row here.
Adding a type is adding a row, and every consumer follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Double, Integer, Text
from sqlalchemy.types import TypeEngine

# CQL2 comparison classes: values of one class compare with each other.
Comparable = Literal["text", "number", "boolean", "time"]

# Geometry and timestamps are stored in these; the API answers in EPSG:4326 by default.
STORAGE_SRID = 4326


@dataclass(frozen=True)
class FieldType:
    """One field type and its spelling in every system the platform talks to."""

    name: str
    sql: str  # PostgreSQL type (DDL, casts, masked-view NULLs)
    array_element: str  # the element type of a bound array (= ANY(%s::<t>[]))
    copy: str  # binary COPY type name (psycopg)
    arrow: pa.DataType  # what importers coerce a column to
    json_schema: tuple[tuple[str, str], ...]  # JSON Schema of a value
    comparable: Comparable  # CQL2 class
    mvt_text: bool  # MVT has no date type: such values go into tiles as text
    numeric: bool
    hint: str  # what a request value of this type looks like (the hint of a 400)

    @property
    def whole(self) -> bool:
        """Whole numbers (sums stay whole; a request value must be one)."""
        return bool(pa.types.is_integer(self.arrow))

    @property
    def schema(self) -> dict[str, Any]:
        return dict(self.json_schema)

    def sqlalchemy(self) -> TypeEngine:
        return _SQLALCHEMY[self.name]()


_SQLALCHEMY: dict[str, Any] = {
    "text": Text, "integer": Integer, "bigint": BigInteger, "numeric": Double,
    "boolean": Boolean, "date": Date, "timestamptz": lambda: DateTime(timezone=True),
}

FIELD_TYPES: dict[str, FieldType] = {t.name: t for t in (
    FieldType("text", "text", "text", "text", pa.string(), (("type", "string"),), "text",
              False, False, "check the value"),
    FieldType("integer", "integer", "int8", "int4", pa.int64(), (("type", "integer"),),
              "number", False, True, "use a whole number"),
    FieldType("bigint", "bigint", "int8", "int8", pa.int64(), (("type", "integer"),), "number",
              False, True, "use a whole number"),
    FieldType("numeric", "double precision", "float8", "float8", pa.float64(),
              (("type", "number"),), "number", False, True, "use a number such as 12.5"),
    FieldType("boolean", "boolean", "bool", "bool", pa.bool_(), (("type", "boolean"),),
              "boolean", False, False, "use true or false"),
    FieldType("date", "date", "date", "date", pa.date32(),
              (("type", "string"), ("format", "date")), "time", True, False,
              "use a date as YYYY-MM-DD"),
    FieldType("timestamptz", "timestamptz", "timestamptz", "timestamptz",
              pa.timestamp("us", tz="UTC"), (("type", "string"), ("format", "date-time")),
              "time", True, False, "use a date and time as 2026-03-01T08:00:00+07:00"),
)}


def field_type(name: str) -> FieldType:
    return FIELD_TYPES[name]

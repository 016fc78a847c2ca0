"""The SensorThings query options gateways use: ``$top``, ``$skip``, ``$orderby``, ``$count``,
``$expand`` (names only) and ``$filter`` as comparisons joined by ``and``, checked against an
allowlist per entity before any SQL is written (values are bound)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from iocgis.api.kit.values import boolean, whole_number
from iocgis.errors import InvalidInput
from iocgis.live.readings import BadReading, parse_time

OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
CLAUSE = re.compile(r"^\s*([A-Za-z@/_.]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$")
KNOWN = frozenset({"$top", "$skip", "$orderby", "$count", "$expand", "$filter", "$select",
                   "$resultFormat"})


@dataclass(frozen=True)
class Column:
    sql: str
    kind: str  # text | number | time


@dataclass
class Query:
    where: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    order: str = ""
    top: int = 100
    skip: int = 0
    count: bool = False
    expand: frozenset[str] = frozenset()


def _literal(text: str, column: Column, where: str) -> Any:
    if column.kind == "text":
        if len(text) < 2 or text[0] != "'" or text[-1] != "'":
            raise InvalidInput(f"{where}: text values take single quotes", where="$filter",
                               hint="name eq 'Trạm thủy văn Biên Hòa'")
        return text[1:-1].replace("''", "'")
    if column.kind == "number":
        try:
            return float(text)
        except ValueError:
            raise InvalidInput(f"{where}: {text!r} is not a number", where="$filter",
                               hint="result gt 2.2") from None
    try:
        return parse_time(text.strip("'"))
    except BadReading as exc:
        raise InvalidInput(f"{where}: {exc.detail}", where="$filter",
                           hint="phenomenonTime ge 2026-12-01T00:00:00Z") from None


def parse(params: Any, columns: dict[str, Column], *, default_order: str,
          expandable: frozenset[str] = frozenset(), most: int = 10_000) -> Query:
    unknown = sorted(k for k in params if k.startswith("$") and k not in KNOWN)
    if unknown:
        raise InvalidInput(f"unknown query option {unknown[0]}", where=unknown[0],
                           hint=f"use {', '.join(sorted(KNOWN))}")
    query = Query()
    for name, attr, low, high in (("$top", "top", 0, most), ("$skip", "skip", 0, 10**9)):
        raw = params.get(name)
        if raw is not None:
            setattr(query, attr, whole_number(raw, name, low, high))
    query.count = boolean(params.get("$count", "false"), "$count")
    if params.get("$expand"):
        asked = frozenset(p.strip().split("(")[0] for p in params["$expand"].split(","))
        if not asked <= expandable:
            raise InvalidInput(f"cannot expand {sorted(asked - expandable)}", where="$expand",
                               hint=f"expand one of {sorted(expandable) or 'nothing'}")
        query.expand = asked
    for i, clause in enumerate(re.split(r"\s+and\s+", params.get("$filter", "").strip(),
                                        flags=re.IGNORECASE)):
        if not clause:
            continue
        match = CLAUSE.match(clause)
        if not match or match.group(1) not in columns:
            raise InvalidInput(f"$filter clause {clause[:80]!r} is not understood", where="$filter",
                               hint=f"<property> eq|ne|gt|ge|lt|le <value> joined by and; "
                                    f"properties: {', '.join(sorted(columns))}")
        column = columns[match.group(1)]
        query.params[f"f{i}"] = _literal(match.group(3), column, clause[:80])
        query.where.append(f"{column.sql} {OPERATORS[match.group(2)]} %(f{i})s")
    order = params.get("$orderby", default_order).strip()
    parts = order.split()
    if not parts or parts[0] not in columns or len(parts) > 2 or \
            (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise InvalidInput(f"$orderby {order[:60]!r} is not understood", where="$orderby",
                           hint=f"<property> [asc|desc]; properties: {', '.join(sorted(columns))}")
    query.order = f"{columns[parts[0]].sql} {parts[1].upper() if len(parts) == 2 else 'ASC'}"
    return query

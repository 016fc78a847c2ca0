"""Run layer queries on the pool, one connection per layer so layers are answered side by side."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from iocgis.access import AccessPlan, note_shared
from iocgis.access.database import Reader
from iocgis.api.query.spec import Around, AtPoint, LayerQuery, Nearest
from iocgis.api.query.sql import MAX_GROUPS, Statement, layer_statement
from iocgis.api.query.summaries import summary_statement
from iocgis.errors import InvalidInput
from iocgis.geodesy import min_metres_per_degree
from iocgis.layers import Registry

MAX_CANDIDATE_ROUNDS = 4
# No query statement may hold a connection longer than this (a 503 with Retry-After).
STATEMENT_TIMEOUT_MS = 30_000
SLOW_HINT = "narrow it: fewer layers, a smaller area or radius, a condition (where=), or limit=0"


def reading(reader: Reader, plans: AccessPlan | Sequence[AccessPlan]):  # noqa: ANN201
    """The reader's transaction under the plans, with the query API's time limit."""
    return reader.reading(plans, timeout_ms=STATEMENT_TIMEOUT_MS, what="query", hint=SLOW_HINT)


@dataclass
class LayerResult:
    query: LayerQuery
    count: int
    groups: list[dict[str, Any]]
    features: str  # GeoJSON FeatureCollection text, or a JSON array of flat rows (CSV)


def nearest_is_complete(sel: Nearest, candidates_asked: int, candidates: int,
                        max_planar_deg: float | None, max_distance_m: float | None) -> bool:
    """Were enough candidates taken, in planar (index) order, to hold the true geodesic nearest?

    Any feature outside the candidate set is at least ``max_planar_deg`` away in degrees, which is
    at least ``max_planar_deg * m_per_deg`` metres; if the farthest chosen feature is nearer than
    that, no outsider can beat it.
    """
    if candidates < candidates_asked or max_planar_deg is None or max_distance_m is None:
        return True
    return max_distance_m <= max_planar_deg * min_metres_per_degree(sel.lat, max_planar_deg)


def _complete(query: LayerQuery, statement: Statement, row: tuple[Any, ...]) -> bool:
    if statement.nearest is None:
        return True
    asked = int(query.extra.get("candidates", statement.nearest.count * 3 + 10))
    return nearest_is_complete(statement.nearest, asked, row[3], row[4], row[5])


def _widened(query: LayerQuery) -> LayerQuery:
    assert isinstance(query.selection, Nearest)
    asked = int(query.extra.get("candidates", query.selection.count * 3 + 10))
    return replace(query, extra={**query.extra, "candidates": asked * 4})


def _result(registry: Registry, query: LayerQuery, row: tuple[Any, ...]) -> LayerResult:
    count = int(row[0])
    # rows returned (features or CSV rows), for the usage report of a sharing agreement
    note_shared(query.plan.caller, query.plan.layer.id,
                rows=min(count, query.limit or 0) if query.with_features else 0)
    return LayerResult(query, count, finish_groups(registry, query, json.loads(row[1])), row[2])


async def run_pipelined(reader: Reader, registry: Registry,
                        queries: list[LayerQuery], *, rows: bool = False,
                        layer_property: bool = False, rounds: int = 1) -> list[LayerResult]:
    """Queries of one or more layers on one connection: the scope, every statement and the
    COMMIT in one round trip (``Reader.first_rows``)."""
    statements = [summary_statement(q, rows=rows, layer_property=layer_property)
                  or layer_statement(q, rows=rows, layer_property=layer_property)
                  for q in queries]
    rows_out = await reader.first_rows(
        [_read_plan(q) for q in queries], [(st.query, st.params) for st in statements],
        timeout_ms=STATEMENT_TIMEOUT_MS, what="query", hint=SLOW_HINT)
    results = []
    for query, statement, row in zip(queries, statements, rows_out):
        assert row is not None
        if statement.summary and not row[3]:  # summaries older than the data: ask exactly
            exact = layer_statement(query, rows=rows, layer_property=layer_property)
            (row,) = await reader.first_rows(
                _read_plan(query), [(exact.query, exact.params)],
                timeout_ms=STATEMENT_TIMEOUT_MS, what="query", hint=SLOW_HINT)
            assert row is not None
        if _complete(query, statement, row) or rounds >= MAX_CANDIDATE_ROUNDS:
            results.append(_result(registry, query, row))
        else:  # rare: the nearest features lie beyond the first candidates; ask again, wider
            (wider,) = await run_pipelined(reader, registry, [_widened(query)], rows=rows,
                                           layer_property=layer_property, rounds=rounds + 1)
            results.append(wider)
    return results


async def run_one(reader: Reader, registry: Registry, query: LayerQuery, *,
                  rows: bool = False, layer_property: bool = False) -> LayerResult:
    (result,) = await run_pipelined(reader, registry, [query], rows=rows,
                                    layer_property=layer_property)
    return result


# Selections that touch few rows through the index: several layers go down one connection
# in one round trip; heavier ones run side by side on their own connections.
CHEAP_RADIUS_M = 1000.0


def is_cheap(query: LayerQuery) -> bool:
    sel = query.selection
    return isinstance(sel, (AtPoint, Nearest)) or (isinstance(sel, Around)
                                                   and sel.radius_m <= CHEAP_RADIUS_M)


def _read_plan(query: LayerQuery) -> AccessPlan:
    """The plan narrowed to what the statement returns (for the audit note)."""
    fields = [f.name for f in query.fields] if query.with_features and query.limit else []
    if query.group_by is not None:
        fields.append(query.group_by.name)
    return query.plan.with_fields(fields)


async def run(reader: Reader, registry: Registry, queries: list[LayerQuery], *,
              rows: bool = False, layer_property: bool = False) -> list[LayerResult]:
    if len(queries) == 1:
        return [await run_one(reader, registry, queries[0], rows=rows,
                              layer_property=layer_property)]
    if all(is_cheap(q) for q in queries):
        return await run_pipelined(reader, registry, queries, rows=rows,
                                   layer_property=layer_property)
    return list(await asyncio.gather(*(run_one(reader, registry, q, rows=rows,
                                               layer_property=layer_property)
                                       for q in queries)))


def ratio_status(value: float | None, target: float | None, direction: str) -> str:
    if value is None or target is None:
        return "no_data"
    met = value >= target if direction == "higher_better" else value <= target
    return "met" if met else "not_met"


def finish_groups(registry: Registry, query: LayerQuery,
                  groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Code labels, ratio statuses, the failing-only filter and the group cap."""
    if len(groups) > MAX_GROUPS:
        field = query.group_by.name if query.group_by else "?"
        raise InvalidInput(f"grouping {query.layer.id} by {field!r} gives more than "
                           f"{MAX_GROUPS} groups", where="group_by",
                           hint="group by a coarser field such as commune_code or a code list")
    labels = {}
    if query.group_by is not None:
        domain = registry.resolve_domain(query.group_by)
        labels = {c.code: {"vi": c.vi, "en": c.en} for c in domain or ()}
    out = []
    for group in groups:
        if labels and group.get("key") in labels:
            group["label"] = labels[group["key"]]
        if query.ratios:
            group["ratios"] = {}
            for ratio in query.ratios:
                value = group.pop(ratio.name, None)
                group["ratios"][ratio.name] = {
                    "value": value, "target": ratio.target, "direction": ratio.direction,
                    "status": ratio_status(value, ratio.target, ratio.direction)}
            if query.only_failing and not any(r["status"] == "not_met"
                                              for r in group["ratios"].values()):
                continue
        out.append(group)
    return out

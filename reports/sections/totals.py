"""Group totals of layers inside the report's area: the query engine of ``/query/admin/{code}``
(one ``LayerQuery`` per layer under the caller's plan, no features, only the groups)."""

from __future__ import annotations

from typing import Any

from iocgis.api.query import allowlist
from iocgis.api.query.engine import run
from iocgis.api.query.spec import Everywhere, Inside, LayerQuery
from iocgis.errors import NotFound
from iocgis.reports.blocks import Column, Section, Table, cell
from iocgis.reports.context import ReportContext
from iocgis.reports.model import Text, TotalsSection

MEASURED = {"measured_area_m2": Text(vi="Diện tích đo (m²)", en="Measured area (m²)"),
            "measured_length_m": Text(vi="Chiều dài đo (m)", en="Measured length (m)")}


def selection(ctx: ReportContext) -> Inside | Everywhere:
    """A commune: the features inside its boundary, areas clipped to it. The province: every
    row of the layers (they are the province's own; clipping each feature to the province's
    13,000-vertex outline took over 30 s for the demo's houses)."""
    if len(ctx.area.code) == 2:
        return Everywhere()
    return Inside(ctx.area.wkb)


def totals_query(ctx: ReportContext, section: TotalsSection, layer_id: str) -> LayerQuery:
    plan = ctx.plan(layer_id)
    registry = ctx.registry
    return LayerQuery(
        plan=plan, selection=selection(ctx), fields=(),
        where=allowlist.where_conditions(plan, registry, list(section.where)),
        group_by=allowlist.group_field(plan, section.group_by) if section.group_by else None,
        totals=allowlist.totalled_fields(plan), flags=allowlist.flag_fields(plan),
        limit=0, with_features=False)


def _label(ctx: ReportContext, group: dict[str, Any]) -> str | None:
    label = group.get("label")
    if isinstance(label, dict):
        return label.get("vi")
    key = group.get("key")
    return ctx.unit_name(key) if isinstance(key, str) and key.isdigit() else key


def _table(ctx: ReportContext, section: TotalsSection, query: LayerQuery,
           groups: list[dict[str, Any]]) -> Table:
    layer = query.layer
    columns = []
    if query.group_by is not None:
        title = query.group_by.title
        columns += [Column("key", Text(vi=title.vi, en=title.en)),
                    Column("label", Text(vi="Tên", en="Name"))]
    columns.append(Column("count", Text(vi="Số đối tượng", en="Features"), "integer"))
    columns += [Column(f"sum_{f.name}", Text(vi=f"Tổng {f.title.vi.lower()}",
                                             en=f"Total {f.title.en.lower()}"),
                       "integer" if f.type in ("integer", "bigint") else "number")
                for f in query.totals]
    columns += [Column(f"true_{f.name}", Text(vi=f"Số có: {f.title.vi.lower()}",
                                              en=f"Count: {f.title.en.lower()}"), "integer")
                for f in query.flags]
    measured = [m for m in MEASURED if any(m in g for g in groups)]
    columns += [Column(m, MEASURED[m], "number") for m in measured]
    rows = []
    for g in sorted(groups, key=lambda g: (str(g.get("key")),)):
        row: list[Any] = [g.get("key"), _label(ctx, g)] if query.group_by is not None else []
        row.append(int(g["count"]))
        row += [cell((g.get("sum") or {}).get(f.name)) for f in query.totals]
        row += [int((g.get("true_count") or {}).get(f.name) or 0) for f in query.flags]
        row += [cell(g.get(m)) for m in measured]
        rows.append(row)
    title = Text(vi=f"{section.title.vi}: {layer.title.vi}", en=f"{section.title.en}: {layer.title.en}")
    return Table(f"{section.id}.{layer.id}", title, columns, rows)


async def collect(ctx: ReportContext, section: TotalsSection, done: dict) -> Section:
    queries, left_out = [], []
    for layer_id in section.layers:
        try:
            queries.append(totals_query(ctx, section, layer_id))
        except NotFound:
            left_out.append(layer_id)  # a layer the caller may not see: said, never read
    results = await run(ctx.state.reader, ctx.registry, queries) if queries else []
    tables = [_table(ctx, section, r.query, r.groups) for r in results]
    note = section.note
    if left_out:
        note = Text(vi=f"Không có quyền xem: {', '.join(left_out)}",
                    en=f"Not visible to this account: {', '.join(left_out)}")
    return Section(section.id, section.title, tables=tables, note=note, left_out=left_out)

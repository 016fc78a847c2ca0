"""Operational lists of the period in the area: incidents (``emergency.incidents``), overdue
citizen reports (``citizen.reports``) through the caller's plans; station alerts
(``live.alerts``) as visible as ``iot.latest`` (``live/access.py``), read as the live routes do."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import sql

from iocgis.access import AccessPlan
from iocgis.errors import NotFound
from iocgis.live.access import readings_plan
from iocgis.reports.blocks import Column, Section, Table, cell
from iocgis.reports.context import ReportContext
from iocgis.reports.model import ListSection, Text

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SOURCES = {  # source: (layer, time field, default columns)
    "incidents": ("emergency.incidents", "reported_at",
                  ("incident_code", "kind", "title", "status", "severity", "reported_at",
                   "commune_code", "casualties")),
    "overdue_citizen_reports": ("citizen.reports", "due_at",
                                ("report_code", "category", "status", "assigned_unit",
                                 "commune_code", "reported_at", "due_at", "answered_at")),
}
KINDS = {"integer": "integer", "bigint": "integer", "numeric": "number", "double": "number",
         "date": "date", "timestamptz": "datetime"}
ALERT_COLUMNS = [
    ("station_code", Text(vi="Trạm", en="Station"), "text"),
    ("parameter", Text(vi="Thông số", en="Parameter"), "text"),
    ("commune_code", Text(vi="Mã xã", en="Commune"), "text"),
    ("kind", Text(vi="Loại", en="Kind"), "text"),
    ("peak_level", Text(vi="Cấp cao nhất", en="Peak level"), "integer"),
    ("state", Text(vi="Trạng thái", en="State"), "text"),
    ("raised_at", Text(vi="Thời điểm", en="Raised at"), "datetime"),
    ("value", Text(vi="Giá trị", en="Value"), "number"),
    ("threshold", Text(vi="Ngưỡng", en="Threshold"), "number"),
    ("cleared_at", Text(vi="Kết thúc", en="Cleared at"), "datetime"),
]


def bounds(ctx: ReportContext) -> tuple[datetime, datetime]:
    """The period as instants in Vietnam's time zone."""
    return (datetime.combine(ctx.period.start, time(), ZONE),
            datetime.combine(ctx.period.end, time(), ZONE))


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(ZONE).replace(tzinfo=None)  # local time, as people read it
    return cell(value)


async def _layer_rows(ctx: ReportContext, section: ListSection) -> tuple[Table, list[str]]:
    layer_id, time_field, default = SOURCES[section.source]
    plan: AccessPlan = ctx.plan(layer_id)
    layer = plan.layer
    asked = section.columns or default
    left_out = [f"{layer_id}.{c}" for c in asked if c not in plan.fields]
    names = [c for c in asked if c in plan.fields]
    read = plan.with_fields(sorted({*names, time_field, "commune_code"} & set(plan.fields)))
    start, end = bounds(ctx)
    where = [sql.SQL("t.{f} >= %(start)s AND t.{f} < %(end)s").format(f=sql.Identifier(time_field)),
             sql.SQL("t.commune_code = ANY(%(units)s)")]
    if plan.commune_field:
        where.append(sql.SQL("t.{} = ANY(%(scope)s)").format(sql.Identifier(plan.commune_field)))
    if section.source == "overdue_citizen_reports":
        where.append(sql.SQL("(t.answered_at IS NULL OR t.answered_at > t.due_at)"))
    statement = sql.SQL("SELECT {cols} FROM {table} t WHERE {where} ORDER BY t.{time}, t.{key}"
                        " LIMIT %(limit)s").format(
        cols=sql.SQL(", ").join(sql.Identifier("t", n) for n in names),
        table=sql.Identifier(layer.schema_name, layer.table_name),
        where=sql.SQL(" AND ").join(where), time=sql.Identifier(time_field),
        key=sql.Identifier(layer.key[0]))
    values = {"start": start, "end": end, "units": [c for c, _ in ctx.communes],
              "scope": list(plan.communes or ()), "limit": section.limit}
    async with ctx.state.reader.reading(read, what="report list") as conn:
        cur = await conn.execute(statement, values)
        rows = [[_cell(v) for v in r] for r in await cur.fetchall()]
    columns = [Column(n, Text(vi=layer.field(n).title.vi, en=layer.field(n).title.en),
                      KINDS.get(layer.field(n).type, "text"), 0) for n in names]  # type: ignore[arg-type]
    return Table(section.id, section.title, columns, rows), left_out


async def _alert_rows(ctx: ReportContext, section: ListSection) -> Table:
    plan = readings_plan(ctx.caller, ctx.registry)
    ctx.read.add(plan.layer.id)
    start, end = bounds(ctx)
    scope = "" if plan.communes is None else " AND commune_code = ANY(%(scope)s)"
    statement = (f"SELECT {', '.join(c for c, _, _ in ALERT_COLUMNS)} FROM live.alerts"
                 " WHERE raised_at >= %(start)s AND raised_at < %(end)s"
                 f" AND commune_code = ANY(%(units)s){scope}"
                 " ORDER BY raised_at, id LIMIT %(limit)s")
    async with ctx.owner.connection() as conn:
        cur = await conn.execute(statement, {"start": start, "end": end, "limit": section.limit,
                                             "units": [c for c, _ in ctx.communes],
                                             "scope": list(plan.communes or ())})
        rows = [[_cell(v) for v in r] for r in await cur.fetchall()]
    columns = [Column(n, t, k, 2) for n, t, k in ALERT_COLUMNS]  # type: ignore[arg-type]
    return Table(section.id, section.title, columns, rows)


async def collect(ctx: ReportContext, section: ListSection, done: dict) -> Section:
    left_out: list[str] = []
    try:
        if section.source == "alerts":
            table = await _alert_rows(ctx, section)
        else:
            table, left_out = await _layer_rows(ctx, section)
    except NotFound:
        layer = SOURCES.get(section.source, ("iot.latest",))[0]
        return Section(section.id, section.title, left_out=[layer],
                       note=Text(vi=f"Không có quyền xem: {layer}",
                                 en=f"Not visible to this account: {layer}"))
    note = Text(vi=f"{len(table.rows)} dòng", en=f"{len(table.rows)} rows")
    if left_out:
        note = Text(vi=f"{note.vi}; không hiển thị (dữ liệu cá nhân): {', '.join(left_out)}",
                    en=f"{note.en}; not shown (personal data): {', '.join(left_out)}")
    return Section(section.id, section.title, tables=[table], note=note, left_out=left_out)

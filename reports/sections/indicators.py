"""Indicator tables: the values, targets and statuses of ``api/query/kpi.py`` (its functions,
not a copy of its SQL) for the area or each commune, beside earlier periods."""

from __future__ import annotations

from typing import Any

from iocgis.api.query import kpi
from iocgis.reports.blocks import Column, Section, Table, cell
from iocgis.reports.context import ReportContext
from iocgis.reports.model import IndicatorAlertsSection, IndicatorsSection, Text

STATUS = {"met": Text(vi="Đạt", en="Met"), "not_met": Text(vi="Chưa đạt", en="Not met"),
          "no_data": Text(vi="Chưa có số liệu", en="No data")}
UNIT_COLUMNS = [Column("admin_code", Text(vi="Mã đơn vị", en="Unit code")),
                Column("admin_name", Text(vi="Đơn vị", en="Unit"))]
INDICATOR_COLUMNS = [
    Column("code", Text(vi="Mã chỉ tiêu", en="Indicator code")),
    Column("name", Text(vi="Chỉ tiêu", en="Indicator")),
    Column("unit", Text(vi="Đơn vị tính", en="Unit of measure")),
    Column("target", Text(vi="Mục tiêu", en="Target"), "number"),
    Column("value", Text(vi="Thực hiện", en="Value"), "number"),
    Column("gap", Text(vi="Chênh lệch so với mục tiêu", en="Gap to target"), "number"),
    Column("status", Text(vi="Đánh giá", en="Status")),
]
COMPARE = {"previous": Text(vi="Kỳ trước", en="Previous period"),
           "last_year": Text(vi="Cùng kỳ năm trước", en="Same period last year")}


def _read(ctx: ReportContext) -> None:
    ctx.plan(kpi.INDICATORS)
    ctx.plan(kpi.VALUES)


def gap(row: dict[str, Any]) -> float | None:
    """Value minus target (negative: below it); whether that is good depends on direction."""
    if row["value"] is None or row["target"] is None:
        return None
    return round(float(row["value"]) - float(row["target"]), 6)


async def collect(ctx: ReportContext, section: IndicatorsSection, done: dict) -> Section:
    _read(ctx)
    units = ctx.unit_codes if section.units == "communes" else [ctx.area.code]
    if section.units == "communes":
        units = [u for u in units if u != ctx.area.code]
    elif ctx.area.code not in ctx.unit_codes:  # a commune-limited caller: its communes
        units = ctx.unit_codes
    rows = await kpi.indicator_rows(ctx.query, units, ctx.period.kpi_period, section.sector)
    wanted = set(section.indicators)
    rows = [r for r in rows if not wanted or r["code"] in wanted]
    earlier: dict[str, dict[tuple[str, str], Any]] = {}
    for which in section.compare:
        period = ctx.period.previous() if which == "previous" else ctx.period.last_year()
        found = await kpi.indicator_rows(ctx.query, units, period.kpi_period, section.sector)
        earlier[which] = {(r["admin_code"], r["code"]): r["value"] for r in found}
    columns = [*UNIT_COLUMNS, *INDICATOR_COLUMNS,
               *(Column(w, COMPARE[w], "number") for w in section.compare)]
    table_rows = []
    for r in sorted(rows, key=lambda r: (r["sector"], r["code"], r["admin_code"])):
        out = [r["admin_code"], ctx.unit_name(r["admin_code"]), r["code"], r["name"], r["unit"],
               cell(r["target"]), cell(r["value"]), gap(r), r["status"]]
        out += [cell(earlier[w].get((r["admin_code"], r["code"]))) for w in section.compare]
        table_rows.append(out)
    period = Text(vi=f"Kỳ báo cáo {ctx.period.kpi_period}", en=f"Period {ctx.period.kpi_period}")
    return Section(section.id, section.title, note=section.note or period,
                   tables=[Table(section.id, section.title, columns, table_rows)])


async def collect_alerts(ctx: ReportContext, section: IndicatorAlertsSection,
                         done: dict) -> Section:
    _read(ctx)
    units = set(ctx.unit_codes)
    rows = await kpi.alert_rows(ctx.query, ctx.period.kpi_period, section.sector)
    rows = [r for r in rows if r["admin_code"] in units]
    columns = [*UNIT_COLUMNS, *INDICATOR_COLUMNS]
    table_rows = [[r["admin_code"], ctx.unit_name(r["admin_code"]), r["code"], r["name"],
                   r["unit"], cell(r["target"]), cell(r["value"]), gap(r), r["status"]]
                  for r in sorted(rows, key=lambda r: (r["sector"], r["code"], r["admin_code"]))]
    note = Text(vi=f"{len(table_rows)} lượt chỉ tiêu chưa đạt mục tiêu trong kỳ "
                   f"{ctx.period.kpi_period}",
                en=f"{len(table_rows)} indicator values miss their targets in "
                   f"{ctx.period.kpi_period}")
    return Section(section.id, section.title, note=note,
                   tables=[Table(section.id, section.title, columns, table_rows)])

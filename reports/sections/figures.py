"""Figures: a chart of an earlier table (matplotlib), and a map of the area drawn on the
server (``reports.maps``), optionally with communes coloured by an indicator's status."""

from __future__ import annotations

import json
from typing import Any

import shapely
from psycopg import sql

from iocgis.api.query import kpi
from iocgis.reports import charts
from iocgis.reports.blocks import Figure, Section
from iocgis.reports.context import ReportContext
from iocgis.reports.maps import CallerResources, MapSpec
from iocgis.reports.model import ChartSection, MapSection, Text

STATUS_COLOURS = {"met": charts.MET, "not_met": charts.NOT_MET, "no_data": charts.NO_DATA}


async def collect_chart(ctx: ReportContext, section: ChartSection,
                        done: dict[str, Section]) -> Section:
    source = done[section.of]
    if not source.tables:
        return Section(section.id, section.title, note=source.note, left_out=source.left_out)
    table = source.tables[0]
    rows = [r for r in table.rows
            if all(str(r[table.index(k)]) == v for k, v in section.filter.items())]
    labels = [str(r[table.index(section.label)]) for r in rows]
    values = [r[table.index(section.value)] for r in rows]
    target = None
    if section.target and rows:
        target = rows[0][table.index(section.target)]
    colours = None
    if "status" in (c.name for c in table.columns):
        colours = [STATUS_COLOURS.get(r[table.index("status")], charts.NO_DATA) for r in rows]
    png = charts.bar_chart(labels, values, title=section.title.vi, target=target,
                           colours=colours)
    facts = {"of": section.of, "labels": labels, "values": values, "target": target}
    return Section(section.id, section.title, note=section.note,
                   figures=[Figure(section.id, section.title, png, 170, "chart", facts)])


async def _overlay(ctx: ReportContext, indicator: str) -> dict[str, Any]:
    """The area's communes (those the caller may see) coloured by the indicator's status."""
    ctx.plan(kpi.INDICATORS)
    ctx.plan(kpi.VALUES)
    codes = [c for c, _ in ctx.communes]
    rows = await kpi.indicator_rows(ctx.query, codes, ctx.period.kpi_period, None)
    status = {r["admin_code"]: r["status"] for r in rows if r["code"] == indicator}
    layer = ctx.registry.admin_layer("commune")
    plan = ctx.plan(layer.id).with_fields(())
    statement = sql.SQL("SELECT {key}, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0005), 6)"
                        " FROM {table} WHERE {key} = ANY(%(codes)s) ORDER BY 1").format(
        key=sql.Identifier(layer.key[0]), table=sql.Identifier(layer.schema_name, layer.table_name))
    async with ctx.state.reader.reading(plan, what="report map") as conn:
        cur = await conn.execute(statement, {"codes": codes})
        found = await cur.fetchall()
    features = [{"type": "Feature", "properties": {
        "code": code, "status": status.get(code, "no_data"),
        "colour": STATUS_COLOURS[status.get(code, "no_data")]}, "geometry": json.loads(geom)}
        for code, geom in found]
    return {"type": "FeatureCollection", "features": features}


async def collect_map(ctx: ReportContext, section: MapSection,
                      done: dict[str, Section]) -> Section:
    west, south, east, north = shapely.from_wkb(ctx.area.wkb).bounds
    overlay = await _overlay(ctx, section.overlay.indicator) if section.overlay else None
    spec = MapSpec(section.theme, (west, south, east, north), section.width_mm,
                   section.height_mm, section.dpi, overlay)
    facts: dict[str, Any] = {"theme": spec.theme, "bounds": [round(b, 6) for b in spec.bounds],
                             "width_mm": spec.width_mm, "height_mm": spec.height_mm,
                             "dpi": spec.dpi, "overlay": [
                                 f["properties"]["code"] + ":" + f["properties"]["status"]
                                 for f in (overlay or {}).get("features", [])]}
    if ctx.maps is None:
        return Section(section.id, section.title, note=Text(
            vi="Bản đồ không được vẽ (chạy không có trình vẽ bản đồ)",
            en="Map not drawn (run without the map renderer)"), left_out=["map"])
    resources = CallerResources(ctx.state, ctx.caller, ctx.registry)
    png = await ctx.maps.render(spec, resources)
    ctx.read.update(resources.tiles_read)
    facts["layers"] = sorted(resources.tiles_read)
    return Section(section.id, section.title, note=section.note, figures=[
        Figure(section.id, section.title, png, section.width_mm, "map", facts)])

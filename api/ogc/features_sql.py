"""SQL for feature pages, built from the registry's identifiers and a checked ``ItemsQuery``.

Paging: the default order is ``fid`` and next links carry ``cursor=<last fid>`` (keyset paging:
the millionth row costs what the first does). An explicit ``offset`` without a cursor skips rows
in an index-only subquery and joins the page afterwards, so geometries of skipped rows are never
read or encoded. ``numberMatched`` is exact only when counting is cheap (see ``count_sql``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from psycopg import sql

from iocgis.access import AccessPlan
from iocgis.api.ogc.crs import STORAGE_SRID, OgcCrs
from iocgis.api.ogc.params import Bbox, ItemsQuery, free_text_fields
from iocgis.layers.model import LayerDef

# numberMatched is exact when the planner expects at most this many matches and a count
# stopped at cap + 1 confirms it; otherwise the response carries numberMatchedEstimate (the
# planner's estimate), so no page pays a full count(*) of a large result.
EXACT_COUNT_CAP = 10_000


def table(layer: LayerDef) -> sql.Composable:
    return sql.Identifier(layer.schema_name, layer.table_name)


def geometry_output(crs: OgcCrs, column: sql.Composable = sql.Identifier("geom")) -> sql.Composable:
    """GeoJSON text of the geometry in the requested CRS, transformed by PostGIS."""
    geom: sql.Composable = column
    if crs.srid != STORAGE_SRID:
        geom = sql.SQL("ST_Transform({}, {})").format(geom, sql.Literal(crs.srid))
    if crs.north_first:
        geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
    # options 0: no "crs" member (a GeoJSON geometry has none; Content-Crs says it)
    return sql.SQL("ST_AsGeoJSON({}, {}, 0)").format(geom, sql.Literal(crs.digits))


def envelope(bbox_sql: list[sql.Composable], crs: OgcCrs, span: float) -> sql.Composable:
    box = sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, {})").format(*bbox_sql, sql.Literal(crs.srid))
    if crs.north_first:
        box = sql.SQL("ST_FlipCoordinates({})").format(box)
    if crs.srid == STORAGE_SRID:
        return box
    # densify so the box's straight edges in the projected CRS stay where they are in degrees
    return sql.SQL("ST_Transform(ST_Segmentize({}, {}), {})").format(
        box, sql.Literal(max(span / 32, 1e-9)), sql.Literal(STORAGE_SRID))


def shown_geometry(query: ItemsQuery | None = None, *, footprint: bool = False,
                   alias: str | None = "t") -> sql.Composable:
    """The geometry column a page shows: the position, or the footprint when asked."""
    column = "footprint" if footprint or (query is not None and query.footprint) else "geom"
    return sql.Identifier(alias, column) if alias else sql.Identifier(column)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def row_filter(plan: AccessPlan, params: dict[str, Any]) -> list[sql.Composable]:
    """The plan's row filter (the communes of a commune-limited caller), in the statement so
    the planner can use the index; PostgreSQL's row-level security enforces the same rule."""
    if plan.commune_field is None:
        return []
    params["scope_communes"] = list(plan.communes or ())
    return [sql.SQL("{} = ANY({})").format(sql.Identifier(plan.commune_field),
                                           sql.Placeholder("scope_communes"))]


def _output_fields(plan: AccessPlan, query: ItemsQuery) -> tuple[str, ...]:
    fields = query.output_fields
    outside = set(fields) - set(plan.fields)
    if outside:
        raise ValueError(f"fields {sorted(outside)} are not in the access plan of {plan.layer.id}")
    return fields


def conditions(plan: AccessPlan, query: ItemsQuery, params: dict[str, Any]) -> list[sql.Composable]:
    """Every WHERE condition except the keyset cursor, the plan's row filter first."""
    layer = plan.layer
    where: list[sql.Composable] = row_filter(plan, params)
    if query.bbox is not None:
        b = query.bbox
        names = ("bx1", "by1", "bx2", "by2")
        params.update(zip(names, (b.minx, b.miny, b.maxx, b.maxy)))
        box = envelope([sql.Placeholder(n) for n in names], b.crs, max(b.maxx - b.minx, b.maxy - b.miny))
        # "&&" first: under row-level security only a leakproof condition may use the index
        # (``dbroles`` marks the bounding-box operator leakproof; ST_Intersects is not).
        where.append(sql.SQL("geom && {box} AND ({inside}ST_Intersects(geom, {box}))").format(
            box=box, inside=_surely_inside(b, params)))
    if query.interval is not None and layer.temporal:
        column = sql.Identifier(layer.temporal)
        start, end = query.interval
        if start is not None:
            params["t_start"] = start
            where.append(sql.SQL("{} >= {}").format(column, sql.Placeholder("t_start")))
        if end is not None:
            params["t_end"] = end
            where.append(sql.SQL("{} <= {}").format(column, sql.Placeholder("t_end")))
    for i, (name, value) in enumerate(query.equals):
        params[f"eq{i}"] = value
        where.append(sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(f"eq{i}")))
    if query.q:
        text_fields = free_text_fields(layer, plan.fields)  # not coded fields (q=_ matched codes)
        terms = []
        for i, term in enumerate(query.q):
            params[f"q{i}"] = f"%{_escape_like(term)}%"
            terms += [sql.SQL("{} ILIKE {}").format(sql.Identifier(n), sql.Placeholder(f"q{i}"))
                      for n in text_fields]
        where.append(sql.SQL("({})").format(sql.SQL(" OR ").join(terms)) if terms else sql.SQL("FALSE"))
    if query.filter_sql is not None:
        params.update(query.filter_params)
        where.append(query.filter_sql)
    return where


def _float_below(value: float) -> float:
    """The largest single-precision value at most ``value``."""
    f = np.float32(value)
    return float(f if float(f) <= value else np.nextafter(f, np.float32(-np.inf)))


def _float_above(value: float) -> float:
    f = np.float32(value)
    return float(f if float(f) >= value else np.nextafter(f, np.float32(np.inf)))


def _surely_inside(b: Bbox, params: dict[str, Any]) -> sql.Composable:
    """``geom @ <inner box> OR ``, which answers ST_Intersects without GEOS for the rows lying
    inside a storage-CRS bbox (most of a page: a 2 km box of parcels, 2.5x faster), else
    nothing. PostGIS compares single-precision boxes, the row's rounded outwards; the inner
    box is the bbox rounded inwards to single precision, so a row it takes lies inside the
    bbox and ST_Intersects would say true: the same rows as ST_Intersects alone."""
    if b.crs.srid != STORAGE_SRID:
        return sql.SQL("")
    west, south, east, north = (b.miny, b.minx, b.maxy, b.maxx) if b.crs.north_first else (
        b.minx, b.miny, b.maxx, b.maxy)
    inner = (_float_above(west), _float_above(south), _float_below(east), _float_below(north))
    if inner[0] > inner[2] or inner[1] > inner[3]:
        return sql.SQL("")
    names = ("bi1", "bi2", "bi3", "bi4")
    params.update(zip(names, inner))
    return sql.SQL("geom @ ST_MakeEnvelope({}, {}, {}, {}, {}) OR ").format(
        *map(sql.Placeholder, names), sql.Literal(STORAGE_SRID))


def _where(parts: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts) if parts else sql.SQL("")


def order_by(query: ItemsQuery) -> sql.Composable:
    keys = [sql.SQL("{} {} NULLS LAST").format(sql.Identifier(name), sql.SQL("DESC" if desc else "ASC"))
            for name, desc in query.sortby]
    keys.append(sql.SQL("fid"))  # a total order, so pages never overlap
    return sql.SQL(", ").join(keys)


def page_columns(plan: AccessPlan, query: ItemsQuery, as_json: bool) -> list[sql.Composable]:
    """A page row: fid, then each output field and the geometry's GeoJSON; or, ``as_json``,
    fid and the whole GeoJSON Feature as text, written by PostgreSQL (the field values as
    JSON: numbers, booleans, ISO 8601 dates; UTF-8 as it is stored), so a JSON page is not
    decoded and encoded again in Python."""
    fields = _output_fields(plan, query)
    geometry = plan.layer.is_spatial and not query.skip_geometry
    if not as_json:
        columns = [sql.SQL("t.fid")] + [sql.SQL("t.{}").format(sql.Identifier(f)) for f in fields]
        if geometry:
            columns.append(geometry_output(query.crs, shown_geometry(query)))
        return columns
    # json_build_object takes at most 100 arguments: 50 fields, more than any layer has
    properties = sql.SQL("json_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, t.{}").format(sql.Literal(f), sql.Identifier(f)) for f in fields))
    shape = sql.SQL("coalesce({}, 'null')").format(
        geometry_output(query.crs, shown_geometry(query))) if geometry else sql.SQL("'null'")
    feature = sql.SQL("""'{{"type":"Feature","id":' || t.fid || ',"geometry":' || {} """
                      """|| ',"properties":' || {}::text || '}}'""").format(shape, properties)
    return [sql.SQL("t.fid"), feature]


def page_sql(plan: AccessPlan, query: ItemsQuery,
             as_json: bool = False) -> tuple[sql.Composable, dict[str, Any]]:
    """One page plus one row (to know whether a next page exists); rows as ``page_columns``."""
    params: dict[str, Any] = {"page_limit": query.limit + 1}
    layer = plan.layer
    where = conditions(plan, query, params)
    select = sql.SQL(", ").join(page_columns(plan, query, as_json))
    if query.cursor is not None and query.keyset:
        params["cursor"] = query.cursor
        where = [*where, sql.SQL("fid > {}").format(sql.Placeholder("cursor"))]
    if query.offset and not (query.cursor is not None and query.keyset):
        params["page_offset"] = query.offset
        statement = sql.SQL(
            "SELECT {select} FROM (SELECT fid FROM {table}{where} ORDER BY {order} "
            "LIMIT {limit} OFFSET {offset}) AS page JOIN {table} AS t USING (fid) ORDER BY {t_order}"
        ).format(select=select, table=table(layer), where=_where(where), order=order_by(query),
                 limit=sql.Placeholder("page_limit"), offset=sql.Placeholder("page_offset"),
                 t_order=_qualified_order(query))
    else:
        statement = sql.SQL("SELECT {select} FROM {table} AS t{where} ORDER BY {order} LIMIT {limit}").format(
            select=select, table=table(layer), where=_where(where), order=_qualified_order(query),
            limit=sql.Placeholder("page_limit"))
    return statement, params


def _qualified_order(query: ItemsQuery) -> sql.Composable:
    keys = [sql.SQL("t.{} {} NULLS LAST").format(sql.Identifier(name), sql.SQL("DESC" if desc else "ASC"))
            for name, desc in query.sortby]
    keys.append(sql.SQL("t.fid"))
    return sql.SQL(", ").join(keys)


def counted_first_page_sql(plan: AccessPlan, query: ItemsQuery, cap: int,
                           as_json: bool = False) -> tuple[sql.Composable, dict[str, Any]]:
    """A first page and the exact number of matches in one scan, for results expected small.

    The matches (their fid and sort keys, at most ``cap + 1``) are collected once; the count
    and the page both come from them. Each row starts with the count; when it exceeds ``cap``
    the page is not valid (only part of the matches was collected) and the caller falls back
    to ``page_sql``.
    """
    params: dict[str, Any] = {"count_cap": cap + 1, "page_limit": query.limit + 1}
    layer = plan.layer
    where = conditions(plan, query, params)
    keys = [sql.SQL("fid")] + [sql.Identifier(name) for name, _ in query.sortby]
    columns = page_columns(plan, query, as_json)
    statement = sql.SQL(
        "WITH matches AS MATERIALIZED (SELECT {keys} FROM {table}{where} LIMIT {cap}), "
        "page AS (SELECT fid FROM matches ORDER BY {order} LIMIT {limit}) "
        "SELECT (SELECT count(*) FROM matches), {select} FROM page JOIN {table} AS t USING (fid) "
        "ORDER BY {t_order}"
    ).format(keys=sql.SQL(", ").join(keys), table=table(layer), where=_where(where),
             cap=sql.Placeholder("count_cap"), order=order_by(query),
             limit=sql.Placeholder("page_limit"), select=sql.SQL(", ").join(columns),
             t_order=_qualified_order(query))
    return statement, params


def count_sql(plan: AccessPlan, query: ItemsQuery, *,
              cap: int | None) -> tuple[sql.Composable, dict[str, Any]]:
    """count(*) of the matches, stopping after ``cap + 1`` rows when a cap is given."""
    params: dict[str, Any] = {}
    layer = plan.layer
    where = _where(conditions(plan, query, params))
    if cap is None:
        statement = sql.SQL("SELECT count(*) FROM {}{}").format(table(layer), where)
    else:
        params["count_cap"] = cap + 1
        statement = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {}{} LIMIT {}) AS capped").format(
            table(layer), where, sql.Placeholder("count_cap"))
    return statement, params


def estimate_sql(plan: AccessPlan, query: ItemsQuery) -> tuple[sql.Composable, dict[str, Any]]:
    """The planner's row estimate for the matches (EXPLAIN, nothing is read)."""
    params: dict[str, Any] = {}
    layer = plan.layer
    where = _where(conditions(plan, query, params))
    return sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {}{}").format(table(layer), where), params


def item_sql(plan: AccessPlan, crs: OgcCrs, fid: int,
             footprint: bool = False) -> tuple[sql.Composable, dict[str, Any]]:
    """One feature by fid, with the plan's fields; outside the plan's rows it is not found."""
    layer = plan.layer
    params: dict[str, Any] = {"fid": fid}
    columns = [sql.SQL("fid")] + [sql.Identifier(f) for f in plan.fields]
    if layer.is_spatial:
        columns.append(geometry_output(crs, shown_geometry(footprint=footprint, alias=None)))
    where = [sql.SQL("fid = {}").format(sql.Placeholder("fid")), *row_filter(plan, params)]
    return sql.SQL("SELECT {} FROM {}{}").format(
        sql.SQL(", ").join(columns), table(layer), _where(where)), params

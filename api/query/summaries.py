"""Totals over a region from the layer's summaries (``iocgis/summaries.py``), equal to the
exact statement's (``sql.layer_statement``), without measuring every feature in the region.

The region's grid cells grown by the margin are sorted: those the region covers ("deep") give
their stored totals (their small features lie wholly inside the region, so areas need no
clipping); features in the other cells it touches, and the big features, are measured exactly,
found through the index cell by cell. The page of features is read as before. The statement
also says whether the summaries match the layer's data version, grid and fields; when not,
the engine answers with the exact statement instead.

A radius (``Around``) works the same way: the cells its circle surely covers (chosen in Python,
``circle_cells``) give their totals, the cells it may reach are measured with the exact
statement's own radius test, and the page (nearest first) is found through the index's planar
order, so geodesic distances and areas are computed only for the page's few candidates.

Used for ``Inside`` selections (a drawn region, an administrative unit) and ``Around`` ones
without conditions beyond the caller's communes, grouped by nothing or by a summarised field.
"""

from __future__ import annotations

import math
from typing import Any

import shapely
from psycopg import sql

from iocgis import summaries
from iocgis.access import AccessPlan
from iocgis.api.query import sql as qsql
from iocgis.api.query.spec import Around, Inside, LayerQuery
from iocgis.geodesy import expansion, min_metres_per_degree
from iocgis.layers import LayerDef
from iocgis.layers.types import STORAGE_SRID, field_type

_TEMPLATES: dict[tuple[Any, ...], bytes] = {}
MIN_CELLS = 36  # regions whose box spans fewer grid cells are measured exactly (as fast)
# circles whose box spans fewer cells (a radius under about 2.7 km) are measured exactly (as
# fast or faster there: measured at 2, 3 and 4 km on the generated 1M-parcel data)
MIN_CIRCLE_CELLS = 100
PAGE_PROBE_ROWS = 20_000  # a region's page is looked for among the layer's first fids first
PAGE_SORT_ROWS = 5_000  # unless it matches no more features than this: sorting them is quicker


def usable(query: LayerQuery) -> summaries.SummaryFields | None:
    """The layer's summary fields when they can answer ``query``'s totals, else None."""
    fields = summaries.summary_fields(query.layer)
    if query.layer.kept is not None:
        return None  # an older version (a regenerated report): summaries are of the live one
    sel = query.selection
    if fields is None or not (isinstance(sel, Around) or (isinstance(sel, Inside) and sel.clip)):
        return None
    if query.where or query.within is not None or query.ratios or query.extra:
        return None
    group = query.group_by.name if query.group_by else None
    if not fields.group_fields or (group is not None and group not in fields.group_fields):
        return None
    if not {f.name for f in query.totals} <= {f.name for f in fields.sums}:
        return None
    if not {f.name for f in query.flags} <= {f.name for f in fields.flags}:
        return None
    if isinstance(sel, Around):
        dx, dy = expansion(sel.lat, sel.radius_m)
        minx, miny, maxx, maxy = sel.lon - dx, sel.lat - dy, sel.lon + dx, sel.lat + dy
        least = MIN_CIRCLE_CELLS
    else:
        minx, miny, maxx, maxy = shapely.from_wkb(sel.wkb).bounds
        least = MIN_CELLS
    if (maxx - minx) * (maxy - miny) < least * summaries.GRID_DEG ** 2:
        return None  # a small region or circle: measuring its few features is as quick
    return fields


def _index(fields: summaries.SummaryFields, metric: str) -> sql.Composable:
    return sql.Literal(fields.metrics.index(metric) + 1)  # PostgreSQL arrays count from 1


def _groups(query: LayerQuery, fields: summaries.SummaryFields,
            measure_names: list[str]) -> sql.Composable:
    """The groups JSON, as ``sql._groups`` writes it, from the combined value arrays ``tot``."""
    def v(metric: str) -> sql.Composable:
        return sql.SQL("coalesce(v[{}], 0)").format(_index(fields, metric))

    def total(name: str) -> sql.Composable:
        return sql.SQL("CASE WHEN {c} = 0 THEN NULL ELSE {s} END").format(
            c=v(f"cnt:{name}"), s=v(f"sum:{name}"))

    cols: list[sql.Composable] = [
        sql.SQL("key AS key") if query.group_by else sql.SQL("NULL AS key"),
        sql.SQL("{}::bigint AS count").format(v("n")),
        sql.SQL("{} AS sum").format(qsql._json_object(
            [(f.name, total(f.name)) for f in query.totals])),
        sql.SQL("{} AS avg").format(qsql._json_object(
            [(f.name, sql.SQL("{} / NULLIF({}, 0)").format(total(f.name), v(f"cnt:{f.name}")))
             for f in query.totals]))]
    if query.flags:
        cols.append(sql.SQL("{} AS true_count").format(qsql._json_object(
            [(f.name, sql.SQL("{}::bigint").format(v(f"true:{f.name}"))) for f in query.flags])))
    for name, metric in ((qsql.AREA, "area"), (qsql.LENGTH, "length")):
        if name in measure_names:
            cols.append(sql.SQL("round({}, 2) AS {}").format(v(metric), sql.Identifier(name)))
    if query.group_by:
        source = sql.SQL("tot ORDER BY key NULLS LAST")
    else:  # one group over everything, also when nothing matches
        source = sql.SQL("(SELECT array_agg(s ORDER BY i) AS v FROM (SELECT i, sum(x) AS s FROM"
                         " tot, unnest(tot.v) WITH ORDINALITY z(x, i) GROUP BY i) w) one")
    return sql.SQL("SELECT coalesce(json_agg(g), '[]'::json)::text FROM (SELECT {cols} FROM"
                   " {source} LIMIT {limit}) g").format(
        cols=sql.SQL(", ").join(cols), source=source, limit=sql.Literal(qsql.MAX_GROUPS + 1))


# A circle's grown cell is covered ("deep") when its farthest point, one of its corners, is
# within r / SPHERE_HIGH of the centre on PostGIS's sphere: then every feature in it is within
# the radius on the spheroid too, as the exact statement decides. A cell may hold matches when
# the sphere distance to it is within r / REACH (wider than the exact statement's
# r / SPHERE_LOW: the slack absorbs rounding); those are measured exactly.
REACH = 0.985
SPHERE_R = 6_371_008.8  # PostGIS's mean sphere (ST_Distance(geography, geography, false))


def _half_width(lat0: float, lat: float, angle: float) -> float | None:
    """Half the longitudes (radians) at latitude ``lat`` within great-circle ``angle`` of a
    point at ``lat0`` (radians); None when none is."""
    cos_lon = ((math.cos(angle) - math.sin(lat0) * math.sin(lat))
               / (math.cos(lat0) * math.cos(lat)))
    if cos_lon > 1:
        return None
    return math.pi if cos_lon < -1 else math.acos(cos_lon)


def circle_cells(lon: float, lat: float, radius_m: float
                 ) -> tuple[list[int], list[int], list[int]]:
    """(covered cell ids, the columns and rows of the cells it may reach otherwise) of the
    circle's grown grid cells. On the sphere a point's distance grows with the longitude apart
    along a parallel, so per row of cells the covered ones and the reached ones are runs of
    columns; the widest longitude of the reach lies at latitude asin(sin(lat0) / cos(angle))."""
    g, m = summaries.GRID_DEG, summaries.MARGIN_DEG
    lat0 = math.radians(lat)
    inner = radius_m / qsql.SPHERE_HIGH / SPHERE_R * (1 - 1e-9)
    outer = radius_m / REACH / SPHERE_R
    top = math.asin(min(1.0, math.sin(lat0) / math.cos(outer)))
    reach_deg = math.degrees(outer)
    deep: list[int] = []
    edge_i: list[int] = []
    edge_j: list[int] = []
    for j in range(math.floor((lat - reach_deg - m) / g), math.floor((lat + reach_deg + m) / g) + 1):
        y0, y1 = math.radians(j * g - m), math.radians((j + 1) * g + m)
        widest = _half_width(lat0, min(max(top, y0), y1), outer)
        if widest is None:
            continue
        w = math.degrees(widest)
        i_low, i_high = math.floor((lon - w - m) / g), math.floor((lon + w + m) / g)
        narrow = [_half_width(lat0, y, inner) for y in (y0, y1)]
        low = high = None
        if narrow[0] is not None and narrow[1] is not None:
            half = math.degrees(min(narrow[0], narrow[1]))
            low = math.ceil((lon - half + m) / g)  # i * g - m >= lon - half
            high = math.floor((lon + half - m) / g) - 1  # (i + 1) * g + m <= lon + half
        for i in range(i_low, i_high + 1):
            if low is not None and high is not None and low <= i <= high:
                deep.append((i + summaries.CELL_OFFSET) * summaries.CELL_BASE
                            + j + summaries.CELL_OFFSET)
            else:
                edge_i.append(i)
                edge_j.append(j)
    return deep, edge_i, edge_j


def _as_columns(measures: list[tuple[str, sql.Composable]]) -> sql.Composable:
    """``, expr AS name`` for each of the page's measures."""
    return sql.SQL("").join(sql.SQL(", {} AS {}").format(e, sql.Identifier(name))
                            for name, e in measures)


def _circle_match(n: qsql._Names) -> tuple[sql.Composable, sql.Composable]:
    """(a LATERAL join giving ``d.s``, the sphere distance of ``t.geom``; the exact statement's
    radius test on it: the sphere decides all but a thin ring, the spheroid the ring)."""
    pt, r = qsql._point(n), n("radius")
    lateral = sql.SQL(" CROSS JOIN LATERAL (SELECT ST_Distance(t.geom::geography,"
                      " {pt}::geography, false) AS s) d").format(pt=pt)
    match = sql.SQL(
        "(d.s <= {r}::float8 / {hi} OR (d.s <= {r}::float8 / {lo}"
        " AND ST_Distance(t.geom::geography, {pt}::geography) <= {r}::float8))").format(
        r=r, pt=pt, hi=sql.Literal(qsql.SPHERE_HIGH), lo=sql.Literal(qsql.SPHERE_LOW))
    return lateral, match


def _template(query: LayerQuery, fields: summaries.SummaryFields, rows: bool,
              layer_property: bool, where: list[Any]) -> tuple[sql.Composed, set[str]]:
    n = qsql._Names(qsql._flat(where))
    layer = query.layer
    table = qsql._table(layer)
    g, m = sql.Literal(summaries.GRID_DEG), sql.Literal(summaries.MARGIN_DEG)
    circle = isinstance(query.selection, Around)
    scope = sql.SQL("").join(sql.SQL(" AND ") + qsql.condition_sql(n, "t", c) for c in where)
    commune_scope = sql.SQL("")
    if query.plan.commune_field is not None:
        commune_scope = sql.SQL(" AND c.commune_code = ANY({}::text[])").format(n("communes"))
    measure_list = qsql.measures(query, n)
    measure_names = [name for name, _ in measure_list]
    # totals measure areas or lengths (clipped to a region); a distance is only for the page
    measured = [expr for name, expr in measure_list if name != qsql.DISTANCE]
    key = (sql.Identifier("t", query.group_by.name) if query.group_by
           else sql.Identifier("t", fields.group_fields[0]))
    aggregates: list[sql.Composable] = [sql.SQL("count(*)::numeric")]
    for f in fields.sums:
        col = sql.Identifier("e", f.name)
        aggregates += [sql.SQL("coalesce(sum({}), 0)::numeric").format(col),
                       sql.SQL("count({})::numeric").format(col)]
    aggregates += [sql.SQL("count(*) FILTER (WHERE {})::numeric").format(
        sql.Identifier("e", f.name)) for f in fields.flags]
    if fields.measure:
        aggregates.append(sql.SQL("coalesce(sum(e.m), 0)::numeric"))
    exact_cols = sql.SQL(", ").join([
        sql.SQL("t.fid"), sql.SQL("{}::text AS key").format(key),
        *(sql.SQL("t.{}").format(sql.Identifier(f.name)) for f in (*fields.sums, *fields.flags)),
        sql.SQL("{} AS m").format(measured[0]) if measured else sql.SQL("NULL::numeric AS m")])
    columns = [sql.SQL("t.fid"), sql.SQL("t.geom"),
               *(sql.SQL("t.{}").format(sql.Identifier(f.name)) for f in query.fields)]
    area_column = layer.area_column
    if area_column and area_column != "geom":
        columns.append(sql.SQL("t.{}").format(sql.Identifier(area_column)))
    cols = sql.SQL(", ").join(columns)
    grown = sql.SQL("ST_MakeEnvelope(i * {g} - {m}, j * {g} - {m}, (i + 1) * {g} + {m},"
                    " (j + 1) * {g} + {m}, {srid})").format(g=g, m=m,
                                                            srid=sql.Literal(STORAGE_SRID))
    cell = summaries.cell_id_sql(sql.SQL("i"), sql.SQL("j"))
    if circle:
        pt = qsql._point(n)
        box = sql.SQL("ST_Expand({}, {}::float8, {}::float8)").format(pt, n("dx"), n("dy"))
        lateral, match = _circle_match(n)

        head = sql.SQL("")
        cells = sql.SQL("SELECT {cell} AS cell, {grown} AS grown, false AS deep"
                        " FROM unnest({ei}::int[], {ej}::int[]) x(i, j)").format(
            cell=cell, grown=grown, ei=n("edge_i"), ej=n("edge_j"))
        deep_cells = sql.SQL("= ANY({}::bigint[])").format(n("deep"))
        boundary = sql.SQL("cls x JOIN {table} t ON t.geom && x.grown{lateral} WHERE NOT x.deep"
                           " AND {tcell} = x.cell AND {small} AND {match}{scope}").format(
            table=table, lateral=lateral, tcell=summaries.feature_cell(layer),
            small=summaries.feature_small(layer), match=match, scope=scope)
        big = sql.SQL("big b JOIN {table} t ON t.fid = b.fid{lateral} WHERE t.geom && {box}"
                      " AND {match}{scope}").format(table=table, lateral=lateral, box=box,
                                                    match=match, scope=scope)
        # The page, nearest first: the first (limit + offset) matches in the index's planar
        # order; every feature of the true first ones lies within their farthest geodesic
        # distance over the fewest metres a degree can be here (``mdeg``), so only those are
        # ranked by the spheroid. Geodesic distances and areas only for these few.
        distance = sql.SQL("ST_Distance(t.geom::geography, {}::geography) AS {}").format(
            pt, sql.Identifier(qsql.DISTANCE))
        want = sql.SQL("(CASE WHEN {l} = 0 THEN 0 ELSE {l} + {o} END)").format(
            l=n("limit"), o=n("offset"))
        page_ctes = sql.SQL(
            ", knn AS MATERIALIZED (SELECT {cols}, {distance} FROM {table} t{lateral}"
            " WHERE t.geom && {box} AND {match}{scope} ORDER BY t.geom <-> {pt} LIMIT {want}),"
            " reach AS (SELECT count(*) AS k, max({d}) / {mdeg}::float8 AS deg FROM knn),"
            " cand AS (SELECT * FROM knn WHERE (SELECT k FROM reach) < {want} UNION ALL"
            " SELECT {cols}, {distance} FROM reach, {table} t{lateral} WHERE reach.k >= {want}"
            " AND ST_DWithin(t.geom, {pt}, reach.deg) AND t.geom && {box} AND {match}{scope})"
        ).format(cols=cols, distance=distance, table=table, lateral=lateral, box=box,
                 match=match, scope=scope, pt=pt, want=want, d=sql.Identifier(qsql.DISTANCE),
                 mdeg=n("mdeg"))
        page_measures = [(name, e) for name, e in qsql.measures(query, n, alias="c")
                         if name != qsql.DISTANCE]
        page = sql.SQL("SELECT c.*{measures} FROM cand c ORDER BY c.{d}, c.fid"
                       " LIMIT {limit} OFFSET {offset}").format(
            measures=_as_columns(page_measures),
            d=sql.Identifier(qsql.DISTANCE), limit=n("limit"), offset=n("offset"))
    else:
        head = sql.SQL("region AS (SELECT ST_GeomFromWKB({}, {}) AS g), ").format(
            n("region"), sql.Literal(STORAGE_SRID))
        deep_cells = sql.SQL("IN (SELECT cell FROM cls WHERE deep)")
        cells = sql.SQL(
            "SELECT x.cell, x.grown, ST_Covers(r.g, x.grown) AS deep"
            " FROM (SELECT {cell} AS cell, {grown} AS grown FROM region r,"
            " generate_series(floor((ST_XMin(r.g) - {m}) / {g})::int,"
            " floor((ST_XMax(r.g) + {m}) / {g})::int) i,"
            " generate_series(floor((ST_YMin(r.g) - {m}) / {g})::int,"
            " floor((ST_YMax(r.g) + {m}) / {g})::int) j) x, region r"
            " WHERE x.grown && r.g AND ST_Intersects(r.g, x.grown)").format(
            cell=cell, grown=grown, g=g, m=m)
        boundary = sql.SQL("cls x JOIN {table} t ON t.geom && x.grown, region r WHERE NOT x.deep"
                           " AND {tcell} = x.cell AND {small} AND ST_Intersects(r.g, t.geom)"
                           "{scope}").format(table=table, tcell=summaries.feature_cell(layer),
                                             small=summaries.feature_small(layer), scope=scope)
        big = sql.SQL("big b JOIN {table} t ON t.fid = b.fid, region r WHERE t.geom && r.g"
                      " AND ST_Intersects(r.g, t.geom){scope}").format(table=table, scope=scope)
        # The page is the region's first features by fid. When the region matches more than
        # PAGE_SORT_ROWS features they are looked for among the layer's first PAGE_PROBE_ROWS
        # fids first (through the primary key: a bounded read); only when fewer match there
        # (data stored commune by commune, a deep page), or the region matches few, are all
        # its features sorted. Either way the page of the exact statement.
        want = sql.SQL("({l} + {o})").format(l=n("limit"), o=n("offset"))
        # only the columns the caller may read (a personal-data column is refused by name)
        read = list(columns)
        if (query.plan.commune_field is not None
                and query.plan.commune_field not in {f.name for f in query.fields}):
            read.append(sql.Identifier("t", query.plan.commune_field))
        page_ctes = sql.SQL(
            ", probe AS MATERIALIZED (SELECT {cols} FROM (SELECT {read} FROM {table} t"
            " ORDER BY t.fid LIMIT {rows}) t, region r WHERE {want} > 0"
            " AND (SELECT n FROM matched) > {few} AND t.geom && r.g"
            " AND ST_Intersects(r.g, t.geom){scope} ORDER BY t.fid LIMIT {want}),"
            " cand AS (SELECT * FROM probe WHERE (SELECT count(*) FROM probe) >= {want}"
            " UNION ALL SELECT {cols} FROM {table} t, region r"
            " WHERE (SELECT count(*) FROM probe) < {want} AND t.geom && r.g"
            " AND ST_Intersects(r.g, t.geom){scope})").format(
            cols=cols, table=table, rows=sql.Literal(PAGE_PROBE_ROWS), want=want, scope=scope,
            few=sql.Literal(PAGE_SORT_ROWS),
            read=sql.SQL(", ").join(read))
        page_measures = qsql.measures(query, n, alias="t")
        page = sql.SQL(
            "SELECT t.*{measures} FROM (SELECT * FROM cand t ORDER BY t.fid LIMIT {limit}"
            " OFFSET {offset}) t, region r").format(
            measures=_as_columns(page_measures),
            limit=n("limit"), offset=n("offset"))
    statement = sql.SQL(
        "WITH {head}fresh AS (SELECT summaries.fresh({layer}, {g}, {m}, {gfs}::text[],"
        " {metrics}::text[]) AS ok),"
        " cls AS MATERIALIZED ({cells}),"
        " summed AS (SELECT c.group_key AS key, c.\"values\" AS v FROM summaries.cells c"
        " WHERE c.layer_id = {layer} AND c.group_field = {gf}"
        " AND c.cell {deep_cells}{commune_scope}),"
        " big AS MATERIALIZED (SELECT fid FROM summaries.big_features WHERE layer_id = {layer}),"
        " e AS MATERIALIZED (SELECT {exact_cols} FROM {boundary}"
        " UNION ALL SELECT {exact_cols} FROM {big}),"
        " tot AS (SELECT key, array_agg(s ORDER BY i) AS v FROM (SELECT key, i, sum(x) AS s"
        " FROM (SELECT key, v FROM summed UNION ALL SELECT e.key, ARRAY[{aggs}] FROM e"
        " GROUP BY e.key) u, unnest(u.v) WITH ORDINALITY z(x, i) GROUP BY key, i) w"
        " GROUP BY key),"
        " matched AS (SELECT coalesce(sum(v[1]), 0)::bigint AS n FROM tot){page_ctes}"
        " SELECT (SELECT n FROM matched), ({groups}), ({features}),"
        " coalesce((SELECT ok FROM fresh), false)").format(
        head=head, g=g, m=m, gfs=n("group_fields"), metrics=n("metrics"), layer=n("layer"),
        gf=n("group_field"), cells=cells, deep_cells=deep_cells, commune_scope=commune_scope,
        exact_cols=exact_cols, boundary=boundary, big=big, aggs=sql.SQL(", ").join(aggregates),
        page_ctes=page_ctes,
        groups=_groups(query, fields, measure_names),
        features=qsql._features(query, measure_names, page, rows=rows,
                                layer_property=layer_property,
                                matched=sql.SQL("(SELECT n FROM matched)")))
    return statement, n.used


def summary_statement(query: LayerQuery, *, rows: bool = False,
                      layer_property: bool = False) -> qsql.Statement | None:
    """The statement answering ``query`` from the summaries: (count, groups JSON, features
    JSON, fresh); None when the summaries cannot answer it."""
    fields = usable(query)
    if fields is None:
        return None
    sel = query.selection
    where = list(qsql.scope_conditions_of(query.plan))
    values: dict[str, Any] = {
        "limit": int(query.limit) if query.with_features else 0,
        "offset": int(query.offset), "layer": query.layer.id,
        "group_field": query.group_by.name if query.group_by else fields.group_fields[0],
        "group_fields": list(fields.group_fields), "metrics": list(fields.metrics)}
    if isinstance(sel, Around):
        values["lon"], values["lat"], values["radius"] = sel.lon, sel.lat, sel.radius_m
        values["dx"], values["dy"] = expansion(sel.lat, sel.radius_m)
        values["mdeg"] = min_metres_per_degree(sel.lat, 2 * values["dy"])
        values["deep"], values["edge_i"], values["edge_j"] = circle_cells(sel.lon, sel.lat,
                                                                          sel.radius_m)
    else:
        assert isinstance(sel, Inside)
        values["region"] = sel.wkb
    values.update((f"c{i}", qsql.condition_value(c)) for i, c in enumerate(qsql._flat(where)))
    if query.plan.commune_field is not None:
        values["communes"] = list(query.plan.communes or ())
    key = ("summary", qsql._shape(query, rows, layer_property, [], where))
    text = _TEMPLATES.get(key)
    if text is None:
        composed, used = _template(query, fields, rows, layer_property, where)
        if used != set(values):
            raise AssertionError(f"placeholders {sorted(used ^ set(values))} of {query.layer.id}")
        text = composed.as_bytes(None)
        _TEMPLATES[key] = text
    return qsql.Statement(text, values, None, summary=True)


def fresh_statement(layer: LayerDef) -> tuple[bytes, tuple[Any, ...]] | None:
    """Whether the layer's summaries match its data, grid and fields (one boolean)."""
    fields = summaries.summary_fields(layer)
    if fields is None:
        return None
    return (b"SELECT summaries.fresh(%s, %s, %s, %s, %s)",
            (layer.id, summaries.GRID_DEG, summaries.MARGIN_DEG, list(fields.group_fields),
             list(fields.metrics)))


def units_statement(unit_layer: LayerDef, plan: AccessPlan, aggregates: list[Any],
                    province_code: str, with_geometry: bool, by_field: str | None,
                    has_conditions: bool) -> tuple[sql.Composed, dict[str, Any]] | None:
    """``choropleth_statement``'s rows (features placed by the commune they record) from the
    communes' totals (cell -1), or None when the summaries cannot give them: another method,
    conditions, min or max, a field they do not hold."""
    layer = plan.layer
    fields = summaries.summary_fields(layer)
    if (fields is None or has_conditions or by_field is None or by_field != layer.commune_field
            or unit_layer.admin_level != "commune"):
        return None
    sums = {f.name: f for f in fields.sums}
    flags = {f.name for f in fields.flags}

    def v(metric: str) -> sql.Composable:
        return sql.SQL("a.v[{}]").format(_index(fields, metric))

    outer: list[sql.Composable] = []
    for agg in aggregates:
        name = sql.Identifier(agg.name)
        if agg.kind == "count":
            expr: sql.Composable = sql.SQL("coalesce({}, 0)::bigint").format(v("n"))
        elif agg.kind in ("area", "length") and fields.measure == agg.kind:
            expr = sql.SQL("round(coalesce({}, 0), 2)").format(v(agg.kind))
        elif agg.kind == "true" and agg.field.name in flags:
            expr = sql.SQL("coalesce({}, 0)::bigint").format(v(f"true:{agg.field.name}"))
        elif agg.kind in ("sum", "avg") and agg.field.name in sums:
            f = agg.field.name
            cast = sql.SQL("::bigint" if field_type(sums[f].type).whole else "")
            total = sql.SQL("CASE WHEN {c} > 0 THEN {s} END").format(c=v(f"cnt:{f}"),
                                                                     s=v(f"sum:{f}"))
            expr = (sql.SQL("({}){}").format(total, cast) if agg.kind == "sum" else
                    sql.SQL("{} / {}").format(total, v(f"cnt:{f}")))
        else:
            return None
        outer.append(sql.SQL("{} AS {}").format(expr, name))
    key = unit_layer.key[0]
    bind = qsql.Binder()
    scope = sql.SQL("")
    if plan.commune_field is not None:
        scope = sql.SQL(" AND c.commune_code = ANY({}::text[])").format(
            bind(list(plan.communes or ())))
    unit_filter = sql.SQL("")
    if unit_layer.has_field("province_code"):
        unit_filter = sql.SQL(" WHERE u.province_code = {}").format(bind(province_code))
    columns = [sql.SQL("u.{} AS code").format(sql.Identifier(key)),
               sql.SQL("u.{} AS name").format(sql.Identifier(unit_layer.label or key)), *outer]
    if with_geometry:
        columns.append(sql.SQL("ST_AsGeoJSON(u.geom, 6) AS geometry"))
    statement = sql.SQL(
        "SELECT {cols} FROM {units} u LEFT JOIN (SELECT c.group_key AS code, c.\"values\" AS v"
        " FROM summaries.cells c WHERE c.layer_id = {layer} AND c.group_field = {field}"
        " AND c.cell = {total}{scope}) a ON a.code = u.{key}{unit_filter} ORDER BY 1").format(
        cols=sql.SQL(", ").join(columns), units=qsql._table(unit_layer),
        layer=bind(layer.id), field=bind(by_field), total=sql.Literal(summaries.COMMUNE_TOTAL),
        scope=scope, key=sql.Identifier(key), unit_filter=unit_filter)
    return statement, bind.params

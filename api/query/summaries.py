"""Totals over a region from the layer's summaries (``iocgis/summaries.py``), equal to the
exact statement's (``sql.layer_statement``), without measuring every feature in the region.

The region's grid cells grown by the margin are sorted: those the region covers ("deep") give
their stored totals (their small features lie wholly inside the region, so areas need no
clipping); features in the other cells it touches, and the big features, are measured exactly,
found through the index cell by cell. The page of features is read as before. The statement
also says whether the summaries match the layer's data version, grid and fields; when not,
the engine answers with the exact statement instead.

Used for ``Inside`` selections (a drawn region, an administrative unit) without conditions
beyond the caller's communes, grouped by nothing or by a summarised field.
"""

from __future__ import annotations

from typing import Any

import shapely
from psycopg import sql

from iocgis import summaries
from iocgis.access import AccessPlan
from iocgis.api.query import sql as qsql
from iocgis.api.query.spec import Inside, LayerQuery
from iocgis.layers import LayerDef

_TEMPLATES: dict[tuple[Any, ...], bytes] = {}
MIN_CELLS = 36  # regions whose box spans fewer grid cells are measured exactly (as fast)


def usable(query: LayerQuery) -> summaries.SummaryFields | None:
    """The layer's summary fields when they can answer ``query``'s totals, else None."""
    fields = summaries.summary_fields(query.layer)
    if fields is None or not isinstance(query.selection, Inside) or not query.selection.clip:
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
    minx, miny, maxx, maxy = shapely.from_wkb(query.selection.wkb).bounds
    if (maxx - minx) * (maxy - miny) < MIN_CELLS * summaries.GRID_DEG ** 2:
        return None  # a small region: measuring its few features is as quick
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


def _template(query: LayerQuery, fields: summaries.SummaryFields, rows: bool,
              layer_property: bool, where: list[Any]) -> tuple[sql.Composed, set[str]]:
    n = qsql._Names(qsql._flat(where))
    layer = query.layer
    table = qsql._table(layer)
    g, m = sql.Literal(summaries.GRID_DEG), sql.Literal(summaries.MARGIN_DEG)
    scope = sql.SQL("").join(sql.SQL(" AND ") + qsql.condition_sql(n, "t", c) for c in where)
    commune_scope = sql.SQL("")
    if query.plan.commune_field is not None:
        commune_scope = sql.SQL(" AND c.commune_code = ANY({}::text[])").format(n("communes"))
    measure_list = qsql.measures(query, n)
    measure_names = [name for name, _ in measure_list]
    measured = [expr for _, expr in measure_list]
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
    page_measures = qsql.measures(query, n, alias="t")
    page = sql.SQL(
        "SELECT t.*{measures} FROM (SELECT {cols} FROM {table} t, region r WHERE t.geom && r.g"
        " AND ST_Intersects(r.g, t.geom){scope} ORDER BY t.fid LIMIT {limit} OFFSET {offset}) t,"
        " region r").format(
        measures=sql.SQL("").join(sql.SQL(", {} AS {}").format(e, sql.Identifier(name))
                                  for name, e in page_measures),
        cols=sql.SQL(", ").join(columns), table=table, scope=scope, limit=n("limit"),
        offset=n("offset"))
    statement = sql.SQL(
        "WITH region AS (SELECT ST_GeomFromWKB({region}, 4326) AS g),"
        " fresh AS (SELECT summaries.fresh({layer}, {g}, {m}, {gfs}::text[], {metrics}::text[])"
        " AS ok),"
        " cls AS MATERIALIZED (SELECT x.cell, x.grown, ST_CoveredBy(x.grown, r.g) AS deep"
        " FROM (SELECT {cell} AS cell, ST_MakeEnvelope(i * {g} - {m}, j * {g} - {m},"
        " (i + 1) * {g} + {m}, (j + 1) * {g} + {m}, 4326) AS grown FROM region r,"
        " generate_series(floor((ST_XMin(r.g) - {m}) / {g})::int,"
        " floor((ST_XMax(r.g) + {m}) / {g})::int) i,"
        " generate_series(floor((ST_YMin(r.g) - {m}) / {g})::int,"
        " floor((ST_YMax(r.g) + {m}) / {g})::int) j) x, region r"
        " WHERE x.grown && r.g AND ST_Intersects(x.grown, r.g)),"
        " summed AS (SELECT c.group_key AS key, c.\"values\" AS v FROM summaries.cells c"
        " WHERE c.layer_id = {layer} AND c.group_field = {gf}"
        " AND c.cell IN (SELECT cell FROM cls WHERE deep){commune_scope}),"
        " big AS MATERIALIZED (SELECT fid FROM summaries.big_features WHERE layer_id = {layer}),"
        " e AS MATERIALIZED ("
        "SELECT {exact_cols} FROM cls x JOIN {table} t ON t.geom && x.grown, region r"
        " WHERE NOT x.deep AND {tcell} = x.cell AND {small} AND ST_Intersects(r.g, t.geom){scope}"
        " UNION ALL SELECT {exact_cols} FROM big b JOIN {table} t ON t.fid = b.fid, region r"
        " WHERE t.geom && r.g AND ST_Intersects(r.g, t.geom){scope}),"
        " tot AS (SELECT key, array_agg(s ORDER BY i) AS v FROM (SELECT key, i, sum(x) AS s"
        " FROM (SELECT key, v FROM summed UNION ALL SELECT e.key, ARRAY[{aggs}] FROM e"
        " GROUP BY e.key) u, unnest(u.v) WITH ORDINALITY z(x, i) GROUP BY key, i) w"
        " GROUP BY key),"
        " matched AS (SELECT coalesce(sum(v[1]), 0)::bigint AS n FROM tot)"
        " SELECT (SELECT n FROM matched), ({groups}), ({features}),"
        " coalesce((SELECT ok FROM fresh), false)").format(
        region=n("region"), g=g, m=m, gfs=n("group_fields"), metrics=n("metrics"),
        layer=n("layer"), gf=n("group_field"), cell=summaries.cell_id_sql(sql.SQL("i"), sql.SQL("j")),
        commune_scope=commune_scope, exact_cols=exact_cols, table=table,
        tcell=summaries.feature_cell(layer), small=summaries.feature_small(layer), scope=scope,
        aggs=sql.SQL(", ").join(aggregates), groups=_groups(query, fields, measure_names),
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
    assert isinstance(query.selection, Inside)
    where = list(qsql.scope_conditions_of(query.plan))
    values: dict[str, Any] = {
        "region": query.selection.wkb, "limit": int(query.limit) if query.with_features else 0,
        "offset": int(query.offset), "layer": query.layer.id,
        "group_field": query.group_by.name if query.group_by else fields.group_fields[0],
        "group_fields": list(fields.group_fields), "metrics": list(fields.metrics)}
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
            cast = sql.SQL("::bigint" if sums[f].type in ("integer", "bigint") else "")
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

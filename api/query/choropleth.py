"""``/query/admin?level=commune&layer=...&agg=...``: one row per administrative unit.

Each feature is counted once, so the rows add up to the province total and a choropleth never
counts a house twice. Two ways to place a feature in a unit (``by=``):

- ``field`` (the default when the layer records its unit): the layer's required ``<level>_code``,
  the commune of the administrative record (a house's, a parcel's). A hash join: all communes
  over half a million houses in a fraction of a second.
- ``geometry``: the unit holding the feature's representative point (``ST_PointOnSurface``;
  the point itself for point layers). Needed for layers without the field; several times slower.

``/query/admin/{code}`` instead lists every feature touching the unit, areas clipped to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response

from iocgis.access import AccessPlan
from iocgis.api.query import allowlist, render, summaries
from iocgis.api.query.context import QueryContext
from iocgis.api.query.engine import reading
from iocgis.api.query.params import Params
from iocgis.api.query.spec import Condition
from iocgis.api.query.sql import Binder, condition_sql, scope_conditions_of
from iocgis.errors import InvalidInput
from iocgis.layers import FieldDef, LayerDef

LEVELS = ("commune", "province")
FUNCTIONS = ("sum", "avg", "min", "max")
METHODS = ("field", "geometry")


def unit_field(layer: LayerDef, unit_layer: LayerDef) -> str | None:
    """The layer's field recording its unit: ``<level>_code``, required (every feature has
    one) and shaped like the unit's key; None when the layer has no such field."""
    name = f"{unit_layer.admin_level}_code"
    if not layer.has_field(name):
        return None
    key = unit_layer.field(unit_layer.key[0])
    field = layer.field(name)
    same_shape = field.type == key.type and field.pattern == key.pattern
    return name if field.required and same_shape else None


@dataclass(frozen=True)
class Aggregate:
    name: str  # the output column
    kind: str  # count, sum, avg, min, max, true, area, length
    field: FieldDef | None = None
    column: str = "geom"  # what area and length measure (a house's footprint)


def parse_aggregates(plan: AccessPlan, items: list[str]) -> list[Aggregate]:
    """``agg=count,sum:household_size,true:is_poor,area``; default: count and the totals."""
    layer = plan.layer
    if not items:
        items = ["count"] + [f"sum:{f.name}" for f in allowlist.totalled_fields(plan)]
    out: dict[str, Aggregate] = {}
    geometry = layer.geometry or ""
    for item in items:
        kind, _, name = item.partition(":")
        kind = kind.strip().lower()
        if kind == "count" and not name:
            out["count"] = Aggregate("count", "count")
        elif kind == "area" and not name:
            if layer.area_column is None:
                raise InvalidInput(f"layer {layer.id} has no polygons to measure", where="agg",
                                   hint="use agg=area on polygon layers, agg=length on lines")
            out["measured_area_m2"] = Aggregate("measured_area_m2", "area",
                                                column=layer.area_column)
        elif kind == "length" and not name:
            if "LineString" not in geometry:
                raise InvalidInput(f"layer {layer.id} has no lines to measure", where="agg",
                                   hint="use agg=length on line layers, agg=area on polygons")
            out["measured_length_m"] = Aggregate("measured_length_m", "length")
        elif kind in (*FUNCTIONS, "true") and name:
            fdef = allowlist.readable_field(plan, name.strip(), "agg")
            wanted = "boolean" if kind == "true" else "numeric"
            if (kind == "true" and fdef.type != "boolean") or (kind != "true" and not fdef.is_numeric):
                raise InvalidInput(f"{kind}:{fdef.name} needs a {wanted} field, "
                                   f"{fdef.name} is {fdef.type}", where="agg",
                                   hint="sum, avg, min and max take numbers; true counts "
                                        "true/false fields")
            out[f"{kind}_{fdef.name}"] = Aggregate(f"{kind}_{fdef.name}", kind, fdef)
        else:
            raise InvalidInput(f"cannot read the aggregate {item[:40]!r}", where="agg",
                               hint="use count, area, length, sum:<field>, avg:<field>, "
                                    "min:<field>, max:<field> or true:<field>")
    return list(out.values())


def _aggregate_sql(agg: Aggregate) -> sql.Composable:
    if agg.kind == "count":
        return sql.SQL("count(t.fid)")
    if agg.kind == "area":
        return sql.SQL("round(coalesce(sum(ST_Area({}::geography)), 0)::numeric, 2)").format(
            sql.Identifier("t", agg.column))
    if agg.kind == "length":
        return sql.SQL("round(coalesce(sum(ST_Length(t.geom::geography)), 0)::numeric, 2)")
    assert agg.field is not None
    col = sql.Identifier("t", agg.field.name)
    if agg.kind == "true":
        return sql.SQL("count(t.fid) FILTER (WHERE {})").format(col)
    return sql.SQL("{}({})").format(sql.SQL(agg.kind), col)


def choropleth_statement(unit_layer: LayerDef, layer: LayerDef, aggregates: list[Aggregate],
                         conditions: tuple[Condition, ...], province_code: str,
                         with_geometry: bool, by_field: str | None = None,
                         ) -> tuple[sql.Composed, dict[str, object]]:
    """One row per unit; features placed by ``by_field`` when given, else by geometry."""
    bind = Binder()
    key = unit_layer.key[0]
    label = unit_layer.label or key
    columns = [sql.SQL("u.{} AS code").format(sql.Identifier(key)),
               sql.SQL("u.{} AS name").format(sql.Identifier(label))]
    if with_geometry:
        geometry = [sql.SQL("ST_AsGeoJSON(u.geom, 6) AS geometry")]
    else:
        geometry = []
    unit_filter = sql.SQL("")
    if unit_layer.admin_level == "commune" and unit_layer.has_field("province_code"):
        unit_filter = sql.SQL(" WHERE u.province_code = {}").format(bind(province_code))
    units = sql.Identifier(unit_layer.schema_name, unit_layer.table_name)
    table = sql.Identifier(layer.schema_name, layer.table_name)
    where = [condition_sql(bind, "t", c) for c in conditions]
    if by_field:
        # Aggregate the layer by its recorded code first (a parallel partial aggregate over the
        # whole table), then name the units: far cheaper than joining every row to its unit.
        inner = [sql.SQL("{} AS {}").format(_aggregate_sql(a), sql.Identifier(a.name))
                 for a in aggregates]
        outer = [sql.SQL("coalesce(a.{n}, 0) AS {n}" if a.kind in ("count", "true", "area",
                                                                    "length")
                         else "a.{n} AS {n}").format(n=sql.Identifier(a.name))
                 for a in aggregates]
        filter_sql = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
        statement = sql.SQL(
            "SELECT {cols} FROM {units} u LEFT JOIN (SELECT t.{field} AS unit_code, {inner}"
            " FROM {table} t{filter} GROUP BY 1) a ON a.unit_code = u.{key}{unit_filter}"
            " ORDER BY 1").format(
            cols=sql.SQL(", ").join([*columns, *outer, *geometry]), units=units,
            field=sql.Identifier(by_field), inner=sql.SQL(", ").join(inner), table=table,
            filter=filter_sql, key=sql.Identifier(key), unit_filter=unit_filter)
        return statement, bind.params
    if "Point" in (layer.geometry or ""):
        join = [sql.SQL("t.geom && u.geom"), sql.SQL("ST_Intersects(u.geom, t.geom)")]
    else:
        join = [sql.SQL("t.geom && u.geom"),
                sql.SQL("ST_Intersects(u.geom, ST_PointOnSurface(t.geom))")]
    columns += [sql.SQL("{} AS {}").format(_aggregate_sql(a), sql.Identifier(a.name))
                for a in aggregates]
    statement = sql.SQL(
        "SELECT {cols} FROM {units} u LEFT JOIN {table} t ON {join}{unit_filter}"
        " GROUP BY u.fid ORDER BY 1").format(
        cols=sql.SQL(", ").join([*columns, *geometry]), units=units, table=table,
        join=sql.SQL(" AND ").join([*join, *where]), unit_filter=unit_filter)
    return statement, bind.params


async def query_admin_table(request: Request) -> Response:
    params = Params(request.query_params, ("level", "layer", "agg", "where", "by", "f"))
    ctx = QueryContext.of(request)
    level = (params.text("level") or "commune").lower()
    if level not in LEVELS:
        raise InvalidInput(f"unknown level {level[:20]!r}", where="level",
                           hint="use level=commune (there are no districts since 1 July 2025) "
                                "or level=province")
    unit_plan = ctx.plan(ctx.registry.admin_layer(level))
    unit_layer = unit_plan.layer
    layer_id = params.required("layer", "the layer to aggregate, e.g. layer=infra.schools")
    (plan,) = allowlist.spatial_plans(ctx.caller, ctx.registry, [layer_id], where="layer")
    layer = plan.layer
    aggregates = parse_aggregates(plan, params.all("agg"))
    conditions = (*scope_conditions_of(plan),
                  *allowlist.where_conditions(plan, ctx.registry, params.all("where")))
    fmt = params.output_format()
    recorded = unit_field(layer, unit_layer)
    method = (params.text("by") or ("field" if recorded else "geometry")).lower()
    if method not in METHODS:
        raise InvalidInput(f"unknown method {method[:20]!r}", where="by",
                           hint="use by=field (the unit the layer records) or by=geometry")
    if method == "field" and not recorded:
        raise InvalidInput(f"layer {layer.id} records no {level} code", where="by",
                           hint="use by=geometry to place its features by location")
    statement, values = choropleth_statement(unit_layer, layer, aggregates, conditions,
                                             ctx.state.settings.province_code,
                                             with_geometry=fmt == "geojson",
                                             by_field=recorded if method == "field" else None)
    by_field = recorded if method == "field" else None
    summed = summaries.units_statement(unit_layer, plan, aggregates,
                                       ctx.state.settings.province_code, fmt == "geojson",
                                       by_field, len(conditions) > len(scope_conditions_of(plan)))
    fresh = summaries.fresh_statement(layer)
    read = plan.with_fields([a.field.name for a in aggregates if a.field is not None])
    async with reading(ctx.reader, [unit_plan.with_fields(()), read]) as conn:
        if summed is not None and fresh is not None:  # the communes' totals, when up to date
            cur = await conn.execute(*fresh)
            if (await cur.fetchone() or (False,))[0]:
                statement, values = summed
        cur = await conn.execute(statement, values)
        names = [d.name for d in cur.description or ()]
        rows = [dict(zip(names, r)) for r in await cur.fetchall()]
    for row in rows:
        for k, v in row.items():
            if isinstance(v, Decimal):
                row[k] = float(v)  # PostgreSQL numeric -> JSON number
    if fmt == "csv":
        header = ["code", "name", *[a.name for a in aggregates]]
        return render.csv_response(render.csv_text(header, rows), f"{level}-{layer.id}.csv")
    if fmt == "geojson":
        features = [{"type": "Feature", "id": r["code"],
                     "geometry": json.loads(r.pop("geometry")) if r.get("geometry") else None,
                     "properties": r} for r in rows]
        return render.json_response(render.dumps({"type": "FeatureCollection",
                                                  "features": features}),
                                    media_type=render.GEOJSON_TYPE)
    head = {"query": {"operation": "admin_table", "level": level, "layer": layer.id,
                      "by": method, "agg": [a.name for a in aggregates],
                      "where": params.all("where")},
            "rows": rows}
    return render.json_response(render.dumps(head))

"""``/query/point``, ``/query/radius``, ``POST /query/region`` and ``/query/admin/{code}``.

Each handler reads its parameters, builds one ``LayerQuery`` per requested layer and hands
them to ``respond``; the SQL lives in ``sql``, the output in ``render``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from iocgis.access import AccessPlan, visible_layers
from iocgis.api.query import allowlist, render
from iocgis.api.query.context import QueryContext
from iocgis.api.query.engine import run
from iocgis.api.query.params import MAX_NEAREST, Params, point
from iocgis.api.query.region import parse_region, read_body
from iocgis.api.query.spec import Around, AtPoint, Inside, LayerQuery, Nearest, Selection
from iocgis.errors import InvalidInput
from iocgis.layers import LayerDef

COMMON = ("layers", "group_by", "where", "limit", "offset", "f", "table")
TABLES = ("features", "groups")


def build_queries(ctx: QueryContext, params: Params, plans: tuple[AccessPlan, ...],
                  selection_for: Callable[[LayerDef], Selection]) -> list[LayerQuery]:
    """One query per layer plan with the request's grouping, conditions and page."""
    group_name = params.text("group_by")
    where_items = params.all("where")
    paging = params.paging()
    queries = []
    for plan in plans:
        queries.append(LayerQuery(
            plan=plan, selection=selection_for(plan.layer),
            fields=allowlist.property_fields(plan),
            where=allowlist.where_conditions(plan, ctx.registry, where_items),
            group_by=allowlist.group_field(plan, group_name) if group_name else None,
            totals=allowlist.totalled_fields(plan),
            flags=allowlist.flag_fields(plan),
            limit=paging.limit, offset=paging.offset))
    return queries


def echo(params: Params, operation: str, **extra: Any) -> dict[str, Any]:
    """The query as understood, echoed back so a dashboard can label what it shows."""
    paging = params.paging()
    out: dict[str, Any] = {"operation": operation, **extra}
    out["group_by"] = params.text("group_by")
    out["where"] = params.all("where")
    out["limit"], out["offset"] = paging.limit, paging.offset
    return out


async def respond(ctx: QueryContext, params: Params, queries: list[LayerQuery],
                  head: dict[str, Any], filename: str,
                  extra: dict[str, Any] | None = None) -> Response:
    fmt = params.output_format()
    table = (params.text("table") or "features").lower()
    if table not in TABLES:
        raise InvalidInput(f"unknown table {table[:20]!r}", where="table",
                           hint="use table=features (one row per feature) or table=groups "
                                "(one row per group), with f=csv")
    if fmt == "csv":
        if table == "groups":
            results = await run(ctx.reader, ctx.registry, queries)
            return render.csv_response(render.groups_csv(results), f"{filename}-groups.csv")
        results = await run(ctx.reader, ctx.registry, queries, rows=True)
        return render.csv_response(render.features_csv(results), f"{filename}.csv")
    if fmt == "geojson":
        results = await run(ctx.reader, ctx.registry, queries, layer_property=True)
        return render.json_response(render.geojson_body(results), media_type=render.GEOJSON_TYPE)
    results = await run(ctx.reader, ctx.registry, queries)
    return render.json_response(render.layers_body(results, {"query": head, **(extra or {})}))


async def query_point(request: Request) -> Response:
    """What lies at a point: polygons containing it, the nearest point and line features."""
    params = Params(request.query_params, ("lon", "lat", "tolerance_m", "nearest", "rasters",
                                           *COMMON))
    ctx = QueryContext.of(request)
    lon, lat = point(params, await ctx.frame())
    tolerance = params.number("tolerance_m", default=0.0, low=0, high=1000,
                              what="a tolerance in metres") or 0.0
    nearest = params.integer("nearest", default=5, low=1, high=MAX_NEAREST)
    ids = params.all("layers")
    plans = (allowlist.spatial_plans(ctx.caller, ctx.registry, ids) if ids
             else allowlist.spatial_plans_of(ctx.caller, visible_layers(ctx.caller, ctx.registry)))

    def selection(layer: LayerDef) -> Selection:
        if "Polygon" in (layer.geometry or ""):
            return AtPoint(lon, lat, tolerance)
        return Nearest(lon, lat, nearest, tolerance or None)

    queries = build_queries(ctx, params, plans, selection)
    head = echo(params, "point", lon=lon, lat=lat, tolerance_m=tolerance, nearest=nearest,
                layers=[plan.layer.id for plan in plans])
    extra = None
    raster_names = params.all("rasters")
    if raster_names:
        from iocgis.api.query.rasters import values_at

        extra = {"rasters": await values_at(ctx, raster_names, lon, lat)}
    return await respond(ctx, params, queries, head, "point", extra)


async def query_radius(request: Request) -> Response:
    """Features within a geodesic radius of a point, nearest first."""
    params = Params(request.query_params, ("lon", "lat", "radius_m", *COMMON))
    ctx = QueryContext.of(request)
    lon, lat = point(params, await ctx.frame())
    radius = params.radius()
    plans = allowlist.spatial_plans(ctx.caller, ctx.registry, params.all("layers"))
    queries = build_queries(ctx, params, plans, lambda _layer: Around(lon, lat, radius))
    head = echo(params, "radius", lon=lon, lat=lat, radius_m=radius,
                layers=[plan.layer.id for plan in plans])
    return await respond(ctx, params, queries, head, "radius")


async def query_region(request: Request) -> Response:
    """Features intersecting a drawn polygon, with areas and lengths clipped to it."""
    params = Params(request.query_params, ("crs", *COMMON))
    ctx = QueryContext.of(request)
    plans = allowlist.spatial_plans(ctx.caller, ctx.registry, params.all("layers"))
    region = parse_region(read_body(await request.body()), await ctx.frame(), params.text("crs"))
    wkb = region.wkb
    queries = build_queries(ctx, params, plans, lambda _layer: Inside(wkb))
    head = echo(params, "region", region=region.echo(), layers=[plan.layer.id for plan in plans])
    return await respond(ctx, params, queries, head, "region")


async def query_admin_unit(request: Request) -> Response:
    """Features inside a commune or the province, by official code; clipped to its boundary."""
    params = Params(request.query_params, COMMON)
    ctx = QueryContext.of(request)
    code = request.path_params["code"]
    plans = allowlist.spatial_plans(ctx.caller, ctx.registry, params.all("layers"))
    unit = await ctx.admin_unit(code)
    queries = build_queries(ctx, params, plans, lambda _layer: Inside(unit.wkb))
    head = echo(params, "admin", admin={"code": unit.code, "name": unit.name,
                                        "layer": unit.layer.id},
                layers=[plan.layer.id for plan in plans])
    return await respond(ctx, params, queries, head, f"admin-{unit.code}")

"""``GET /planning/lookup`` (a point, a parcel by key or id) and ``POST /planning/lookup`` (a
drawn GeoJSON polygon): the plans and zones in force there on ``as_of`` (default today), as
JSON, GeoJSON (``f=geojson``), the printable sheet (``f=pdf``) or its HTML (``f=html``)."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from iocgis.api.query.context import QueryContext
from iocgis.api.query.params import Params
from iocgis.api.query.region import parse_region, read_body
from iocgis.api.query.render import GEOJSON_TYPE, dumps, json_response
from iocgis.errors import InvalidInput
from iocgis.planning_docs.lookup import Lookup, run_lookup
from iocgis.planning_docs.lookup_view import lookup_geojson, lookup_json
from iocgis.planning_docs.places import (
    ParcelRequest,
    Place,
    parcel_request,
    point_place,
    region_place,
)
from iocgis.planning_docs.sheet import sheet_html, sheet_pdf

FORMATS = ("json", "geojson", "pdf", "html")
PLACE_PARAMS = ("point", "parcel", "parcel_id")
FIRST_DAY, LAST_DAY = date(1945, 9, 2), date(2100, 12, 31)


def as_of_of(params: Params) -> date:
    raw = params.text("as_of")
    if raw is None:
        return date.today()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"as_of {raw[:20]!r} is not a date", where="as_of",
                           hint="write it as YYYY-MM-DD, e.g. as_of=2024-06-01") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"as_of {raw} is out of range", where="as_of",
                           hint=f"give a day between {FIRST_DAY} and {LAST_DAY}")
    return day


def format_of(params: Params) -> str:
    wanted = params.text("f", "json") or "json"
    if wanted not in FORMATS:
        raise InvalidInput(f"unknown format {wanted[:20]!r}", where="f",
                           hint=f"one of: {', '.join(FORMATS)}")
    return wanted


async def _answer(ctx: QueryContext, place: Place | ParcelRequest, params: Params,
                  head: dict[str, Any] | None = None) -> Response:
    wanted = format_of(params)
    lookup: Lookup = await run_lookup(ctx, place, as_of_of(params),
                                      shapes=wanted in ("geojson", "pdf", "html"))
    if wanted == "geojson":
        return json_response(dumps(lookup_geojson(ctx.registry, lookup)),
                             media_type=GEOJSON_TYPE)
    if wanted == "pdf":
        pdf = await asyncio.to_thread(sheet_pdf, ctx.registry, lookup)
        return Response(pdf, media_type="application/pdf", headers={
            "Content-Disposition": 'inline; filename="thong-tin-quy-hoach.pdf"'})
    if wanted == "html":
        return HTMLResponse(sheet_html(ctx.registry, lookup))
    body = lookup_json(ctx.registry, lookup)
    return json_response(dumps({"scenario": head, **body} if head else body))


async def _place(ctx: QueryContext, params: Params, names: tuple[str, ...]
                 ) -> Place | ParcelRequest:
    """The one place among ``names`` (some of PLACE_PARAMS) the request gives."""
    given = [name for name in names if params.text(name) is not None]
    if len(given) != 1:
        raise InvalidInput(f"give exactly one of {', '.join(names)}" if given else
                           "the lookup needs a place", where=",".join(given or names),
                           hint="point=106.8243,10.9447, parcel=26041/12/345 (commune/sheet/"
                                "parcel) or parcel_id=<fid>; POST a GeoJSON polygon for a "
                                "drawn area")
    if given[0] == "point":
        return await point_place(ctx, params.required("point", "lon,lat"))
    return parcel_request(ctx, params.text("parcel"), params.text("parcel_id"))


async def lookup_at(request: Request) -> Response:
    params = Params(request.query_params, (*PLACE_PARAMS, "as_of", "f"))
    ctx = QueryContext.of(request)
    return await _answer(ctx, await _place(ctx, params, PLACE_PARAMS), params)


async def scenario_answer(ctx: QueryContext, params: Params, head: dict[str, Any]) -> Response:
    """The ``planning_lookup`` scenario preset (``layers/scenarios/planning_lookup.yaml``):
    the same lookup, its parameters those of the preset the caller sees (no parcel for a
    caller who cannot read parcels)."""
    names = tuple(n for n in ("point", "parcel") if n in params.allowed)
    return await _answer(ctx, await _place(ctx, params, names), params, head)


async def lookup_region(request: Request) -> Response:
    params = Params(request.query_params, ("as_of", "f", "crs"))
    ctx = QueryContext.of(request)
    region = parse_region(read_body(await request.body()), await ctx.frame(), params.text("crs"))
    return await _answer(ctx, region_place(region), params)

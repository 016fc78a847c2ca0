"""HTTP: ``/tiles`` (index), ``/tiles/{tileset}.json`` (TileJSON 3.0) and
``/tiles/{tileset}/{z}/{x}/{y}.mvt`` (or ``.pbf``): gzip, ETag, Cache-Control, 204 when empty."""

from __future__ import annotations

import gzip

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iocgis.access import Caller, current_caller
from iocgis.api.kit.responses import UnicodeJSON
from iocgis.api.kit.urls import public_base_url
from iocgis.tiles.grid import parse_address, parse_format
from iocgis.tiles.render import TileRenderer, visibility_of
from iocgis.tiles.service import renderer_for
from iocgis.tiles.tilejson import tilejson
from iocgis.tiles.tilesets import Tileset

MVT_TYPE = "application/vnd.mapbox-vector-tile"


def _renderer(request: Request) -> TileRenderer:
    return renderer_for(request.app.state.iocgis)


def _etag_matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match")
    if not header:
        return False
    return header.strip() == "*" or etag in (tag.strip().removeprefix("W/") for tag in header.split(","))


def cache_control(caller: Caller, tileset: Tileset, max_age: int) -> str:
    """Public answers may be kept by shared caches; a signed-in caller's only by their own
    browser, briefly; one holding restricted layers by nobody."""
    if visibility_of(caller) == "public":
        return f"public, max-age={max_age}"
    if tileset.restricted_for(caller):
        return "private, no-store"
    return f"private, max-age={max_age}"


async def tile(request: Request) -> Response:
    p = request.path_params
    address = parse_address(p["z"], p["x"], p["y"])
    parse_format(p["fmt"])
    caller = current_caller()
    renderer = _renderer(request)
    rendered = await renderer.tile(p["tileset"], address, caller)
    tileset = renderer.tilesets.for_caller(p["tileset"], caller, note_reads=False)
    gzipped = "gzip" in request.headers.get("accept-encoding", "")
    # Each content coding is its own representation, with its own strong validator.
    etag = rendered.etag if gzipped or rendered.empty else rendered.etag[:-1] + '-identity"'
    headers = {"Cache-Control": cache_control(caller, tileset, renderer.tile_settings.max_age_s),
               "Vary": "Accept-Encoding", "ETag": etag}
    if _etag_matches(request, etag):
        return Response(status_code=304, headers=headers)
    if rendered.empty:
        return Response(status_code=204, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        return Response(rendered.gzipped, media_type=MVT_TYPE, headers=headers)
    return Response(gzip.decompress(rendered.gzipped), media_type=MVT_TYPE, headers=headers)


async def tileset_json(request: Request) -> Response:
    caller = current_caller()
    renderer = _renderer(request)
    tileset = renderer.tilesets.for_caller(request.path_params["tileset"], caller)
    doc = await tilejson(renderer, tileset, caller, public_base_url(request))
    return UnicodeJSON(doc, headers={"Cache-Control": cache_control(caller, tileset, 10)})


async def index(request: Request) -> Response:
    """The tilesets the caller may see, with their TileJSON links."""
    caller = current_caller()
    renderer = _renderer(request)
    root = public_base_url(request)
    sets = [{"name": t.name, "title": t.title.model_dump(), "composite": t.composite,
             "layers": [layer.id for layer in t.visible_to(caller)],
             "tilejson": f"{root}/tiles/{t.name}.json"}
            for t in renderer.tilesets.visible(caller)]
    return UnicodeJSON({"tilesets": sets})


def routes() -> list[BaseRoute]:
    return [
        Route("/tiles", index, methods=["GET"]),
        Route("/tiles/{tileset}.json", tileset_json, methods=["GET"]),
        Route("/tiles/{tileset}/{z}/{x}/{y}.{fmt}", tile, methods=["GET"]),
    ]

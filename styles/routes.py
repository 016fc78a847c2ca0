"""HTTP: the styles (``/styles``, ``/styles/{name}.json``), their glyphs and sprites, QML per
layer, and the ``/map`` page with MapLibre GL JS served from the local npm install."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from iocgis.access import ROLE_RIGHTS, Caller, current_caller, require_layer
from iocgis.api.kit.pages import html_page
from iocgis.api.kit.responses import UnicodeJSON
from iocgis.api.kit.urls import public_base_url
from iocgis.errors import ConfigError, NotFound
from iocgis.settings import PROJECT_ROOT
from iocgis.styles.definitions import get_themes
from iocgis.styles.glyphs import glyph_range
from iocgis.styles.maplibre import SPRITE, style_json, themes_for
from iocgis.styles.qml import qml_for
from iocgis.styles.sprites import sprite

WEB_DIR = Path(__file__).resolve().parent / "web"
MAPLIBRE_DIST = PROJECT_ROOT / "node_modules" / "maplibre-gl" / "dist"
LEAFLET_DIST = PROJECT_ROOT / "node_modules" / "leaflet" / "dist"
BOOTSTRAP_DIST = PROJECT_ROOT / "node_modules" / "bootstrap" / "dist" / "css"
# The only files /map/assets serves: MapLibre's ESM build (main and worker side by side) and
# the page's own script and style sheet, and the libraries of the pygeoapi HTML pages.
ASSETS = {
    "maplibre-gl.mjs": (MAPLIBRE_DIST, "text/javascript"),
    "maplibre-gl-worker.mjs": (MAPLIBRE_DIST, "text/javascript"),
    "maplibre-gl.css": (MAPLIBRE_DIST, "text/css"),
    "map.js": (WEB_DIR, "text/javascript"),
    "session.js": (WEB_DIR, "text/javascript"),
    "map.css": (WEB_DIR, "text/css"),
    # Leaflet and Bootstrap for pygeoapi's HTML pages (api/ogc/templates): the IOC network is
    # closed, so nothing a page loads may come from outside this application.
    "leaflet.js": (LEAFLET_DIST, "text/javascript"),
    "leaflet.css": (LEAFLET_DIST, "text/css"),
    **{f"images/{png}": (LEAFLET_DIST, "image/png") for png in (
        "layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")},
    "bootstrap.min.css": (BOOTSTRAP_DIST, "text/css"),
}
SPRITE_RE = re.compile(rf"^{SPRITE}(@2x)?\.(json|png)$")


def _cache(caller_public: bool, seconds: int) -> dict[str, str]:
    # The answer depends on who asks: a browser must not reuse one caller's copy for another
    # (the map page signs in and out without reloading).
    return {"Cache-Control": f"{'public' if caller_public else 'private'}, max-age={seconds}",
            "Vary": "Authorization, X-API-Key"}


def _unavailable(caller: Caller, offered: set[str]) -> list[dict[str, Any]]:
    """The themes some role may open but this caller may not, and what it takes: an account
    (anonymous callers) or more rights (ask an administrator). Names and titles only."""
    themes = get_themes()
    needs = "sign_in" if caller.is_anonymous else "rights"
    others: dict[str, Any] = {}
    for role in ROLE_RIGHTS:
        for theme in themes_for(themes, Caller(name=role, roles=frozenset({role}))):
            if theme.name not in offered:
                others.setdefault(theme.name, theme)
    return [{"name": t.name, "title": t.title.model_dump(), "needs": needs}
            for t in others.values()]


async def index(request: Request) -> Response:
    """The themes the caller may open, and those that need an account or more rights."""
    caller = current_caller()
    root = public_base_url(request)
    offered = themes_for(get_themes(), caller)
    styles = [{"name": t.name, "title": t.title.model_dump(), "url": f"{root}/styles/{t.name}.json"}
              for t in offered]
    body = {"styles": styles, "unavailable": _unavailable(caller, {t.name for t in offered})}
    return UnicodeJSON(body, headers=_cache(caller.is_anonymous, 10))


async def style(request: Request) -> Response:
    caller = current_caller()
    doc = style_json(get_themes(), request.path_params["name"], caller, public_base_url(request))
    return UnicodeJSON(doc, headers=_cache(caller.is_anonymous, 10))


async def glyphs(request: Request) -> Response:
    try:  # in a worker thread: the first request on a fresh machine may build the glyphs
        data = await run_in_threadpool(glyph_range, request.path_params["fontstack"],
                                       request.path_params["range"])
    except ConfigError as exc:  # glyphs not built and cannot be: say how to fix it
        raise NotFound(exc.message, where=exc.where, hint=exc.hint) from exc
    return Response(data, media_type="application/x-protobuf",
                    headers={"Cache-Control": "public, max-age=86400"})


async def sprites(request: Request) -> Response:
    match = SPRITE_RE.match(request.path_params["file"])
    if match is None:
        raise NotFound(f"unknown sprite file {request.path_params['file'][:60]!r}", where="sprite",
                       hint=f"the sprite is {SPRITE}.json / {SPRITE}.png (and @2x)")
    ratio, ext = match[1], match[2]
    index_json, png = sprite(2 if ratio else 1)
    body, media = (index_json, "application/json") if ext == "json" else (png, "image/png")
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=86400"})


async def layer_qml(request: Request) -> Response:
    """The QGIS style of a layer the caller may see (404 otherwise)."""
    layer = require_layer(current_caller(), request.path_params["layer"], get_themes().registry)
    return Response(qml_for(layer.id), media_type="application/xml; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})


async def map_page(request: Request) -> Response:
    return html_page(WEB_DIR / "map.html")


async def asset(request: Request) -> Response:
    name = request.path_params["file"]
    if name not in ASSETS:
        raise NotFound(f"unknown asset {name[:60]!r}", where="map asset")
    folder, media = ASSETS[name]
    path = folder / name
    if not path.is_file():
        raise NotFound(f"{name} is not installed", where=str(path),
                       hint="run `npm ci` in the checkout (iocgis.sh does)")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=3600"})


def routes() -> list[BaseRoute]:
    return [
        Route("/styles", index, methods=["GET"]),
        Route("/styles/glyphs/{fontstack}/{range}.pbf", glyphs, methods=["GET"]),
        Route("/styles/sprites/{file}", sprites, methods=["GET"]),
        Route("/styles/layers/{layer}.qml", layer_qml, methods=["GET"]),
        Route("/styles/{name}.json", style, methods=["GET"]),
        Route("/map", map_page, methods=["GET"]),
        Route("/map/assets/{file:path}", asset, methods=["GET"]),
    ]

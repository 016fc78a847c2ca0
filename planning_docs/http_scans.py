"""A georeferenced scan's map tiles over HTTP, read by the document's rule (``rules``: a draft
plan's scan is internal, 404 to others, like the file itself):

- XYZ: ``/planning/documents/{id}/tiles/{z}/{x}/{y}.png`` and its TileJSON
  ``/planning/documents/{id}/tiles.json`` (MapLibre's raster source, QGIS' XYZ connection);
- OGC API - Tiles (map tiles of one resource): ``/planning/documents/{id}/map/tiles`` (the
  tilesets), ``.../map/tiles/WebMercatorQuad`` (the tileset, its limits and URL template) and
  ``.../map/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}`` (row is y, column x);
  the grid itself is ``/TileMatrixSets/WebMercatorQuad``.

The same bytes by either address; 404 outside the scan; ETag from the file's SHA-256.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from iocgis.api.kit.responses import UnicodeJSON
from iocgis.api.kit.urls import public_base_url
from iocgis.errors import NotFound
from iocgis.planning_docs import rules, sniff
from iocgis.planning_docs.http_documents import readable_document
from iocgis.planning_docs.scan_tiles import Scan, not_a_scan, prepared, render_tile
from iocgis.planning_docs.service import Planning
from iocgis.tiles.grid import TileAddress, parse_address

TMS = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MAX_AGE = {"public": "public, max-age=3600", "internal": "private, max-age=300",
           "restricted": "private, no-store"}


async def _scan(request: Request) -> tuple[dict[str, Any], dict[str, Any], Scan]:
    doc, dossier = await readable_document(request)
    if not rules.has_map_tiles(doc["media_type"]):
        raise not_a_scan(doc["id"], f"it is {sniff.NAMES[doc['media_type']]}")
    planning = Planning.of(request)
    scan = await prepared(planning.store, planning.state.settings.cache_dir, doc["sha256"],
                          doc["id"])
    return doc, dossier, scan


def _cache_control(doc: dict[str, Any], dossier: dict[str, Any]) -> str:
    return MAX_AGE[rules.document_level(doc["sensitivity"], dossier["status"])]


def _base(request: Request, doc: dict[str, Any]) -> str:
    return f"{public_base_url(request)}/planning/documents/{doc['id']}"


async def _tile(request: Request, address: TileAddress) -> Response:
    doc, dossier, scan = await _scan(request)
    etag = f'"{doc["sha256"][:32]}-{address.z}-{address.x}-{address.y}"'
    headers = {"ETag": etag, "Cache-Control": _cache_control(doc, dossier)}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    png = await asyncio.to_thread(render_tile, scan, address)
    if png is None:
        raise NotFound(f"tile {address} lies outside the scan of document {doc['id']}",
                       where="tile", hint=f"the scan is inside {scan.bounds} "
                                          f"(see {_base(request, doc)}/tiles.json)")
    return Response(png, media_type="image/png", headers=headers)


async def xyz_tile(request: Request) -> Response:
    p = request.path_params
    return await _tile(request, parse_address(p["z"], p["x"], p["y"]))


def _tms(request: Request) -> None:
    if request.path_params["tms"] != TMS:
        raise NotFound(f"unknown tile matrix set {request.path_params['tms'][:40]!r}",
                       where="tileMatrixSetId", hint=f"scans are tiled in {TMS} only")


async def ogc_tile(request: Request) -> Response:
    _tms(request)
    p = request.path_params
    return await _tile(request, parse_address(p["z"], p["col"], p["row"]))


async def tilejson(request: Request) -> Response:
    doc, dossier, scan = await _scan(request)
    return UnicodeJSON({
        "tilejson": "3.0.0", "name": doc["title"], "scheme": "xyz",
        "description": f"{dossier['project_code']}: {doc['title']} ({doc['file_name']})",
        "attribution": dossier["project_code"],
        "tiles": [f"{_base(request, doc)}/tiles/{{z}}/{{x}}/{{y}}.png"],
        "minzoom": scan.minzoom, "maxzoom": scan.maxzoom,
        "bounds": [round(v, 7) for v in scan.bounds],
        "center": [round(scan.center[0], 7), round(scan.center[1], 7), scan.maxzoom - 2],
    }, headers={"Cache-Control": _cache_control(doc, dossier)})


def _tileset(request: Request, doc: dict[str, Any], scan: Scan) -> dict[str, Any]:
    here = f"{_base(request, doc)}/map/tiles/{TMS}"
    west, south, east, north = scan.bounds
    return {
        "title": doc["title"], "dataType": "map", "crs": CRS_3857, "tileMatrixSetURI": TMS_URI,
        "boundingBox": {"lowerLeft": [west, south], "upperRight": [east, north], "crs": CRS84},
        "tileMatrixSetLimits": scan.limits(),
        "links": [
            {"rel": "self", "type": "application/json", "href": here},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
             "type": "application/json", "href": f"{public_base_url(request)}/TileMatrixSets/{TMS}"},
            {"rel": "item", "type": "image/png", "templated": True,
             "href": f"{here}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}"},
        ],
    }


async def ogc_tilesets(request: Request) -> Response:
    doc, dossier, scan = await _scan(request)
    tileset = _tileset(request, doc, scan)
    brief = {k: tileset[k] for k in ("title", "dataType", "crs", "tileMatrixSetURI")}
    return UnicodeJSON({"tilesets": [{**brief, "links": tileset["links"][:2]}]},
                       headers={"Cache-Control": _cache_control(doc, dossier)})


async def ogc_tileset(request: Request) -> Response:
    _tms(request)
    doc, dossier, scan = await _scan(request)
    return UnicodeJSON(_tileset(request, doc, scan),
                       headers={"Cache-Control": _cache_control(doc, dossier)})


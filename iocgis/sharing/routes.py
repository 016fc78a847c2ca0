"""HTTP routes of sharing: the agreements' admin API (``/admin/sharing/...``, an administrator
with a TOTP session, like the account API) and open data (``/open-data/...``, for anyone)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from iocgis.api.kit.responses import UnicodeJSON
from iocgis.api.kit.urls import public_base_url
from iocgis.api.security.routes import _admin, _body, _json, _list, _pool, _text, _when
from iocgis.api.state import AppState
from iocgis.errors import InvalidInput
from iocgis.sharing import agreements, dcat, usage
from iocgis.sharing.open_data import FORMATS, OpenDataFiles, check_format, file_name, open_layer
from iocgis.sharing.open_data import open_layers as list_open_layers

# --- agreements -----------------------------------------------------------------------------


def _layers(body: dict[str, Any]) -> dict[str, list[str] | None]:
    value = body.get("layers")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = {layer_id: None for layer_id in value}
    if not isinstance(value, dict) or len(value) > 100 or not all(
            isinstance(k, str) and (v is None or (isinstance(v, list) and len(v) <= 500
                                                  and all(isinstance(f, str) for f in v)))
            for k, v in value.items()):
        raise InvalidInput("'layers' must name layers and the fields shared of each",
                           where="layers", hint='send {"land.parcels": ["sheet_no", '
                                                '"parcel_no"]} (null: every non-personal field)')
    return value


def _day(body: dict[str, Any], name: str) -> date:
    text = _text(body, name, limit=10)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name!r} is not a date", where=name,
                           hint="write it as 2026-12-31") from None


async def list_agreements(request: Request) -> Response:
    _admin(request)
    async with _pool(request).connection() as conn:
        return _json({"agreements": await agreements.list_all(conn)})


async def create_agreement(request: Request) -> Response:
    _, actor = _admin(request)
    body = await _body(request)
    state: AppState = request.app.state.iocgis
    async with _pool(request).connection() as conn:
        created, key = await agreements.create(
            conn, state.settings.security, actor, agency=_text(body, "agency", limit=300),
            layers=_layers(body), communes=_list(body, "communes") or [],
            purpose=_text(body, "purpose", limit=2000),
            legal_basis=_text(body, "legal_basis", limit=2000),
            starts_on=_day(body, "starts_on"), ends_on=_day(body, "ends_on"),
            networks=_list(body, "networks"), registry=state.registry)
    return _json({"agreement": created, "api_key": key}, status=201)


def _agreement_id(request: Request) -> int:
    return int(request.path_params["agreement"])


async def get_agreement(request: Request) -> Response:
    _admin(request)
    async with _pool(request).connection() as conn:
        return _json({"agreement": await agreements.get(conn, _agreement_id(request))})


async def revoke_agreement(request: Request) -> Response:
    _, actor = _admin(request)
    body = await _body(request)
    async with _pool(request).connection() as conn:
        found = await agreements.revoke(conn, actor, _agreement_id(request),
                                        _text(body, "reason", limit=500))
    return _json({"agreement": found})


async def agreement_usage(request: Request) -> Response:
    _admin(request)
    params = dict(request.query_params)
    async with _pool(request).connection() as conn:
        return _json(await usage.report(conn, _agreement_id(request),
                                        since=_when(params, "since"),
                                        until=_when(params, "until")))


# --- open data ------------------------------------------------------------------------------


def _files(request: Request) -> OpenDataFiles:
    state: AppState = request.app.state.iocgis
    files = getattr(request.app.state, "open_data", None)
    if files is None:
        # per database: two databases (a test's, a replica's primary) share version numbers
        info = conninfo_to_dict(state.database_url)
        database = hashlib.blake2b("|".join(str(info.get(k, "")) for k in (
            "host", "port", "dbname")).encode(), digest_size=6).hexdigest()
        files = OpenDataFiles(Path(state.settings.cache_dir) / "open-data" / database,
                              state.reader, state.pool)
        request.app.state.open_data = files
    return files


async def open_data_catalog(request: Request) -> Response:
    """DCAT (data.json shape) of every open layer, for a national portal's harvester."""
    state: AppState = request.app.state.iocgis
    layers = list_open_layers(state.registry)
    found = await _files(request).versions(layers)
    base_url = public_base_url(request)
    publisher = dcat.default_publisher(state.settings.province_code)
    datasets = [dcat.dataset(layer, found[layer.id].version, found[layer.id].modified,
                             found[layer.id].bbox, base_url, publisher)
                for layer in layers if layer.id in found]
    return UnicodeJSON(dcat.catalog(datasets, base_url, publisher),
                       headers={"Cache-Control": "public, max-age=60"})


async def open_data_file(request: Request) -> Response:
    """One open layer's download (GeoPackage, CSV, GeoJSON) at its current data version."""
    state: AppState = request.app.state.iocgis
    layer = open_layer(state.registry, request.path_params["dataset"])
    fmt = check_format(request.path_params["format"])
    path, version = await _files(request).file(layer, fmt)
    etag = f'"{layer.id}-v{version}"'
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": etag})
    return FileResponse(path, media_type=FORMATS[fmt][1],
                        filename=file_name(layer, version, fmt),
                        headers={"ETag": etag, "Cache-Control": "public, max-age=300",
                                 "X-Data-Version": str(version)})


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/sharing/agreements", list_agreements, methods=["GET"]),
        Route("/admin/sharing/agreements", create_agreement, methods=["POST"]),
        Route("/admin/sharing/agreements/{agreement:int}", get_agreement, methods=["GET"]),
        Route("/admin/sharing/agreements/{agreement:int}/revoke", revoke_agreement,
              methods=["POST"]),
        Route("/admin/sharing/agreements/{agreement:int}/usage", agreement_usage,
              methods=["GET"]),
        Route("/open-data/catalog.json", open_data_catalog, methods=["GET"]),
        Route("/open-data/{dataset}.{format}", open_data_file, methods=["GET"]),
    ]

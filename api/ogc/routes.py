"""The thin Starlette adapter over pygeoapi's core: OGC API Features, Tiles and Records at the root.

pygeoapi's own Starlette app reads one configuration from environment variables at import; here
each request is served by the API object of the caller's sensitivity level (``OgcService``).
Before pygeoapi runs, the adapter checks that the caller may see the collection (404 otherwise,
never 403) and checks every items parameter (``params``; the catalogue's too, ``records``): bad
input is a 400/413 that says what to fix, and nothing unchecked reaches the provider. The
parameters the project's providers own (bbox, bbox-crs, datetime, filter, filter-lang,
filter-crs, q, sortby; for the catalogue all of them) are hidden from pygeoapi's parser but kept
in its links. After pygeoapi answers, ``links`` cleans the links, adds the ``Link`` header and
the GeoJSON media type, and ``queryables`` completes the queryables document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pygeoapi
import pygeoapi.api as core_api
import pygeoapi.api.itemtypes as itemtypes_api
import pygeoapi.api.tiles as tiles_api
from pygeoapi.api import APIRequest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from iocgis.access import current_caller, require_layer, visible_fields
from iocgis.api.kit.urls import public_base_url
from iocgis.api.ogc import links
from iocgis.api.ogc.config import CATALOG_ID
from iocgis.api.ogc.context import BASE_URL_TOKEN, CURRENT_REQUEST, OgcRequest
from iocgis.api.ogc.params import MAX_BODY_BYTES, check_names, parse_item_query, parse_items_query
from iocgis.api.ogc.queryables import finish_queryables
from iocgis.api.ogc.records import CATALOG_FIELDS, parse_catalog_query
from iocgis.api.ogc.service import OgcService
from iocgis.errors import InvalidInput, PayloadTooLarge
from iocgis.layers import get_registry

# Parameters the provider reads from the checked ItemsQuery; pygeoapi must not parse them.
OWNED_BY_PROVIDER = frozenset({"bbox", "bbox-crs", "datetime", "filter", "filter-lang",
                               "filter-crs", "q", "sortby", "cursor"})
# The catalogue's provider reads every parameter from the checked query (it has no other).
OWNED_BY_CATALOG = OWNED_BY_PROVIDER | {"crs", "skipGeometry", "properties", *CATALOG_FIELDS}
PAGE_PARAMETERS = ("f", "lang")
SCHEMA_PARAMETERS = ("f", "lang", "profile", "properties")
# Headers of pygeoapi's answers that are not sent: its name and version help only an attacker.
DROPPED_HEADERS = ("content-length", "x-powered-by")
EXTRA_CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/cql2/1.0/conf/property-property",
)
# Features Part 4 (create/replace/delete): pygeoapi lists it; no collection here is editable.
DROPPED_CONFORMANCE = ("http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",)


class _PygeoapiParams(Mapping):
    """The query as pygeoapi sees it: owned parameters are absent to ``get`` (pygeoapi does not
    parse them) but present to ``items`` (pygeoapi copies them into its links)."""

    def __init__(self, params: list[tuple[str, str]], hidden: frozenset[str],
                 overrides: dict[str, str]) -> None:
        self._all = {k: overrides.get(k, v) for k, v in params}
        self._hidden = hidden

    def get(self, key: str, default: Any = None) -> Any:
        return default if key in self._hidden else self._all.get(key, default)

    def __getitem__(self, key: str) -> str:
        if key in self._hidden:
            raise KeyError(key)
        return self._all[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def items(self):  # type: ignore[override]
        return self._all.items()


class _CheckedRequest(APIRequest):
    """An APIRequest whose parameters and body went through the adapter's checks."""

    def __init__(self, request: Request, locales: list, params: _PygeoapiParams, data: bytes) -> None:
        super().__init__(request, locales)
        self._checked_params = params
        self._data = data

    @property
    def params(self) -> _PygeoapiParams:  # type: ignore[override]
        return self._checked_params


def _to_response(request: Request, headers: dict[str, str], status: int, content: Any) -> Response:
    base_url = public_base_url(request)
    if isinstance(content, (dict, list)):
        content = json.dumps(content, ensure_ascii=False)
    if isinstance(content, str):
        body = content.replace(BASE_URL_TOKEN, base_url).encode("utf-8")
    else:
        body = content or b""
    headers = {k: v.replace(BASE_URL_TOKEN, base_url) for k, v in headers.items()
               if k.lower() not in DROPPED_HEADERS}
    media = headers.get("Content-Type", "")
    if media.startswith("text/html") and "charset" not in media:
        headers["Content-Type"] = "text/html; charset=utf-8"
    return Response(body, status_code=int(status), headers=headers)


Finish = Callable[[APIRequest, dict[str, str], int, Any], tuple]


async def _dispatch(request: Request, handler: Callable[..., tuple], *args: Any,
                    ogc: OgcRequest | None = None, hidden: frozenset[str] = frozenset(),
                    overrides: dict[str, str] | None = None, data: bytes = b"",
                    default_format: str | None = None, check_format: bool = True,
                    finish: Finish | None = None) -> Response:
    service: OgcService = request.app.state.ogc
    await service.ensure_fresh(request.app.state.iocgis.pool)
    api = service.api_for(current_caller())
    params = _PygeoapiParams(list(request.query_params.multi_items()), hidden, overrides or {})
    api_request = _CheckedRequest(request, api.locales, params, data)
    if default_format and api_request.format is None:
        api_request._format = default_format  # pygeoapi fails on a missing format here
    if check_format and not api_request.is_valid():
        return _to_response(request, *api.get_format_exception(api_request))

    def answer() -> tuple:
        headers, status, content = handler(api, api_request, *args)
        if finish is None:
            return headers, status, content
        return finish(api_request, headers, status, content)

    token = CURRENT_REQUEST.set(ogc)
    try:  # run_in_threadpool copies the context: the provider sees the caller and the request
        headers, status, content = await run_in_threadpool(answer)
    finally:
        CURRENT_REQUEST.reset(token)
    return _to_response(request, headers, status, content)


# --- finishing pygeoapi's answers (run in the worker thread, after the handler) ----------

def _json(document: Any) -> str:
    """As pygeoapi writes JSON here (``json_output``): UTF-8, compact."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _ok_text(status: int, content: Any) -> bool:
    return int(status) == 200 and isinstance(content, str)


def _finish_collections(api_request: APIRequest, headers: dict[str, str], status: int,
                        content: Any) -> tuple:
    """``/collections`` and ``/collections/{id}``: clean links, and the Link header."""
    if not _ok_text(status, content) or not links.is_json(headers):
        return headers, status, content
    document = links.clean_links(json.loads(content), without_csv=(CATALOG_ID,))
    headers["Link"] = links.link_header(document.get("links", []))
    return headers, status, _json(document)


def _extra_links(collection_id: str) -> list[dict[str, str]]:
    collection = f"{BASE_URL_TOKEN}/collections/{collection_id}"
    return [{"rel": "collection", "type": "application/json", "href": collection},
            {"rel": links.QUERYABLES_REL, "type": "application/schema+json",
             "href": f"{collection}/queryables"}]


def _finish_features(collection_id: str, path: str, params: list[tuple[str, str]],
                     formats: tuple[tuple[str, str], ...], content_crs: str | None,
                     api_request: APIRequest, headers: dict[str, str], status: int,
                     content: Any) -> tuple:
    """Items pages and single features: GeoJSON media type for JSON, and the Link header."""
    if not _ok_text(status, content):
        return headers, status, content
    media = headers.get("Content-Type", "").split(";")[0].strip()
    if media == "application/json":
        headers["Content-Type"] = links.GEOJSON
        if content_crs and "Content-Crs" not in headers:
            headers["Content-Crs"] = f"<{content_crs}>"
        if collection_id == CATALOG_ID:  # a small page: its links lose the formats not offered
            document = json.loads(content)
            document["links"] = links.offered_only(document.get("links", []), formats)
            content = _json(document)
            page_links = document["links"]
        else:
            page_links = links.top_level_links(content)
    else:
        page_links = links.format_links(path, params, api_request.format or "json", formats)
    present = {link.get("rel") for link in page_links}
    page_links += [link for link in _extra_links(collection_id) if link["rel"] not in present]
    headers["Link"] = links.link_header(page_links)
    return headers, status, content


def _finish_queryables(collection_id: str, api_request: APIRequest, headers: dict[str, str],
                       status: int, content: Any) -> tuple:
    if not _ok_text(status, content) or not links.is_json(headers):
        return headers, status, content
    if collection_id == CATALOG_ID:
        fields, spatial = CATALOG_FIELDS, True
    else:
        layer = get_registry().get(collection_id)
        fields, spatial = {f.name: f for f in layer.fields}, layer.is_spatial
    document = finish_queryables(json.loads(content), fields, spatial=spatial)
    return headers, status, _json(document)


def _params(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _collection_id(request: Request) -> str:
    """The collection, if the caller may see it; else 404 as if it did not exist."""
    collection_id = request.path_params["collection_id"]
    if collection_id != CATALOG_ID:
        require_layer(current_caller(), collection_id)
    return collection_id


def _landing_page(api: Any, api_request: APIRequest) -> tuple:
    """pygeoapi's landing page without its link to /processes: this server runs no processes
    (pygeoapi adds the link unconditionally, and a client following it would get a 404)."""
    headers, status, content = core_api.landing_page(api, api_request)
    if isinstance(content, str) and "json" in headers.get("Content-Type", ""):
        document = json.loads(content)
        document["links"] = [link for link in document.get("links", [])
                             if not str(link.get("rel", "")).endswith("/processes")]
        content = _json(document)
    return headers, status, content


async def landing_page(request: Request) -> Response:
    check_names(_params(request), PAGE_PARAMETERS)
    return await _dispatch(request, _landing_page)


async def openapi(request: Request) -> Response:
    check_names(_params(request), (*PAGE_PARAMETERS, "ui"))
    return await _dispatch(request, core_api.openapi_)


async def conformance(request: Request) -> Response:
    check_names(_params(request), PAGE_PARAMETERS)
    response = await _dispatch(request, core_api.conformance)
    if response.status_code == 200 and response.headers.get("content-type", "").startswith("application/json"):
        document = json.loads(response.body)
        classes = [c for c in document["conformsTo"] if c not in DROPPED_CONFORMANCE]
        document["conformsTo"] = sorted(set(classes) | set(EXTRA_CONFORMANCE))
        return Response(_json(document), media_type="application/json",
                        headers={k: v for k, v in response.headers.items()
                                 if k.lower() not in ("content-length", "content-type")})
    return response


async def collections(request: Request) -> Response:
    check_names(_params(request), PAGE_PARAMETERS)
    return await _dispatch(request, core_api.describe_collections, None,
                           finish=_finish_collections)


async def collection(request: Request) -> Response:
    collection_id = _collection_id(request)
    check_names(_params(request), PAGE_PARAMETERS)
    return await _dispatch(request, core_api.describe_collections, collection_id,
                           finish=_finish_collections)


async def schema(request: Request) -> Response:
    collection_id = _collection_id(request)
    check_names(_params(request), SCHEMA_PARAMETERS)
    return await _dispatch(request, core_api.get_collection_schema, collection_id)


async def queryables(request: Request) -> Response:
    collection_id = _collection_id(request)
    check_names(_params(request), SCHEMA_PARAMETERS)
    return await _dispatch(request, itemtypes_api.get_collection_queryables, collection_id,
                           finish=partial(_finish_queryables, collection_id))


async def items(request: Request) -> Response:
    collection_id = _collection_id(request)
    body = b""
    if request.method == "POST":
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            raise PayloadTooLarge("the request body is too large", where="body",
                                  hint=f"send at most {MAX_BODY_BYTES} bytes of CQL2 JSON")
        body = await request.body()
    params = _params(request)
    content_type = request.headers.get("content-type", "")
    if collection_id == CATALOG_ID:
        query = parse_catalog_query(params, body, content_type)
        _refuse_csv(request)
        return await _dispatch(request, itemtypes_api.get_collection_items, collection_id,
                               ogc=OgcRequest(collection_id, items=query),
                               hidden=frozenset(OWNED_BY_CATALOG), check_format=False,
                               finish=partial(_finish_features, collection_id, request.url.path,
                                              params, links.FEATURE_FORMATS, query.crs.uri))
    caller = current_caller()
    layer = require_layer(caller, collection_id)
    query = parse_items_query(layer, visible_fields(caller, layer), params, body, content_type)
    overrides = {"crs": query.crs.uri} if any(k == "crs" for k, _ in params) else {}
    return await _dispatch(request, itemtypes_api.get_collection_items, collection_id,
                           ogc=OgcRequest(collection_id, items=query),
                           hidden=OWNED_BY_PROVIDER, overrides=overrides, check_format=False,
                           finish=partial(_finish_features, collection_id, request.url.path,
                                          params, links.ITEMS_FORMATS, None))


def _refuse_csv(request: Request) -> None:
    """The catalogue has no CSV form (pygeoapi's CSV writer fails on records): a 400 that says
    which forms there are, for ``f=csv`` and for a client that prefers ``text/csv``."""
    wanted = request.query_params.get("f") or \
        request.headers.get("accept", "").split(",")[0].split(";")[0].strip()
    if wanted.lower() in ("csv", "text/csv"):
        raise InvalidInput("the catalogue has no CSV form", where="f",
                           hint="ask for f=json (GeoJSON), f=html or f=jsonld")


async def item(request: Request) -> Response:
    collection_id = _collection_id(request)
    params = _params(request)
    finish = partial(_finish_features, collection_id, request.url.path, params,
                     links.FEATURE_FORMATS, None)
    if collection_id == CATALOG_ID:
        check_names(params, PAGE_PARAMETERS)
        return await _dispatch(request, itemtypes_api.get_collection_item, collection_id,
                               request.path_params["item_id"], finish=finish)
    crs = parse_item_query(params)
    overrides = {"crs": crs.uri} if any(k == "crs" for k, _ in params) else {}
    return await _dispatch(request, itemtypes_api.get_collection_item, collection_id,
                           request.path_params["item_id"],
                           ogc=OgcRequest(collection_id, item_crs=crs), overrides=overrides,
                           finish=finish)


async def tilematrixsets(request: Request) -> Response:
    return await _dispatch(request, tiles_api.tilematrixsets)


async def tilematrixset(request: Request) -> Response:
    return await _dispatch(request, tiles_api.tilematrixset, request.path_params["tms"])


async def collection_tiles(request: Request) -> Response:
    return await _dispatch(request, tiles_api.get_collection_tiles, _collection_id(request))


async def collection_tiles_metadata(request: Request) -> Response:
    return await _dispatch(request, tiles_api.get_collection_tiles_metadata,
                           _collection_id(request), request.path_params["tms"],
                           default_format="json", check_format=False)


async def collection_tile(request: Request) -> Response:
    p = request.path_params
    return await _dispatch(request, tiles_api.get_collection_tiles_data, _collection_id(request),
                           p["tms"], p["z"], p["row"], p["col"], check_format=False)


def routes() -> list[BaseRoute]:
    """pygeoapi's OGC API routes; mounted last, at the root, after the project's own routes."""
    static = Path(pygeoapi.__file__).parent / "static"
    c = "/collections/{collection_id}"
    return [
        Route("/", landing_page),
        Route("/openapi", openapi),
        Route("/conformance", conformance),
        Route("/TileMatrixSets", tilematrixsets),
        Route("/TileMatrixSets/{tms}", tilematrixset),
        Route("/collections", collections),
        Route(c, collection),
        Route(f"{c}/schema", schema),
        Route(f"{c}/queryables", queryables),
        Route(f"{c}/items", items, methods=["GET", "POST"]),
        Route(f"{c}/items/{{item_id}}", item),
        Route(f"{c}/tiles", collection_tiles),
        Route(f"{c}/tiles/{{tms}}", collection_tiles_metadata),
        Route(f"{c}/tiles/{{tms}}/metadata", collection_tiles_metadata),
        Route(f"{c}/tiles/{{tms}}/{{z}}/{{row}}/{{col}}", collection_tile),
        Mount("/static", StaticFiles(directory=static), name="pygeoapi-static"),
    ]


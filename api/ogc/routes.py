"""The thin Starlette adapter over pygeoapi's core: OGC API Features, Tiles and Records at the root.

pygeoapi's own Starlette app reads one configuration from environment variables at import; here
each request is served by the API object of the caller's sensitivity level and of the base URL
the client reached (``OgcService.api_for``). Before pygeoapi runs, the adapter checks that the
caller may see the collection (404 otherwise, never 403) and checks every items parameter
(``params``; the catalogue's too, ``records``): bad input is a 400/413 that says what to fix,
and nothing unchecked reaches the provider. The parameters the project's providers own (bbox,
bbox-crs, datetime, filter, filter-lang, filter-crs, q, sortby, cursor; for the catalogue all of
them) are left out of the request pygeoapi is given; the providers read the checked query
(``pygeoapi_seams.serving``) and write the page links with every parameter.

pygeoapi's answer is finished in one place (``_answer``): JSON becomes UTF-8 text
(``pygeoapi_seams.utf8_json``) and is finished (``links`` cleans the links and adds the ``Link``
header and the GeoJSON media type, ``queryables`` completes the queryables document).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pygeoapi
import pygeoapi.api as core_api
import pygeoapi.api.itemtypes as itemtypes_api
import pygeoapi.api.tiles as tiles_api
from pygeoapi.api import API, APIRequest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from iocgis.access import can_see, current_caller, require_layer, visible_fields
from iocgis.api.kit.urls import public_base_url
from iocgis.api.ogc import links, pygeoapi_seams
from iocgis.api.ogc.config import CATALOG_ID
from iocgis.api.ogc.params import MAX_BODY_BYTES, check_names, parse_item_query, parse_items_query
from iocgis.api.ogc.pygeoapi_seams import OgcRequest
from iocgis.api.ogc.queryables import finish_queryables
from iocgis.api.ogc.records import CATALOG_FIELDS, parse_catalog_query
from iocgis.api.ogc.service import OgcService
from iocgis.errors import InvalidInput, PayloadTooLarge
from iocgis.layers import get_registry

log = logging.getLogger("iocgis.api.ogc")

# Parameters the provider reads from the checked ItemsQuery; pygeoapi is not given them.
OWNED_BY_PROVIDER = frozenset({"bbox", "bbox-crs", "datetime", "filter", "filter-lang",
                               "filter-crs", "q", "sortby", "cursor", "geometry"})
# The catalogue's provider reads every parameter from the checked query (it has no other).
OWNED_BY_CATALOG = OWNED_BY_PROVIDER | {"crs", "skipGeometry", "properties", *CATALOG_FIELDS}
PAGE_PARAMETERS = ("f", "lang")
SCHEMA_PARAMETERS = ("f", "lang", "profile", "properties")
# Headers of pygeoapi's answers that are not sent: its name and version help only an attacker.
DROPPED_HEADERS = ("content-length", "x-powered-by")

Params = list[tuple[str, str]]
# Finishes an answer: (request, pygeoapi's request, headers, JSON text or None) -> JSON text
Finish = Callable[[Request, APIRequest, dict[str, str], str | None], str | None]
# Collections served by other modules' own routes (the EDR time series of ``iocgis.live.edr``),
# listed in ``/collections`` beside pygeoapi's: name -> the entries the request's caller may
# read (an empty list otherwise). Registered by the module's ``routes()``.
OWN_COLLECTIONS: dict[str, Callable[[Request], list[dict[str, Any]]]] = {}


def _pygeoapi_request(request: Request, api: API, params: Params) -> APIRequest:
    """pygeoapi's request for ``request`` with the query ``params`` (and no body: a POSTed
    CQL2 filter is the provider's), through its public constructor."""
    scope = {**request.scope, "query_string": urlencode(params).encode("latin-1")}
    return APIRequest(Request(scope), api.locales)


def _is_json(headers: dict[str, str]) -> bool:
    return links.is_json(headers) or headers.get("Content-Type", "").startswith(
        "application/vnd.oai.openapi+json")


def _answer(request: Request, api_request: APIRequest, headers: dict[str, str], status: int,
            content: Any, finish: Finish | None) -> Response:
    """The response for pygeoapi's answer: JSON as UTF-8 (``pygeoapi_seams.utf8_json``),
    finished once.

    ``finish`` sees a successful answer: its JSON text, or None for another format (it may
    still add headers), and returns the text to send."""
    headers = {k: v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS}
    if int(status) >= 500:
        log.warning("pygeoapi answered %s %s: %s", int(status), request.url.path,
                    str(content)[:300])
    json_answer = isinstance(content, str) and bool(content) and _is_json(headers)
    text = pygeoapi_seams.utf8_json(content) if json_answer else None
    if finish is not None and int(status) == 200:
        text = finish(request, api_request, headers, text)
    if json_answer:
        content = text
    body = content.encode("utf-8") if isinstance(content, str) else (content or b"")
    media = headers.get("Content-Type", "")
    if media.startswith("text/html") and "charset" not in media:
        headers["Content-Type"] = "text/html; charset=utf-8"
    return Response(body, status_code=int(status), headers=headers)


def _json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _documents(change: Callable[[Any], Any]) -> Finish:
    """A finisher of whole (small) documents: ``change`` gets and returns the decoded one."""
    def finish(request: Request, api_request: APIRequest, headers: dict[str, str],
               text: str | None) -> str | None:
        return None if text is None else _json(change(json.loads(text)))
    return finish


async def _dispatch(request: Request, handler: Callable[..., tuple], *args: Any,
                    ogc: OgcRequest | None = None, params: Params | None = None,
                    default_format: str | None = None, check_format: bool = True,
                    finish: Finish | None = None) -> Response:
    """Run pygeoapi's ``handler`` for ``request`` (given the query ``params``: by default the
    request's own) in a worker thread, the provider seeing ``ogc``."""
    service: OgcService = request.app.state.ogc
    await service.ensure_fresh(request.app.state.iocgis.pool)
    caller, base_url = current_caller(), public_base_url(request)
    if service.has_api(caller, base_url):
        api = service.api_for(caller, base_url)
    else:  # a new host name: its configuration and API object are made once, off the loop
        api = await run_in_threadpool(service.api_for, caller, base_url)
    params = list(request.query_params.multi_items()) if params is None else params
    api_request = _pygeoapi_request(request, api, params)
    if default_format and api_request.format is None:
        api_request = _pygeoapi_request(request, api, [("f", default_format), *params])
    if check_format and not api_request.is_valid():
        return _answer(request, api_request, *api.get_format_exception(api_request), None)
    if ogc is not None:
        ogc = replace(ogc, format=api_request.format or "json")

    def answer() -> tuple:
        with pygeoapi_seams.serving(ogc):
            if api_request.format == "html":
                with pygeoapi_seams.own_template_config():
                    return handler(api, api_request, *args)
            return handler(api, api_request, *args)

    # run_in_threadpool copies the context: the provider sees the caller and the request
    headers, status, content = await run_in_threadpool(answer)
    return _answer(request, api_request, headers, status, content, finish)


# --- finishing pygeoapi's JSON answers --------------------------------------------------

def _finish_collections(request: Request, api_request: APIRequest, headers: dict[str, str],
                        text: str | None) -> str | None:
    """``/collections`` and ``/collections/{id}``: clean links, and the Link header."""
    if text is None:
        return None
    document = links.clean_links(json.loads(text), without_csv=(CATALOG_ID,))
    if isinstance(document.get("collections"), list):
        # The API object is the caller's level's; a narrower caller (under a sharing agreement)
        # is not shown the layers it may not read, as it gets 404 on each of them.
        caller, registry = current_caller(), get_registry()
        document["collections"] = [
            c for c in document["collections"]
            if c.get("id") not in registry or can_see(caller, registry.get(c["id"]))]
        document["collections"] += [entry for entries in OWN_COLLECTIONS.values()
                                    for entry in entries(request)]
    headers["Link"] = links.link_header(document.get("links", []))
    return _json(document)


def _extra_links(base_url: str, collection_id: str) -> list[dict[str, str]]:
    collection = f"{base_url}/collections/{collection_id}"
    return [{"rel": "collection", "type": "application/json", "href": collection},
            {"rel": links.QUERYABLES_REL, "type": "application/schema+json",
             "href": f"{collection}/queryables"}]


def _page_links(request: Request, collection_id: str, page_links: list[dict[str, Any]],
                headers: dict[str, str]) -> None:
    present = {link.get("rel") for link in page_links}
    page_links = page_links + [link for link in _extra_links(public_base_url(request),
                                                             collection_id)
                               if link["rel"] not in present]
    headers["Link"] = links.link_header(page_links)


def _finish_features(collection_id: str, formats: tuple[tuple[str, str], ...],
                     content_crs: str | None, request: Request, api_request: APIRequest,
                     headers: dict[str, str], text: str | None,
                     ogc: OgcRequest | None = None) -> str | None:
    """Items pages and single features: GeoJSON media type, the provider's page links first
    (``pygeoapi_seams.provider_links_first``) and the Link header. An items page may be
    megabytes: only its top-level links are read and written again."""
    media = headers.get("Content-Type", "").split(";")[0].strip()
    if text is None or media != "application/json":  # HTML, CSV, JSON-LD
        _finish_other(collection_id, formats, request, api_request, headers)
        return text
    headers["Content-Type"] = links.GEOJSON
    if content_crs and "Content-Crs" not in headers:
        headers["Content-Crs"] = f"<{content_crs}>"
    start, end, found = links.top_level_links(text)
    page_links = pygeoapi_seams.provider_links_first(found)
    if collection_id == CATALOG_ID:  # its links lose the formats not offered
        page_links = links.offered_only(page_links, formats)
    _page_links(request, collection_id, page_links, headers)
    if start < 0:
        document = json.loads(text)
        document["links"] = page_links
        return pygeoapi_seams.with_features(_json(document), ogc)
    return pygeoapi_seams.with_features(text[:start] + _json(page_links) + text[end:], ogc)


def _finish_other(collection_id: str, formats: tuple[tuple[str, str], ...], request: Request,
                  api_request: APIRequest, headers: dict[str, str]) -> None:
    """The Link header of a page that is not JSON (HTML, CSV, JSON-LD)."""
    url = f"{public_base_url(request)}{request.url.path}"
    _page_links(request, collection_id,
                links.format_links(url, _params(request), api_request.format or "json", formats),
                headers)


def _finish_queryables(collection_id: str, request: Request, api_request: APIRequest,
                       headers: dict[str, str], text: str | None) -> str | None:
    if text is None:
        return None
    if collection_id == CATALOG_ID:
        fields, spatial = CATALOG_FIELDS, True
    else:
        layer = get_registry().get(collection_id)
        fields, spatial = {f.name: f for f in layer.fields}, layer.is_spatial
    return _json(finish_queryables(json.loads(text), fields, spatial=spatial))


def _params(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _collection_id(request: Request) -> str:
    """The collection, if the caller may see it; else 404 as if it did not exist."""
    collection_id = request.path_params["collection_id"]
    if collection_id != CATALOG_ID:
        require_layer(current_caller(), collection_id)
    return collection_id


async def landing_page(request: Request) -> Response:
    check_names(_params(request), PAGE_PARAMETERS)
    return await _dispatch(request, core_api.landing_page, finish=_documents(pygeoapi_seams.landing_page))


async def openapi(request: Request) -> Response:
    check_names(_params(request), (*PAGE_PARAMETERS, "ui"))
    return await _dispatch(request, core_api.openapi_)


async def conformance(request: Request) -> Response:
    check_names(_params(request), PAGE_PARAMETERS)
    return await _dispatch(request, core_api.conformance, finish=_documents(pygeoapi_seams.conformance))


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
                               params=_given(params, OWNED_BY_CATALOG), check_format=False,
                               finish=partial(_finish_features, collection_id,
                                              links.FEATURE_FORMATS, query.crs.uri))
    caller = current_caller()
    layer = require_layer(caller, collection_id)
    query = parse_items_query(layer, visible_fields(caller, layer), params, body, content_type)
    ogc = OgcRequest(collection_id, items=query)  # its copies share what the provider wrote
    return await _dispatch(request, itemtypes_api.get_collection_items, collection_id,
                           ogc=ogc, params=_given(params, OWNED_BY_PROVIDER, crs=query.crs.uri),
                           check_format=False,
                           finish=partial(_finish_features, collection_id, links.ITEMS_FORMATS,
                                          None, ogc=ogc))


def _given(params: Params, owned: frozenset[str], **checked: str) -> Params:
    """The query pygeoapi is given: without the parameters the provider owns, and with the
    checked form of ``checked`` (e.g. a CRS as its URI, which pygeoapi compares as text)."""
    return [(k, checked.get(k, v)) for k, v in params if k not in owned]


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
    finish = partial(_finish_features, collection_id, links.FEATURE_FORMATS, None)
    if collection_id == CATALOG_ID:
        check_names(params, PAGE_PARAMETERS)
        return await _dispatch(request, itemtypes_api.get_collection_item, collection_id,
                               request.path_params["item_id"], finish=finish)
    registry = get_registry()
    crs, footprint = parse_item_query(
        params, registry.get(collection_id) if collection_id in registry else None)
    return await _dispatch(request, itemtypes_api.get_collection_item, collection_id,
                           request.path_params["item_id"],
                           ogc=OgcRequest(collection_id, item_crs=crs, item_footprint=footprint),
                           params=_given(params, frozenset({"geometry"}), crs=crs.uri),
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


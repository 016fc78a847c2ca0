"""pygeoapi's configuration, generated from the layer registry and the live facts of each layer.

One configuration per sensitivity level (public, internal, restricted) holds exactly the layers
a caller of that level may see, so pygeoapi's own listings (``/collections``, the OpenAPI
document, the HTML pages) never name a layer the caller may not know of. Nobody edits these by
hand: they are rebuilt at start-up and whenever the registry or the data extents change.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
from datetime import UTC
from typing import Any

from iocgis.access.rules import LEVEL_NAMES, level_allows
from iocgis.api.kit.values import DEFAULT_LIMIT, MAX_LIMIT
from iocgis.api.ogc.crs import CRS84_URI, supported_uris
from iocgis.api.ogc.facts import LayerFacts
from iocgis.api.ogc.params import ITEM_PARAMETERS
from iocgis.errors import ConfigError
from iocgis.layers import LayerDef, Registry

log = logging.getLogger("iocgis.api.ogc")

FEATURE_PROVIDER = "iocgis.api.ogc.provider.LayerProvider"
RECORD_PROVIDER = "iocgis.api.ogc.records.CatalogProvider"
TILE_PROVIDER_MODULE = "iocgis.tiles.pygeoapi_provider"
CATALOG_ID = "catalog"
LEVELS = LEVEL_NAMES  # public, internal, restricted
WORLD = (-180.0, -90.0, 180.0, 90.0)
MVT = {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}


def tile_provider(layer: LayerDef, pool: str) -> dict[str, Any] | None:
    """The tiles package's pygeoapi provider for this layer, when that package offers one.

    The tile provider serves the fast ST_AsMVT path of ``iocgis.tiles`` (never pygeoapi's stock
    MVT-postgresql). It may publish ``provider_definition(layer)``; otherwise its provider class
    is found by type and given the usual pygeoapi tile options.
    """
    if layer.tiles is None or importlib.util.find_spec(TILE_PROVIDER_MODULE) is None:
        return None
    module = importlib.import_module(TILE_PROVIDER_MODULE)
    if hasattr(module, "provider_definition"):  # renders on this server's database pool
        return module.provider_definition(layer, pool)
    from pygeoapi.provider.tile import BaseTileProvider

    classes = [obj for obj in vars(module).values() if inspect.isclass(obj)
               and issubclass(obj, BaseTileProvider) and obj.__module__ == module.__name__]
    if not classes:
        return None
    return {"type": "tile", "name": f"{TILE_PROVIDER_MODULE}.{classes[0].__name__}",
            "data": {"layer": layer.id, "pool": pool},
            "options": {"zoom": {"min": layer.tiles.minzoom, "max": layer.tiles.maxzoom},
                        "schemes": ["WebMercatorQuad"]},
            "format": dict(MVT)}


def _extents(layer: LayerDef, facts: LayerFacts | None, fallback: tuple[float, ...]) -> dict[str, Any]:
    bbox = list(facts.bbox) if facts and facts.bbox else list(fallback)
    extents: dict[str, Any] = {"spatial": {"bbox": bbox, "crs": CRS84_URI}}
    if layer.temporal and facts and facts.temporal:
        begin, end = facts.temporal
        extents["temporal"] = {
            "begin": _utc(begin), "end": _utc(end),
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return extents


def _utc(value: Any) -> Any:
    if value is None or not hasattr(value, "tzinfo"):
        return value
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _union(boxes: list[tuple[float, ...]]) -> tuple[float, ...]:
    if not boxes:
        return WORLD
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def check_registry(registry: Registry) -> None:
    """A field named like an items parameter would be unreachable as a query parameter."""
    for layer in registry:
        clash = set(layer.field_names) & set(ITEM_PARAMETERS)
        if clash:
            raise ConfigError(f"layer {layer.id}: field(s) {sorted(clash)} clash with OGC API "
                              "parameter names", where=f"layers/{layer.group}.yaml",
                              hint="rename the field")


def layer_resource(layer: LayerDef, facts: LayerFacts | None, pool: str,
                   fallback: tuple[float, ...], base_url: str) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "type": "feature", "name": FEATURE_PROVIDER,
        "data": {"layer": layer.id, "pool": pool, "base_url": base_url},
        "id_field": "id", "crs": supported_uris(), "storage_crs": CRS84_URI,
    }
    if layer.temporal:
        provider["time_field"] = layer.temporal
    if layer.label:
        provider["title_field"] = layer.label
    providers = [provider]
    tiles = tile_provider(layer, pool)
    if tiles is not None:
        providers.append(tiles)
    keywords = list(dict.fromkeys([*layer.keywords, layer.group]))
    return {
        "type": "collection",
        "title": {"vi": layer.title.vi, "en": layer.title.en},
        # English description for every reader; the Vietnamese one is in the catalog record.
        "description": layer.description.en,
        "keywords": keywords,
        "links": [{"type": "application/geo+json", "rel": "describedby",
                   "title": "Bản ghi danh mục / catalog record",
                   "href": f"{base_url}/collections/{CATALOG_ID}/items/{layer.id}"}],
        "extents": _extents(layer, facts, fallback),
        "limits": {"default_items": DEFAULT_LIMIT, "max_items": MAX_LIMIT, "on_exceed": "error"},
        "providers": providers,
    }


def catalog_resource(pool: str, level: str, bbox: tuple[float, ...],
                     base_url: str) -> dict[str, Any]:
    return {
        "type": "collection",
        "title": {"vi": "Danh mục dữ liệu", "en": "Data catalogue"},
        "description": {"vi": "Mọi lớp dữ liệu của IOC với siêu dữ liệu, độ cập nhật và chất lượng.",
                        "en": "Every IOC data layer with its metadata, freshness and quality."},
        "keywords": ["danh mục", "catalogue", "metadata"],
        "extents": {"spatial": {"bbox": list(bbox), "crs": CRS84_URI}},
        "limits": {"default_items": DEFAULT_LIMIT, "max_items": MAX_LIMIT, "on_exceed": "error"},
        "providers": [{"type": "record", "name": RECORD_PROVIDER,
                       "data": {"pool": pool, "level": level, "base_url": base_url},
                       "id_field": "id", "time_field": "updated", "title_field": "title"}],
    }


def pygeoapi_config(registry: Registry, facts: dict[str, LayerFacts], *, level: str,
                    pool: str, base_url: str,
                    templates: dict[str, str] | None = None) -> dict[str, Any]:
    """The whole pygeoapi configuration for callers of sensitivity ``level`` reaching the
    server at ``base_url`` (pygeoapi writes its links from ``server.url``; the providers
    theirs from their ``data.base_url``)."""
    base_url = base_url.rstrip("/")
    check_registry(registry)
    layers = [layer for layer in registry if level_allows(level, layer.sensitivity)]
    bbox = _union([facts[x.id].bbox for x in layers if x.id in facts and facts[x.id].bbox])  # type: ignore[misc]
    resources: dict[str, Any] = {CATALOG_ID: catalog_resource(pool, level, bbox, base_url)}
    for layer in layers:
        resources[layer.id] = layer_resource(layer, facts.get(layer.id), pool, bbox, base_url)
    server: dict[str, Any] = {
        "bind": {"host": "127.0.0.1", "port": 8000},  # unused: iocgis serve binds
        "url": base_url,
        "mimetype": "application/json; charset=UTF-8",
        "encoding": "utf-8",
        "gzip": False,
        "languages": ["vi", "en"],
        "cors": False,  # the security middleware owns CORS
        "pretty_print": False,
        "limits": {"default_items": DEFAULT_LIMIT, "max_items": MAX_LIMIT, "on_exceed": "error"},
        "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "© OpenStreetMap contributors"},
        "admin": False,
    }
    if templates:
        server["templates"] = templates
    return {
        "server": server,
        "logging": {"level": "WARNING"},
        "metadata": {
            "identification": {
                "title": {"vi": "Dữ liệu không gian của Trung tâm điều hành thông minh (IOC)",
                          "en": "Spatial data of the Intelligent Operations Center (IOC)"},
                "description": {"vi": "API OGC (Features, Tiles, Records) cho mọi lớp dữ liệu của IOC.",
                                "en": "OGC APIs (Features, Tiles, Records) for every IOC data layer."},
                "keywords": {"vi": ["IOC", "dữ liệu không gian", "bản đồ"],
                             "en": ["IOC", "spatial data", "maps"]},
                "keywords_type": "theme",
                "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                "url": f"{base_url}/",
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "Trung tâm điều hành thông minh (IOC)", "url": f"{base_url}/"},
            "contact": {"name": "IOC", "position": "GIS", "address": "-", "city": "-",
                        "stateorprovince": "-", "postalcode": "-", "country": "Việt Nam",
                        "phone": "-", "fax": "-", "email": "gis@example.invalid",
                        "url": f"{base_url}/", "hours": "-", "instructions": "-",
                        "role": "pointOfContact"},
        },
        "resources": resources,
    }

"""pygeoapi tile provider serving the collections' vector tiles through ``iocgis.tiles``.

Configure it as ``name: iocgis.tiles.pygeoapi_provider.IocgisTileProvider`` (class
``IocgisTileProvider``) with ``data`` a registry layer id or a tileset name (or
``{layer: <id>, pool: <iocgis.api.ogc.pool key>}``), ``format: {name: pbf, mimetype:
application/vnd.mapbox-vector-tile}`` and, optionally, ``options: {zoom: {min, max},
schemes: [WebMercatorQuad]}`` (defaults come from the registry). ``provider_definition(layer)``
returns such a definition.

OGC API - Tiles addresses tiles as ``{tileMatrix}/{tileRow}/{tileCol}`` of WebMercatorQuad:
row is y and column is x of the XYZ scheme. The tiles are the same bytes as
``/tiles/{layer}/{z}/{x}/{y}.mvt``: the same SQL, thinning, cache and access rules; a caller
who may not see the layer gets 404.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from pygeoapi.models.provider.base import LinkType, TileMatrixSetEnum, TileSetMetadata
from pygeoapi.provider.base import (
    ProviderConnectionError,
    ProviderGenericError,
    ProviderInvalidQueryError,
)
from pygeoapi.provider.base_mvt import BaseMVTProvider
from pygeoapi.provider.tile import ProviderTileNotFoundError
from pygeoapi.util import url_join

from iocgis.access import current_caller
from iocgis.errors import InvalidInput, NotFound, TemporarilyUnavailable
from iocgis.layers import LayerDef
from iocgis.layers.types import field_type
from iocgis.tiles.grid import parse_address
from iocgis.tiles.service import renderer_here, run_sync
from iocgis.tiles.tilejson import tile_fields, tilejson
from iocgis.tiles.tilesets import get_tilesets

log = logging.getLogger("iocgis.tiles")
WEB_MERCATOR = TileMatrixSetEnum.WEBMERCATORQUAD.value
MVT_FORMAT = {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}


def provider_definition(layer: LayerDef, pool: str | None = None) -> dict[str, Any]:
    """The pygeoapi provider block serving ``layer``'s tiles (``pool``: the OGC API's pool key,
    so the provider renders on the application's own database)."""
    assert layer.tiles is not None
    data: str | dict[str, str] = {"layer": layer.id, "pool": pool} if pool else layer.id
    return {"type": "tile", "name": f"{__name__}.IocgisTileProvider", "data": data,
            "options": {"zoom": {"min": layer.tiles.minzoom, "max": layer.tiles.maxzoom},
                        "schemes": [WEB_MERCATOR.tileMatrixSet]},
            "format": dict(MVT_FORMAT)}


def _database_url(pool: str | None) -> str | None:
    if not pool:
        return None
    from iocgis.api.ogc.pool import get_pool

    return str(get_pool(pool).conninfo)


class ProviderTileTimeout(ProviderGenericError):
    """A tile over the time limit (``TileSettings.statement_timeout_ms``): retry later."""

    ogc_exception_code = "ServiceUnavailable"
    http_status_code = HTTPStatus.SERVICE_UNAVAILABLE
    default_msg = "the tile took too long to render; retry shortly"


class IocgisTileProvider(BaseMVTProvider):
    """Vector tiles of one registry layer or tileset, for pygeoapi's OGC API - Tiles."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        data = provider_def.get("data")
        if isinstance(data, dict):
            name, self.pool = data.get("tileset") or data.get("layer"), data.get("pool")
        else:
            name, self.pool = data, None
        if not isinstance(name, str) or name not in get_tilesets():
            raise ProviderConnectionError(f"unknown tileset or layer {name!r} in the tile "
                                          "provider's data; use a tiled registry layer id")
        self.tileset = get_tilesets().get(name)
        options = dict(provider_def.get("options") or {})
        options.setdefault("zoom", {"min": self.tileset.minzoom, "max": self.tileset.maxzoom})
        options.setdefault("schemes", [WEB_MERCATOR.tileMatrixSet])
        super().__init__({**provider_def, "options": options,
                          "format": provider_def.get("format") or MVT_FORMAT})
        self.tile_field_schemas: dict[str, dict[str, str]] = {}
        self.tiles_url: str | None = None  # set by get_tiles_service

    def __repr__(self) -> str:
        return f"<IocgisTileProvider> {self.tileset.name}"

    def get_layer(self) -> str:
        return self.tileset.name

    def get_fields(self) -> dict[str, dict[str, str]]:
        """The attributes the caller may see in these tiles (never personal data)."""
        if not self.tile_field_schemas:
            caller = current_caller()
            for layer in self.tileset.visible_to(caller):
                for name in tile_fields(layer, caller):
                    self.tile_field_schemas[name] = {
                        "type": field_type(layer.field(name).type).schema["type"],
                        "title": layer.field(name).title.vi}
        return self.tile_field_schemas

    @property
    def service_url(self) -> str | None:
        """The tiles' URL template (pygeoapi's base class keeps it in a private attribute that
        its subclasses write; this one keeps its own)."""
        return self.tiles_url

    def get_tiling_schemes(self) -> list[Any]:
        return [WEB_MERCATOR]  # ST_AsMVT tiles are EPSG:3857 (WebMercatorQuad) only

    def get_tiles_service(self, baseurl: str | None = None, servicepath: str | None = None,
                          dirpath: str | None = None, tile_type: str | None = None) -> dict:
        super().get_tiles_service(baseurl, servicepath, dirpath, tile_type)
        self.tiles_url = servicepath
        return self.get_tms_links()

    def get_tiles(self, layer: str | None = None, tileset: str | None = None,
                  z: Any = None, y: Any = None, x: Any = None,
                  format_: str | None = None) -> bytes | None:
        """The MVT of tile ``z/y/x`` (OGC: tileMatrix/tileRow/tileCol), None when empty."""
        if tileset not in (None, WEB_MERCATOR.tileMatrixSet):
            raise ProviderTileNotFoundError(f"tile matrix set {tileset!r} is not offered; "
                                            f"use {WEB_MERCATOR.tileMatrixSet}")
        try:
            address = parse_address(str(z), str(x), str(y))
        except InvalidInput as exc:
            raise ProviderInvalidQueryError(str(exc)) from None
        zoom = self.options["zoom"]
        if not zoom["min"] <= address.z <= zoom["max"]:
            raise ProviderTileNotFoundError(f"zoom {address.z} is outside "
                                            f"{zoom['min']}-{zoom['max']}")
        caller = current_caller()
        url = _database_url(self.pool)

        async def render() -> bytes:
            renderer = await renderer_here(url)
            return (await renderer.tile(self.tileset.name, address, caller)).raw()

        try:
            raw = run_sync(render)
        except NotFound:
            raise ProviderTileNotFoundError("collection not found") from None
        except TemporarilyUnavailable as exc:  # over the tile time limit: 503, not a 500
            raise ProviderTileTimeout(str(exc)) from None
        return raw or None

    def get_vendor_metadata(self, dataset: str, server_url: str, layer: str, tileset: str,
                            title: Any, description: Any, keywords: Any, **kwargs: Any) -> dict:
        """TileJSON 3.0, as served at ``/tiles/{layer}.json``."""
        caller = current_caller()
        url = _database_url(self.pool)

        async def doc() -> dict:
            renderer = await renderer_here(url)
            visible = renderer.tilesets.for_caller(self.tileset.name, caller)
            return await tilejson(renderer, visible, caller, server_url.rstrip("/"))

        try:
            return run_sync(doc)
        except NotFound:
            raise ProviderTileNotFoundError("collection not found") from None

    def get_html_metadata(self, dataset: str, server_url: str, layer: str, tileset: str,
                          title: Any, description: Any, keywords: Any, **kwargs: Any) -> dict:
        service = url_join(server_url, f"collections/{dataset}/tiles/{tileset}",
                           "{tileMatrix}/{tileRow}/{tileCol}?f=mvt")
        metadata = url_join(server_url, f"collections/{dataset}/tiles/{tileset}/metadata")
        return {"id": dataset, "title": title, "tileset": tileset, "collections_path": service,
                "json_url": f"{metadata}?f=json"}

    def get_default_metadata(self, dataset: str, server_url: str, layer: str, tileset: str,
                             title: Any, description: Any, keywords: Any, **kwargs: Any) -> dict:
        """OGC Tileset metadata: WebMercatorQuad, a link to its definition and the tiles."""
        scheme = WEB_MERCATOR
        content = TileSetMetadata(title=title, description=description, keywords=keywords,
                                  crs=scheme.crs, tileMatrixSetURI=scheme.tileMatrixSetURI)
        content.links = [
            LinkType(href=url_join(server_url, "TileMatrixSets", scheme.tileMatrixSet),
                     rel="http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme",
                     type="application/json",
                     title=f"{scheme.tileMatrixSet} tile matrix set definition"),
            LinkType(href=url_join(server_url, f"collections/{dataset}/tiles/{scheme.tileMatrixSet}",
                                   "{tileMatrix}/{tileRow}/{tileCol}?f=mvt"),
                     rel="item", type=self.mimetype,
                     title=f"{scheme.tileMatrixSet} vector tiles for {layer}"),
        ]
        return content.model_dump(exclude_none=True, by_alias=True)

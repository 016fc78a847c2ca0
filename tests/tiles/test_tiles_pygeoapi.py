"""pygeoapi's OGC API - Tiles served by the iocgis tile provider: the same tiles and rules."""

from __future__ import annotations

import httpx
import mapbox_vector_tile
import pytest

from iocgis.layers import get_registry
from iocgis.tiles.grid import lonlat_to_tile
from iocgis.tiles.pygeoapi_provider import IocgisTileProvider, provider_definition
from iocgis.tiles.service import renderer_for

from ..conftest import LiveServer

TRAN_BIEN = (106.73, 10.88)


def test_ogc_api_tiles_are_the_same_tiles_as_ours(tiles_http: httpx.Client) -> None:
    t = lonlat_to_tile(*TRAN_BIEN, 12)
    ours = tiles_http.get(f"/tiles/admin.communes/{t.z}/{t.x}/{t.y}.mvt")
    assert ours.status_code == 200
    # OGC API - Tiles: {tileMatrix}/{tileRow}/{tileCol}, row = y, col = x.
    ogc = tiles_http.get(f"/collections/admin.communes/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}",
                         params={"f": "mvt"})
    assert ogc.status_code == 200, ogc.text[:300]
    assert mapbox_vector_tile.decode(ogc.content) == mapbox_vector_tile.decode(ours.content)
    names = {f["properties"]["name"]
             for f in mapbox_vector_tile.decode(ogc.content)["admin.communes"]["features"]}
    assert "Phường Trấn Biên" in names


def test_ogc_api_tiles_first_use_the_apps_own_renderer(tiles_settings, tmp_path) -> None:  # noqa: ANN001
    """A fresh server whose first tile comes through pygeoapi renders it with the app's tile
    settings (here: its cache folder), not with settings read from the environment."""
    settings = tiles_settings.model_copy(update={"cache_dir_override": tmp_path})
    server = LiveServer(settings).start()
    try:
        t = lonlat_to_tile(*TRAN_BIEN, 12)
        ogc = httpx.get(f"{server.url}/collections/admin.communes/tiles/WebMercatorQuad/"
                        f"{t.z}/{t.y}/{t.x}", params={"f": "mvt"}, timeout=60)
        assert ogc.status_code == 200, ogc.text[:300]
        # the one renderer of the app's state served it: its tile is in the app's cache folder
        assert renderer_for(server.app.state.iocgis).settings is server.app.state.iocgis.settings
        assert any(p.is_file() for p in (tmp_path / "tiles").rglob("*")), \
            "the tile was not cached in the app's cache folder"
    finally:
        server.stop()


def test_ogc_api_tiles_hide_layers_the_caller_may_not_see(tiles_http: httpx.Client) -> None:
    t = lonlat_to_tile(106.82, 10.95, 14)
    response = tiles_http.get(f"/collections/land.parcels/tiles/WebMercatorQuad/{t.z}/{t.y}/{t.x}",
                              params={"f": "mvt"})
    assert response.status_code == 404


def test_ogc_api_tiles_metadata_and_bad_indexes(tiles_http: httpx.Client) -> None:
    meta = tiles_http.get("/collections/admin.communes/tiles", params={"f": "json"})
    assert meta.status_code == 200
    assert any("WebMercatorQuad" in ts["tileMatrixSetURI"] for ts in meta.json()["tilesets"])
    for path in ("WebMercatorQuad/30/0/0", "WebMercatorQuad/3/9/0", "WebMercatorQuad/x/0/0"):
        response = tiles_http.get(f"/collections/admin.communes/tiles/{path}", params={"f": "mvt"})
        assert 400 <= response.status_code < 500, (path, response.status_code)


def _provider(pool_url: str) -> IocgisTileProvider:
    from iocgis.api.ogc.pool import open_pool

    definition = provider_definition(get_registry().get("admin.communes"),
                                     pool=open_pool(pool_url, role_prefix="iocgis_"))
    return IocgisTileProvider(definition)


def test_the_provider_works_outside_a_server_too(tiles_db_url: str) -> None:
    from pygeoapi.provider.base import ProviderInvalidQueryError
    from pygeoapi.provider.tile import ProviderTileNotFoundError

    provider = _provider(tiles_db_url)
    t = lonlat_to_tile(*TRAN_BIEN, 12)
    raw = provider.get_tiles(layer="admin.communes", tileset="WebMercatorQuad", z=t.z, y=t.y, x=t.x)
    assert "admin.communes" in mapbox_vector_tile.decode(raw)
    assert provider.get_tiles(tileset="WebMercatorQuad", z=12, y=0, x=0) is None  # empty
    with pytest.raises(ProviderTileNotFoundError):
        provider.get_tiles(tileset="WebMercatorQuad", z=3, y=0, x=0)  # below minzoom 6
    with pytest.raises(ProviderTileNotFoundError):
        provider.get_tiles(tileset="WorldCRS84Quad", z=12, y=0, x=0)
    with pytest.raises(ProviderInvalidQueryError):
        provider.get_tiles(tileset="WebMercatorQuad", z=12, y="1; DROP TABLE x", x=0)
    tilejson = provider.get_vendor_metadata("admin.communes", "http://example.org/", "admin.communes",
                                            "WebMercatorQuad", "t", "d", [])
    assert tilejson["tilejson"] == "3.0.0" and tilejson["vector_layers"][0]["id"] == "admin.communes"
    default = provider.get_default_metadata("admin.communes", "http://example.org", "admin.communes",
                                            "WebMercatorQuad", "t", "d", [])
    assert default["crs"].endswith("3857") or "3857" in str(default["crs"])
    assert set(provider.get_fields()) == {"code", "name", "type"}


def test_a_provider_for_an_unknown_layer_fails_at_configuration() -> None:
    from pygeoapi.provider.base import ProviderConnectionError

    with pytest.raises(ProviderConnectionError):
        IocgisTileProvider({"name": "x", "type": "tile", "data": "no.such_layer",
                            "format": {"name": "pbf", "mimetype": "application/x-protobuf"}})

"""The tile endpoints over real HTTP: headers, TileJSON, visibility, bad input, re-import."""

from __future__ import annotations

import gzip
import time

import httpx
import mapbox_vector_tile
import pytest

from iocgis.tiles.grid import lonlat_to_tile

from ..conftest import PUBLIC_URL, behind_proxy
from .tiles_fixtures import bump

BIEN_HOA = (106.8215, 10.9515)
TRAN_BIEN = (106.73, 10.88)  # inside the commune "Phường Trấn Biên" of the fixtures


def tile_path(tileset: str, z: int, lonlat: tuple[float, float] = BIEN_HOA, fmt: str = "mvt") -> str:
    t = lonlat_to_tile(*lonlat, z)
    return f"/tiles/{tileset}/{t.z}/{t.x}/{t.y}.{fmt}"


def test_a_tile_is_gzip_mvt_with_etag_and_cache_control(tiles_http: httpx.Client) -> None:
    response = tiles_http.get(tile_path("basemap", 12, TRAN_BIEN), headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["cache-control"].startswith("public, max-age=")
    assert "Accept-Encoding" in response.headers["vary"]
    layers = mapbox_vector_tile.decode(response.content)  # httpx has un-gzipped it
    names = {f["properties"]["name"] for f in layers["admin.communes"]["features"]}
    assert "Phường Trấn Biên" in names
    again = tiles_http.get(tile_path("basemap", 12, TRAN_BIEN),
                           headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and not again.content


def test_pbf_and_mvt_are_the_same_tile(tiles_http: httpx.Client) -> None:
    mvt = tiles_http.get(tile_path("basemap", 13))
    pbf = tiles_http.get(tile_path("basemap", 13, fmt="pbf"))
    assert mvt.status_code == pbf.status_code == 200
    assert mvt.content == pbf.content and mvt.headers["etag"] == pbf.headers["etag"]


def test_identity_encoding_when_gzip_is_not_accepted(tiles_server) -> None:
    with httpx.Client(base_url=tiles_server.url, headers={"Accept-Encoding": "identity"}) as c:
        response = c.get(tile_path("basemap", 12))
    assert response.status_code == 200 and "content-encoding" not in response.headers
    assert "admin.communes" in mapbox_vector_tile.decode(response.content)
    with httpx.Client(base_url=tiles_server.url) as c:  # the gzip representation: its own ETag
        gzipped = c.get(tile_path("basemap", 12), headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["etag"] != response.headers["etag"]


def test_an_empty_tile_is_204(tiles_http: httpx.Client) -> None:
    response = tiles_http.get(tile_path("basemap", 12, (-60.0, -30.0)))  # South America
    assert response.status_code == 204 and response.content == b""
    assert response.headers["etag"]


@pytest.mark.parametrize("path, status", [
    ("/tiles/basemap/25/0/0.mvt", 400),          # zoom above 24
    ("/tiles/basemap/-1/0/0.mvt", 400),          # negative zoom
    ("/tiles/basemap/abc/0/0.mvt", 400),         # not an integer
    ("/tiles/basemap/1.5/0/0.mvt", 400),
    ("/tiles/basemap/3/1e1/0.mvt", 400),
    ("/tiles/basemap/3/%EF%BC%91/0.mvt", 400),   # a full-width digit
    ("/tiles/basemap/3/8/0.mvt", 400),           # x outside the zoom-3 matrix
    ("/tiles/basemap/3/0/8.mvt", 400),           # y outside
    ("/tiles/basemap/2/0/99999999999999999999.mvt", 400),
    ("/tiles/basemap/3/0/0.png", 400),           # not a vector tile format
    ("/tiles/basemap/3/0/0.mvt.gz", 400),
    ("/tiles/nothing/3/0/0.mvt", 404),           # unknown tileset
    ("/tiles/basemap'--/3/0/0.mvt", 404),
    ("/tiles/nothing.json", 404),
    ("/tiles/basemap/3/0.mvt", 404),             # too few path parts
])
def test_bad_tile_requests_are_refused_cleanly(tiles_http: httpx.Client, path: str,
                                               status: int) -> None:
    response = tiles_http.get(path)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["description"] and "select" not in response.text.lower()


def test_tilejson_3_lists_only_what_the_caller_may_see(tiles_http: httpx.Client) -> None:
    doc = tiles_http.get("/tiles/basemap.json").json()
    assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz"
    assert doc["tiles"][0].startswith(str(tiles_http.base_url) + "/tiles/basemap/{z}/{x}/{y}.mvt")
    assert doc["name"] == "Bản đồ nền"
    ids = [layer["id"] for layer in doc["vector_layers"]]
    assert ids == ["admin.provinces", "admin.provinces:label", "admin.communes",
                   "admin.communes:label", "base.water_areas", "base.water_areas:label",
                   "base.waterways", "base.roads", "base.places"]
    communes = doc["vector_layers"][2]
    assert set(communes["fields"]) == {"code", "name", "type"}
    assert communes["minzoom"] == 6 and communes["maxzoom"] == 16
    west, south, east, north = doc["bounds"]
    assert 106.5 < west < east < 107.2 and 10.7 < south < north < 11.2
    infra = tiles_http.get("/tiles/infrastructure.json").json()
    assert "infra.substations" not in {layer["id"] for layer in infra["vector_layers"]}
    emergency = tiles_http.get("/tiles/emergency.json").json()
    incidents = next(v for v in emergency["vector_layers"] if v["id"] == "emergency.incidents")
    assert "reporter_phone" not in incidents["fields"]
    assert "citizen.reports" not in {v["id"] for v in emergency["vector_layers"]}  # internal


def test_behind_a_proxy_tilejson_and_style_links_name_the_public_url(tiles_settings) -> None:  # noqa: ANN001
    """With IOCGIS_PUBLIC_URL set, no link names the host the request reached."""
    with behind_proxy(tiles_settings) as proxied:
        own = str(proxied.base_url).rstrip("/")
        tilejson = proxied.get("/tiles/basemap.json").json()
        assert tilejson["tiles"][0].startswith(PUBLIC_URL + "/tiles/basemap/{z}/{x}/{y}.mvt")
        tilesets = proxied.get("/tiles").json()["tilesets"]
        assert tilesets and all(t["tilejson"].startswith(PUBLIC_URL + "/tiles/") for t in tilesets)
        style = proxied.get("/styles/basemap.json").json()
        assert style["glyphs"].startswith(PUBLIC_URL + "/styles/glyphs/")
        assert style["sprite"].startswith(PUBLIC_URL + "/styles/sprites/")
        assert all(s["url"].startswith(PUBLIC_URL + "/tiles/") for s in style["sources"].values())
        assert all(s["url"].startswith(PUBLIC_URL + "/styles/")
                   for s in proxied.get("/styles").json()["styles"])
        for path in ("/tiles/basemap.json", "/tiles", "/styles/basemap.json", "/styles"):
            assert own not in proxied.get(path).text, path


def test_tilesets_the_public_may_not_see_do_not_exist_for_them(tiles_http: httpx.Client) -> None:
    for name in ("land", "housing", "land.parcels", "infra.substations", "citizen.reports"):
        assert tiles_http.get(f"/tiles/{name}.json").status_code == 404
        assert tiles_http.get(tile_path(name, 14)).status_code == 404
    listed = {t["name"] for t in tiles_http.get("/tiles").json()["tilesets"]}
    assert {"basemap", "planning", "emergency", "infrastructure", "admin.communes"} <= listed
    assert not {"land", "housing", "land.parcels", "infra.substations"} & listed


def test_json_is_real_utf8(tiles_http: httpx.Client) -> None:
    raw = tiles_http.get("/tiles/planning.json").content
    assert "Quy hoạch".encode() in raw and b"\\u" not in raw


def _commune_names(client: httpx.Client, path: str) -> set[str]:
    response = client.get(path)
    assert response.status_code == 200
    return {f["properties"]["name"]
            for f in mapbox_vector_tile.decode(response.content)["admin.communes"]["features"]}


def test_a_reimport_changes_exactly_its_tiles_without_a_restart(tiles_http: httpx.Client,
                                                                 tiles_conn) -> None:
    basemap, planning = tile_path("basemap", 13, TRAN_BIEN), tile_path("planning", 13)
    assert "Phường Trấn Biên" in _commune_names(tiles_http, basemap)
    planning_before = tiles_http.get(planning).headers["etag"]
    try:
        tiles_conn.execute("UPDATE admin.communes SET name = 'Phường Trấn Biên Mới'"
                           " WHERE name = 'Phường Trấn Biên'")
        bump(tiles_conn, "admin.communes")
        deadline = time.monotonic() + 20  # the server re-reads versions every second
        while "Phường Trấn Biên Mới" not in _commune_names(tiles_http, basemap):
            assert time.monotonic() < deadline, "the re-imported name never reached the tile"
            time.sleep(0.2)
        assert tiles_http.get(planning).headers["etag"] == planning_before  # untouched layer
    finally:
        tiles_conn.execute("UPDATE admin.communes SET name = 'Phường Trấn Biên'"
                           " WHERE name = 'Phường Trấn Biên Mới'")
        bump(tiles_conn, "admin.communes")


def test_gzip_body_is_the_cached_bytes(tiles_server) -> None:
    with httpx.Client(base_url=tiles_server.url) as c:
        raw = c.get(tile_path("basemap", 11), headers={"Accept-Encoding": "gzip"})
        streamed = c.build_request("GET", tile_path("basemap", 11), headers={"Accept-Encoding": "gzip"})
        with c.stream("GET", streamed.url, headers={"Accept-Encoding": "gzip"}) as response:
            body = b"".join(response.iter_raw())
    assert gzip.decompress(body) == raw.content


def _place_names(client: httpx.Client, path: str) -> set[str]:
    response = client.get(path)
    assert response.status_code == 200
    return {f["properties"]["name"]
            for f in mapbox_vector_tile.decode(response.content)["base.places"]["features"]}


def test_a_real_import_and_rollback_show_in_the_tiles_without_a_restart(tiles_http: httpx.Client,
                                                              tiles_db_url: str,
                                                              tmp_path) -> None:
    import json

    from iocgis.importers import ImportOptions, import_path
    from iocgis.importers.history import rollback

    places = tile_path("basemap", 12, (106.82, 10.95))
    planning_etag = tiles_http.get(tile_path("planning", 13)).headers["etag"]
    assert "Biên Hòa" in _place_names(tiles_http, places)
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                 "properties": {"place_id": pid, "name": name, "kind": kind}}
                for pid, name, kind, (x, y) in [
                    ("P1", "Thành phố Biên Hòa mới", "tinh_ly", (106.82, 10.95)),
                    ("P2", "Chợ Đồn", "dia_danh", (106.85, 10.93)),
                    ("P3", "Hố Nai", "trung_tam_xa", (106.88, 10.98))]]
    source = tmp_path / "places.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                                 ensure_ascii=False), encoding="utf-8")
    report = import_path(source, "base.places", ImportOptions(mode="replace", user="test",
                                                                 approval="auto"),
                         url=tiles_db_url)
    assert report.status == "loaded", report
    deadline = time.monotonic() + 20  # the server re-reads data versions every second
    while "Thành phố Biên Hòa mới" not in _place_names(tiles_http, places):
        assert time.monotonic() < deadline, "the imported place never reached the tile"
        time.sleep(0.2)
    assert "Biên Hòa" not in _place_names(tiles_http, places)
    assert tiles_http.get(tile_path("planning", 13)).headers["etag"] == planning_etag
    rollback("base.places", url=tiles_db_url, user="test")
    deadline = time.monotonic() + 20
    while "Biên Hòa" not in _place_names(tiles_http, places):
        assert time.monotonic() < deadline, "the rollback never reached the tile"
        time.sleep(0.2)
    assert tiles_http.get(tile_path("planning", 13)).headers["etag"] == planning_etag

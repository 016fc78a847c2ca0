"""Real clients against the real server: OWSLib, GDAL's OAPIF driver (ogrinfo), schemathesis,
and OGC API Tiles through the tiles package's provider."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import mapbox_vector_tile

from iocgis.access import ANONYMOUS, visible_layers

from . import ogc_fixtures

TOTAL = len(ogc_fixtures.INCIDENTS) + ogc_fixtures.EXTRA_INCIDENTS


def test_owslib_lists_collections_and_reads_filtered_items(ogc_server) -> None:  # noqa: ANN001
    from owslib.ogcapi.features import Features

    client = Features(ogc_server.url)
    ids = {c["id"] for c in client.collections()["collections"]}
    # beside the layers: the catalogue and the EDR time series (iocgis.live.edr)
    assert ids == {layer.id for layer in visible_layers(ANONYMOUS)} | {"catalog", "iot.timeseries"}
    queryables = client.collection_queryables("emergency.incidents")
    assert "kind" in queryables["properties"] and "reporter_phone" not in queryables["properties"]
    page = client.collection_items("emergency.incidents", limit=100, filter="kind = 'chay'")
    assert page["numberMatched"] == 3
    assert {f["properties"]["incident_code"] for f in page["features"]} == {"SC-001", "SC-002", "SC-005"}


def _ogrinfo(*args: str) -> str:
    assert shutil.which("ogrinfo"), "Debian gdal-bin is missing: run ./iocgis.sh (APT_PACKAGES)"
    result = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True,
                            timeout=120, env={"GDAL_HTTP_TIMEOUT": "60", "CPL_DEBUG": "OFF",
                                              "GDAL_HTTP_UNSAFESSL": "NO", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_gdal_oapif_reports_feature_count_and_fields(ogc_server) -> None:  # noqa: ANN001
    summary = _ogrinfo("-so", "-al", f"OAPIF:{ogc_server.url}/collections/emergency.incidents")
    assert f"Feature Count: {TOTAL}" in summary
    for field in ("incident_code: String", "severity: Integer", "reported_at: DateTime"):
        assert field in summary
    assert "reporter_phone" not in summary
    # every page through next links, with Vietnamese text intact
    listing = _ogrinfo("-al", "-where", "kind = 'chay'",
                       f"OAPIF:{ogc_server.url}/collections/emergency.incidents")
    assert listing.count("OGRFeature(") == 3 and "Trấn Biên" in listing
    communes = _ogrinfo("-al", "-so", f"OAPIF:{ogc_server.url}/collections/admin.communes")
    assert "Feature Count: 2" in communes


def test_gdal_lists_the_public_layers(ogc_server) -> None:  # noqa: ANN001
    listing = _ogrinfo(f"OAPIF:{ogc_server.url}")
    assert "emergency.incidents" in listing and "land.parcels" not in listing


def test_schemathesis_finds_no_server_errors(ogc_server) -> None:  # noqa: ANN001
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error

    document = httpx.get(f"{ogc_server.url}/openapi", params={"f": "json"}, timeout=30).json()
    assert "https://schemas.opengis.net" not in json.dumps(document)  # self-contained
    assert document["servers"][0]["url"] == ogc_server.url  # links follow the URL clients use
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=ogc_server.url)
    wanted = ("/collections/emergency.incidents/items", "/collections/emergency.incidents",
              "/collections/admin.communes/items/{featureId}", "/collections/catalog/items",
              "/collections/emergency.incidents/queryables", "/conformance", "/collections")
    failures: list[str] = []
    for result in schema.include(path=list(wanted)).get_all_operations():
        operation = result.ok()
        if operation.method.upper() not in ("GET", "POST"):
            continue

        @settings(max_examples=12, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:  # noqa: ANN001
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> "
                                f"{response.status_code} {response.text[:200]}")
            case.validate_response(response, checks=(not_a_server_error,))

        check()
    assert not failures, failures


def test_ogc_api_tiles_come_from_the_tiles_package(ogc: httpx.Client, ogc_server) -> None:  # noqa: ANN001
    config = ogc_server.app.state.ogc.api_for(ANONYMOUS).config["resources"]["admin.communes"]
    tiles = [p for p in config["providers"] if p["type"] == "tile"]
    assert tiles and tiles[0]["name"] == "iocgis.tiles.pygeoapi_provider.IocgisTileProvider"
    assert all(p["name"] != "MVT-postgresql" for p in config["providers"])
    response = ogc.get("/collections/admin.communes/tiles/WebMercatorQuad/10/480/815", params={"f": "mvt"})
    assert response.status_code == 200, response.text[:300]
    layers = mapbox_vector_tile.decode(response.content)
    names = {f["properties"].get("name") for layer in layers.values() for f in layer["features"]}
    assert "Phường Trấn Biên" in names
    metadata = ogc.get("/collections/admin.communes/tiles/WebMercatorQuad/metadata")
    assert metadata.status_code == 200 and "WebMercatorQuad" in metadata.text


def test_gdal_reads_items_in_vn2000(ogc_server) -> None:  # noqa: ANN001
    """GDAL 3.6's OAPIF driver has no CRS option: its GeoJSON driver reads a page asked in
    EPSG:5899 (the README's recipe), coordinates transformed by PostGIS with the official shift."""
    crs = "http://www.opengis.net/def/crs/EPSG/0/5899"
    listing = _ogrinfo("-al", "-q",
                       f"GeoJSON:{ogc_server.url}/collections/emergency.incidents/items"
                       f"?crs={crs}&incident_code=SC-001")
    point = listing.split("POINT (", 1)[1].split(")", 1)[0]
    x, y = (float(v) for v in point.split())
    assert 350_000 < x < 450_000 and 1_150_000 < y < 1_300_000  # TM-3 107°45' metres


def test_gdal_reads_a_feature_by_id(ogc_server, ogc: httpx.Client) -> None:  # noqa: ANN001
    """GDAL's OAPIF driver fetches ``<items link>/<fid>``: with an items link ending in
    ``?f=json`` it asked for ``items?f=json/45`` and failed (issue 12)."""
    fid = ogc.get("/collections/emergency.incidents/items",
                  params={"incident_code": "SC-004"}).json()["features"][0]["id"]
    listing = _ogrinfo("-al", "-q", "-fid", str(fid),
                       f"OAPIF:{ogc_server.url}/collections/emergency.incidents")
    assert f"OGRFeature(emergency.incidents):{fid}" in listing
    assert "incident_code (String) = SC-004" in listing and "Trấn Biên" in listing
    assert listing.count("OGRFeature(") == 1

"""Open data: the downloads open with pyogrio, csv and json, hold the live rows of the version
their names carry, follow a new version, and the DCAT catalogue and the Records list them."""

from __future__ import annotations

import csv
import io
import json

import httpx
import psycopg
import pyogrio
import pytest

from iocgis.layers import get_registry
from iocgis.layers.model import LayerDef

from ..security.security_helpers import insert_sample
from .conftest import LAT, LON, square


def _version(db_url: str, layer: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute("SELECT data_version FROM meta.layers WHERE id = %s",
                            (layer,)).fetchone()[0]


def _live(db_url: str) -> dict[str, str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return dict(conn.execute("SELECT code, name FROM admin.communes").fetchall())


def _download(server, fmt: str) -> httpx.Response:  # noqa: ANN001
    answer = httpx.get(f"{server.url}/open-data/admin.communes.{fmt}", timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    return answer


def _names(fmt: str, body: bytes, tmp_path) -> dict[str, str]:  # noqa: ANN001
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert all(r["wkt"].startswith("MULTIPOLYGON") for r in rows)
        return {r["code"]: r["name"] for r in rows}
    if fmt == "geojson":
        features = json.loads(body)["features"]
        assert all(f["geometry"]["type"] == "MultiPolygon" for f in features)
        return {f["properties"]["code"]: f["properties"]["name"] for f in features}
    path = tmp_path / "communes.gpkg"
    path.write_bytes(body)
    _, table = pyogrio.read_arrow(path)
    return dict(zip(table.column("code").to_pylist(), table.column("name").to_pylist()))


def test_downloads_match_the_live_rows_of_their_version(sharing_server, sharing_db_url,
                                                        tmp_path) -> None:  # noqa: ANN001
    version = _version(sharing_db_url, "admin.communes")
    for fmt in ("gpkg", "csv", "geojson"):
        answer = _download(sharing_server, fmt)
        assert f"admin.communes-v{version}.{fmt}" in answer.headers["content-disposition"]
        assert _names(fmt, answer.content, tmp_path) == _live(sharing_db_url)
    # a new version: new files with the new row, named by it
    with psycopg.connect(sharing_db_url, autocommit=True) as conn:
        insert_sample(conn, "admin.communes", code="26100", name="Xã Mới Mở",
                      geom=square(LON + 0.2, LAT, 0.01))
        conn.execute("UPDATE meta.layers SET data_version = data_version + 1 "
                     "WHERE id = 'admin.communes'")
    answer = _download(sharing_server, "geojson")
    assert f"admin.communes-v{version + 1}.geojson" in answer.headers["content-disposition"]
    assert _names("geojson", answer.content, tmp_path)["26100"] == "Xã Mới Mở"
    assert httpx.get(f"{sharing_server.url}/open-data/land.parcels.csv").status_code == 404
    assert httpx.get(f"{sharing_server.url}/open-data/admin.communes.shp").status_code == 400


def test_the_catalogues_list_the_open_layers(sharing_server, sharing_db_url) -> None:  # noqa: ANN001
    catalog = httpx.get(f"{sharing_server.url}/open-data/catalog.json", timeout=60).json()
    datasets = {d["identifier"].rsplit("/", 1)[1]: d for d in catalog["dataset"]}
    assert set(datasets) == {"admin.communes", "base.places"}
    communes = datasets["admin.communes"]
    assert communes["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert communes["version"] == str(_version(sharing_db_url, "admin.communes"))
    assert communes["modified"] and communes["publisher"]["name"]
    assert communes["contactPoint"]["fn"] == communes["publisher"]["name"]
    assert communes["accessLevel"] == "public" and communes["keyword"]
    assert {d["format"] for d in communes["distribution"]} == {"GeoPackage", "CSV", "GeoJSON"}
    for distribution in communes["distribution"]:
        assert httpx.get(distribution["downloadURL"], timeout=60).status_code == 200
    record = httpx.get(f"{sharing_server.url}/collections/catalog/items/admin.communes",
                       params={"f": "json"}, timeout=60).json()
    assert record["properties"]["license"] == "CC-BY-4.0" and record["properties"]["openData"]
    assert sum(link["rel"] == "enclosure" for link in record["links"]) == 3


def test_only_public_layers_may_be_open() -> None:
    parcels = get_registry().get("land.parcels")
    with pytest.raises(ValueError, match="only public layers may be open data"):
        LayerDef.model_validate({**parcels.model_dump(), "open": {"licence": "CC-BY-4.0"}})
    communes = get_registry().get("admin.communes")
    with pytest.raises(ValueError, match="licence"):
        LayerDef.model_validate({**communes.model_dump(), "open": {"licence": "secret"}})

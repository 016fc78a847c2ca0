"""A file at a URL in each format a department may publish (GeoJSON, zipped Shapefile,
GeoPackage; CSV is in test_connector_runs): the first run loads, an unchanged file changes
nothing, a changed file gives its diff, and a file whose rows fail the layer's rules fails the
run with the live layer whole. This platform goes live without approval
(``IOCGIS_IMPORTS_AUTO_APPROVE``), the other policy than the connector runs' platform."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
import shapely
import yaml
from pyogrio.raw import write_arrow

from iocgis.importers.connectors.run import Connectors, run_source
from iocgis.importers.connectors.settings import SourceSettings
from iocgis.importers.settings import ImportSettings
from iocgis.layers import get_registry
from iocgis.settings import Settings

from ..importers.conftest import province_database
from . import fixture_servers
from .conftest import data_version, layer_rows

STATIONS = [("BT-1", "Trạm xe buýt Tân Phong", "tram_xe_buyt", 106.821, 10.951),
            ("BT-2", "Bến xe Biên Hòa", "ben_xe", 106.824, 10.952),
            ("BT-3", "Trạm sạc Hố Nai", "tram_sac", 106.827, 10.953)]
FORMATS = {"geojson": ("ben_tram.geojson", "GeoJSON"), "zip": ("ben_tram_shp.zip", None),
           "gpkg": ("ben_tram.gpkg", "GPKG")}


@pytest.fixture(scope="module")
def files_settings(base_settings: Settings, dept_http: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp("file-sources")
    title = {"vi": "Bến, trạm (tệp)", "en": "Stations (file)"}
    mapping = {"fields": {"ma_tram": "station_id", "ten": "name", "loai": "kind"}}
    (folder / "tep.yaml").write_text(yaml.safe_dump({"sources": {
        f"tep_{fmt}": {"title": title, "layer": "infra.public_stations", "kind": "file_url",
                       "url": f"{dept_http}/files/{name}", "schedule": "P1D",
                       "mapping": mapping, "http_retries": 0,
                       **({"format": "zip"} if fmt == "zip" else {})}
        for fmt, (name, _) in FORMATS.items()}}, allow_unicode=True), encoding="utf-8")
    secrets = tmp_path_factory.mktemp("file-secrets") / "sources.yaml"
    secrets.write_text("{}\n", encoding="utf-8")
    os.chmod(secrets, 0o600)
    with province_database(base_settings, "cxfiles") as url:
        yield base_settings.model_copy(update={
            "database_url": url, "imports": ImportSettings(auto_approve=True),
            "sources": SourceSettings(dir=folder, secrets_file=secrets)})


def _encode(fmt: str, rows: list[tuple], folder: Path) -> bytes:
    """The rows as the department's file (the field names of its own system)."""
    table = pa.table({"ma_tram": [r[0] for r in rows], "ten": [r[1] for r in rows],
                      "loai": [r[2] for r in rows],
                      "geometry": shapely.to_wkb(shapely.points([(r[3], r[4]) for r in rows]))})
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "zip":
        for old in folder.glob("ben_tram.*"):
            old.unlink()
        write_arrow(table, str(folder / "ben_tram.shp"), driver="ESRI Shapefile",
                    geometry_name="geometry", geometry_type="Point", crs="EPSG:4326",
                    encoding="UTF-8")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            for part in sorted(folder.glob("ben_tram.*")):
                archive.write(part, part.name)
        return out.getvalue()
    name, driver = FORMATS[fmt]
    path = folder / name
    path.unlink(missing_ok=True)
    write_arrow(table, str(path), driver=driver, geometry_name="geometry",
                geometry_type="Point", crs="EPSG:4326")
    return path.read_bytes()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_file_url_in_each_format(fmt: str, files_settings: Settings,
                                   dept_data: fixture_servers.ServerData,
                                   tmp_path: Path) -> None:
    connectors = Connectors.load(files_settings, get_registry())
    source_id, name = f"tep_{fmt}", FORMATS[fmt][0]
    with psycopg.connect(connectors.url, autocommit=True) as conn:
        conn.execute("DELETE FROM infra.public_stations")  # each format starts from no row
    try:
        dept_data.files[name] = _encode(fmt, STATIONS, tmp_path / "v1")
        first = run_source(connectors, source_id)
        assert first["status"] == "loaded", first["error"]
        assert first["diff"]["added"] == 3
        with psycopg.connect(connectors.url, autocommit=True) as conn:
            rows = layer_rows(conn, "infra.public_stations", "station_id",
                              "station_id, name, kind, ST_X(geom) AS lon")
            assert rows["BT-2"]["name"] == "Bến xe Biên Hòa" and rows["BT-2"]["kind"] == "ben_xe"
            assert rows["BT-3"]["lon"] == pytest.approx(106.827)
            version = data_version(conn, "infra.public_stations")

        again = run_source(connectors, source_id)
        assert again["status"] == "unchanged", again
        with psycopg.connect(connectors.url, autocommit=True) as conn:
            assert data_version(conn, "infra.public_stations") == version

        changed_rows = [STATIONS[0], (*STATIONS[1][:1], "Bến xe Biên Hòa (mới)",
                                      *STATIONS[1][2:]), STATIONS[2],
                        ("BT-9", "Ga Biên Hòa", "ga", 106.83, 10.955)]
        dept_data.files[name] = _encode(fmt, changed_rows, tmp_path / "v2")
        changed = run_source(connectors, source_id)
        assert changed["status"] == "loaded", changed["error"]
        assert {k: changed["diff"][k] for k in ("added", "removed", "changed")} == \
            {"added": 1, "removed": 0, "changed": 1}
        with psycopg.connect(connectors.url, autocommit=True) as conn:
            after = layer_rows(conn, "infra.public_stations", "station_id")
            assert data_version(conn, "infra.public_stations") == version + 1
        assert after["BT-2"]["name"] == "Bến xe Biên Hòa (mới)" and set(after) == \
            {"BT-1", "BT-2", "BT-3", "BT-9"}

        # a kind outside the layer's code list: the run fails, the layer stays whole
        dept_data.files[name] = _encode(fmt, [*changed_rows[:3], ("BT-10", "Trạm lạ", "khong_co",
                                                                  106.84, 10.96)],
                                        tmp_path / "v3")
        refused = run_source(connectors, source_id, now=datetime.now(UTC) + timedelta(minutes=1))
        assert refused["status"] == "failed" and refused["error"], refused
        with psycopg.connect(connectors.url, autocommit=True) as conn:
            assert layer_rows(conn, "infra.public_stations", "station_id") == after
            assert data_version(conn, "infra.public_stations") == version + 1
    finally:
        dept_data.files.pop(name, None)


def test_a_busy_server_is_asked_again_inside_the_run(files_settings: Settings,
                                                      dept_data: fixture_servers.ServerData,
                                                      tmp_path: Path) -> None:
    """A 503 is tried again after 1 s, 2 s, ... up to ``http_retries`` times; beyond that the
    run fails (and the scheduler's back-off takes over)."""
    connectors = Connectors.load(files_settings, get_registry())
    source = connectors.source("tep_geojson")
    name = FORMATS["geojson"][0]
    with psycopg.connect(connectors.url, autocommit=True) as conn:
        conn.execute("DELETE FROM infra.public_stations")
    dept_data.files[name] = _encode("geojson", STATIONS, tmp_path)
    patient = replace(connectors, sources={source.id: source.model_copy(
        update={"http_retries": 2})})
    try:
        dept_data.flaky[name] = 2
        asked = len(dept_data.requests)
        loaded = run_source(patient, source.id)
        assert loaded["status"] == "loaded", loaded["error"]
        assert loaded["diff"]["added"] == 3
        assert sum(name in r for r in dept_data.requests[asked:]) == 3  # two 503s, then 200
        dept_data.flaky[name] = 3
        gave_up = run_source(patient, source.id, now=datetime.now(UTC) + timedelta(minutes=1))
        assert gave_up["status"] == "failed" and "503" in gave_up["error"], gave_up
    finally:
        dept_data.flaky.pop(name, None)
        dept_data.files.pop(name, None)

"""Connector fixtures: a *department* database (another database on the test cluster) served by
the platform's own OGC API and read as a remote PostGIS, a small ArcGIS-REST / WFS / file
server (fixture_servers.py), and the *platform* database the sources feed, with the source
definitions and the secrets file written for the ports of this run."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
import yaml

from iocgis.importers.connectors.run import Connectors
from iocgis.importers.connectors.settings import SourceSettings
from iocgis.importers.review import Reviewer, approve
from iocgis.importers.settings import ImportSettings
from iocgis.layers import get_registry
from iocgis.settings import Settings

from ..conftest import LiveServer, free_port, scratch_database
from ..importers.conftest import province_database
from . import fixture_servers

TOKEN = "mã-bí-mật-arcgis"
CSV_STATIONS = "station_id,name,kind,lon,lat\n" + "".join(
    f"BT-{i},Trạm xe buýt số {i},tram_xe_buyt,{106.82 + 0.003 * i},10.95\n" for i in range(1, 4))


def commune_square(x: float, y: float, size: float = 0.02) -> str:
    return (f"MULTIPOLYGON((({x} {y}, {x + size} {y}, {x + size} {y + size}, {x} {y + size}, "
            f"{x} {y})))")


def put_commune(conn: psycopg.Connection, code: str, name: str, x: float,
                population: int = 1000) -> None:
    conn.execute(
        "INSERT INTO admin.communes (code, name, type, province_code, population, geom) "
        "VALUES (%s, %s, 'Phường', '75', %s, ST_GeomFromText(%s, 4326)) ON CONFLICT (code) DO "
        "UPDATE SET name = EXCLUDED.name, population = EXCLUDED.population",
        (code, name, population, commune_square(x, 10.92)))


@pytest.fixture(scope="session")
def dept_url(base_settings: Settings) -> Iterator[str]:
    """The department's database: three communes (published by its OGC API) and a plain
    table of substations in VN-2000 (EPSG:5899) with an edit timestamp."""
    with scratch_database(base_settings, "cxdept") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for i, (code, name) in enumerate([("26041", "Phường Trấn Biên"),
                                              ("26068", "Phường Tam Hiệp"),
                                              ("26080", "Phường Long Bình")]):
                put_commune(conn, code, name, 106.80 + 0.03 * i)
            conn.execute(
                "CREATE SCHEMA so_cong_thuong; CREATE TABLE so_cong_thuong.tram_bien_ap ("
                "ma_tram text PRIMARY KEY, ten text NOT NULL, dien_ap numeric NOT NULL, "
                "cong_suat numeric, cap_nhat timestamptz NOT NULL, geom geometry(Point, 5899))")
            for i in range(5):
                conn.execute(
                    "INSERT INTO so_cong_thuong.tram_bien_ap VALUES (%s, %s, 110, %s, "
                    "'2026-01-01T00:00:00Z'::timestamptz + %s * interval '1 day', "
                    "ST_SetSRID(ST_MakePoint(%s, 1210495.416), 5899))",
                    (f"TBA-{i + 1:02d}", f"Trạm biến áp Biên Hòa {i + 1}", 40 + i, i,
                     398626.907 + 150 * i))
        yield url


@contextmanager
def platform_served(base_settings: Settings, url: str) -> Iterator[LiveServer]:
    """The platform's own app on the database ``url`` (a department's OGC API)."""
    server = LiveServer(base_settings.model_copy(update={"database_url": url})).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dept_ogc(base_settings: Settings, dept_url: str) -> Iterator[LiveServer]:
    with platform_served(base_settings, dept_url) as server:
        yield server


@pytest.fixture(scope="session")
def dept_data() -> fixture_servers.ServerData:
    return fixture_servers.ServerData()


@pytest.fixture(scope="session")
def dept_http(dept_data: fixture_servers.ServerData) -> Iterator[str]:
    """The ArcGIS REST, WFS and file server of the departments."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fixture_servers.app(dept_data), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def platform_url(base_settings: Settings) -> Iterator[str]:
    with province_database(base_settings, "cxplat") as url:
        yield url


def source_definitions(dept_ogc: str, dept_http: str, dept_url: str) -> dict[str, Any]:
    title = {"vi": "Nguồn thử", "en": "Test source"}
    # the department's account is in the secrets file: the URL names host and database only
    host_db = "postgresql://" + dept_url.split("@", 1)[1]
    return {"sources": {
        "so_nv_xa_phuong": {"title": title, "layer": "admin.communes", "kind": "ogcapi",
                            "url": dept_ogc, "collection": "admin.communes",
                            "schedule": "P1D", "owner": "chuyen_vien_nv", "http_retries": 0},
        "so_xd_cua_xa": {"title": title, "layer": "infra.drainage_outlets", "kind": "wfs",
                         "url": f"{dept_http}/wfs", "collection": "tn:cua_xa",
                         "schedule": "PT6H", "owner": "chuyen_vien_xd", "page_size": 2,
                         "http_retries": 0,
                         "mapping": {"fields": {"ma_cua_xa": "outlet_id",
                                                "nguon_tiep_nhan": "receiving_water",
                                                "co_cua_phai": "has_gate", "gml_id": None}}},
        "so_xd_cua_xa_sua": {"title": title, "layer": "infra.drainage_outlets", "kind": "wfs",
                             "url": f"{dept_http}/wfs", "collection": "tn:cua_xa",
                             "schedule": "PT6H", "owner": "chuyen_vien_xd", "page_size": 2,
                             "http_retries": 0, "incremental": {"field": "ngay_sua"},
                             "mapping": {"fields": {"ma_cua_xa": "outlet_id",
                                                    "nguon_tiep_nhan": "receiving_water",
                                                    "co_cua_phai": "has_gate", "gml_id": None,
                                                    "ngay_sua": None}}},
        "so_xd_cay_xanh": {"title": title, "layer": "infra.trees", "kind": "arcgis",
                           "url": f"{dept_http}/arcgis/rest/services/CayXanh/FeatureServer/0",
                           "schedule": "0 2 * * *", "credentials": "arcgis_xd", "page_size": 2,
                           "http_retries": 0,
                           "mode": "upsert", "incremental": {"field": "EditDate"},
                           "owner": "chuyen_vien_xd",
                           "mapping": {"fields": {"MA_CAY": "tree_id", "LOAI_CAY": "species",
                                                  "CHIEU_CAO": "height_m",
                                                  "NAM_TRONG": "planted_year", "OBJECTID": None,
                                                  "EditDate": None}}},
        "so_ct_tram": {"title": title, "layer": "infra.substations", "kind": "postgis",
                       "url": host_db, "table": "so_cong_thuong.tram_bien_ap",
                       "credentials": "pg_so_ct", "schedule": "P1D", "page_size": 2,
                       "incremental": {"field": "cap_nhat"}, "owner": "chuyen_vien_ct",
                       "mapping": {"fields": {"ma_tram": "substation_id", "ten": "name",
                                              "dien_ap": "voltage_kv",
                                              "cong_suat": "capacity_mva", "cap_nhat": None}}},
        "so_pccc_su_co": {"title": title, "layer": "emergency.incidents", "kind": "ogcapi",
                          "url": dept_ogc, "collection": "emergency.incidents",
                          "schedule": "PT1H", "owner": "chuyen_vien_pccc", "http_retries": 0,
                          "incremental": {"field": "reported_at"}},
        "so_gt_ben_tram": {"title": title, "layer": "infra.public_stations", "kind": "file_url",
                           "url": f"{dept_http}/files/ben_tram.csv", "schedule": "P7D",
                           "owner": "chuyen_vien_gt", "max_bytes": 20_000,
                           "http_retries": 0},
    }}


@pytest.fixture(scope="session")
def connector_settings(base_settings: Settings, platform_url: str, dept_ogc: LiveServer,
                       dept_http: str, dept_url: str, dept_data: fixture_servers.ServerData,
                       tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("sources")
    (folder / "so_ban_nganh.yaml").write_text(yaml.safe_dump(
        source_definitions(dept_ogc.url, dept_http, dept_url), allow_unicode=True),
        encoding="utf-8")
    user, password = dept_url.split("://", 1)[1].split("@", 1)[0].split(":", 1)
    secrets = tmp_path_factory.mktemp("secrets") / "sources.yaml"
    secrets.write_text(yaml.safe_dump({"arcgis_xd": {"token": TOKEN},
                                       "pg_so_ct": {"username": user, "password": password}},
                                      allow_unicode=True), encoding="utf-8")
    os.chmod(secrets, 0o600)
    dept_data.token = TOKEN
    return base_settings.model_copy(update={
        "database_url": platform_url,
        "imports": ImportSettings(auto_approve=False),
        "sources": SourceSettings(dir=folder, secrets_file=secrets)})


@pytest.fixture(scope="session")
def connectors(connector_settings: Settings) -> Connectors:
    return Connectors.load(connector_settings, get_registry())


@pytest.fixture
def platform(platform_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(platform_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def approve_run(connectors: Connectors) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A data steward approves the pending import a run made."""
    def decide(run: dict[str, Any]) -> dict[str, Any]:
        assert run["status"] == "pending", run
        with psycopg.connect(connectors.url, autocommit=True) as conn:
            return approve(conn, connectors.registry, int(run["import_id"]),
                           Reviewer.operator("truong_phong_du_lieu"))
    return decide


def put_incident(conn: psycopg.Connection, code: str, day: int, status: str = "moi") -> None:
    """An incident in the department's system, reported on ``day`` November 2026 at 08:00."""
    conn.execute(
        "INSERT INTO emergency.incidents (incident_code, kind, title, status, severity, "
        "reported_at, geom) VALUES (%s, 'chay', %s, %s, 2, make_timestamptz(2026, 11, %s, 8, 0, "
        "0, 'UTC'), ST_SetSRID(ST_MakePoint(%s, 10.95), 4326)) ON CONFLICT (incident_code) DO "
        "UPDATE SET status = EXCLUDED.status",
        (code, f"Cháy nhà dân {code}", status, day, 106.82 + 0.001 * day))


def layer_rows(conn: psycopg.Connection, table: str, key: str,
               columns: str = "*") -> dict[str, dict[str, Any]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return {r[key]: r for r in cur.execute(f"SELECT {columns} FROM {table}").fetchall()}


def data_version(conn: psycopg.Connection, layer_id: str) -> int:
    return int(conn.execute("SELECT data_version FROM meta.layers WHERE id = %s",
                            (layer_id,)).fetchone()[0])


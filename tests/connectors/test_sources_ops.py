"""Operating the sources: wrong definitions and secrets refused with file and key, the HTTP API
and page (who may read, who may run), and the ``iocgis sources`` commands as a process."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from iocgis.errors import ConfigError
from iocgis.importers.connectors.definitions import load_credentials, load_sources
from iocgis.importers.review import set_steward_groups
from iocgis.layers import get_registry
from iocgis.settings import Settings

from ..conftest import LiveServer
from ..security.security_helpers import _create, api_key_for, cli, run_async
from .conftest import CSV_STATIONS, TOKEN

GOOD = {"title": {"vi": "Cây xanh", "en": "Trees"}, "layer": "infra.trees", "kind": "arcgis",
        "url": "https://gis.example.vn/arcgis/rest/services/CX/FeatureServer/0",
        "schedule": "P1D"}


@pytest.mark.parametrize(("change", "where", "says"), [
    ({"url": "https://gis.example.vn/arcgis/rest/services/CX/FeatureServer/0?token=abc"},
     "cay", "holds a secret"),
    ({"url": "postgresql://u:matkhau@db.example.vn/x", "kind": "postgis", "table": "a.b"},
     "cay", "holds a secret"),
    ({"layer": "infra.khong_co"}, "cay: layer", "unknown layer"),
    ({"schedule": "mỗi ngày"}, "cay: schedule", "neither an ISO 8601 duration"),
    ({"kind": "wfs"}, "cay", "needs 'collection'"),
    ({"incremental": {"field": "sua"}, "kind": "file_url"}, "cay", "incremental pulls"),
    ({"mapping": {"fields": {"A": "khong_co_truong"}}}, "cay: mapping", "khong_co_truong"),
])
def test_wrong_definitions_name_the_file_and_key(tmp_path: Path, change, where, says) -> None:
    path = tmp_path / "so.yaml"
    path.write_text(yaml.safe_dump({"sources": {"cay": {**GOOD, **change}}},
                                   allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path, get_registry())
    assert str(path) in caught.value.where and where in caught.value.where
    assert says in str(caught.value)


def test_secrets_file_must_be_private(tmp_path: Path) -> None:
    secrets = tmp_path / "sources.yaml"
    secrets.write_text("arcgis: {token: abc}\n", encoding="utf-8")
    os.chmod(secrets, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_credentials(secrets, "arcgis")
    os.chmod(secrets, 0o600)
    assert load_credentials(secrets, "arcgis").token == "abc"
    with pytest.raises(ConfigError, match="no entry 'khac'"):
        load_credentials(secrets, "khac")


@pytest.fixture(scope="module")
def platform_server(connector_settings: Settings) -> LiveServer:
    server = LiveServer(connector_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys(connector_settings: Settings, platform_url: str) -> dict[str, str]:
    out = {}
    for name, roles in (("cx_viewer", ["viewer"]), ("cx_officer", ["gis_officer"]),
                        ("cx_admin", ["admin"]), ("cx_steward", ["data_steward"])):
        run_async(_create(platform_url, connector_settings, name, roles))
        out[name] = api_key_for(platform_url, name)
    with psycopg.connect(platform_url, autocommit=True) as conn:
        set_steward_groups(conn, get_registry(), "test", "cx_steward", ["infra"])
    return out


def _get(server: LiveServer, path: str, key: str | None = None) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    return httpx.get(server.url + path, headers=headers, timeout=30)


def test_http_api_and_page(platform_server: LiveServer, keys, dept_data) -> None:
    assert _get(platform_server, "/sources").status_code == 401
    assert _get(platform_server, "/sources", keys["cx_viewer"]).status_code == 403
    listed = _get(platform_server, "/sources", keys["cx_officer"])
    assert listed.status_code == 200
    body = listed.json()["sources"]
    assert {s["id"] for s in body} == {"so_nv_xa_phuong", "so_xd_cua_xa", "so_xd_cay_xanh",
                                       "so_ct_tram", "so_gt_ben_tram", "so_pccc_su_co",
                                       "so_xd_cua_xa_sua"}
    assert TOKEN not in listed.text and "password" not in listed.text
    tram = next(s for s in body if s["id"] == "so_ct_tram")
    assert tram["credentials"] == "pg_so_ct" and "@" not in tram["url"]
    assert {"last_success_at", "last_change_at", "next_run_at", "failures"} <= set(tram)
    one = _get(platform_server, "/sources/so_xd_cua_xa", keys["cx_officer"]).json()
    assert one["layer"] == "infra.drainage_outlets" and isinstance(one["runs"], list)
    assert _get(platform_server, "/sources/khong_co", keys["cx_officer"]).status_code == 404

    # the Records catalogue judges a fed layer by its source's cadence (6 h, not a year)
    def freshness(layer: str) -> dict:
        record = _get(platform_server, f"/collections/catalog/items/{layer}?f=json",
                      keys["cx_officer"])
        assert record.status_code == 200, record.text[:300]
        return record.json()["properties"]["freshnessDetail"]

    assert freshness("infra.drainage_outlets")["cadence"] == "PT21600S"
    assert freshness("infra.schools")["cadence"] == "P365D"  # fed by no source

    page = _get(platform_server, "/sources/overview", keys["cx_officer"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "so_gt_ben_tram" in page.text and "Lần chạy tới" in page.text
    assert "script" not in page.text and "default-src 'none'" in \
        page.headers["content-security-policy"]

    def run(source: str, key: str) -> httpx.Response:
        return httpx.post(f"{platform_server.url}/sources/{source}/run",
                          headers={"X-API-Key": key}, timeout=30)

    assert httpx.post(f"{platform_server.url}/sources/so_xd_cua_xa/run").status_code == 401
    assert run("so_xd_cua_xa", keys["cx_officer"]).status_code == 403
    assert run("so_nv_xa_phuong", keys["cx_steward"]).status_code == 403  # admin: not theirs
    assert run("khong_co", keys["cx_admin"]).status_code == 404
    started = run("so_xd_cua_xa", keys["cx_steward"])
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 60
    runs: list = []
    while time.monotonic() < deadline:
        runs = [r for r in _get(platform_server, "/sources/so_xd_cua_xa",
                                keys["cx_steward"]).json()["runs"]
                if r["trigger"] == "http" and r["status"] != "running"]
        if runs:
            break
        time.sleep(0.2)
    assert runs and runs[0]["requested_by"] == "cx_steward", runs


def test_cli(connector_settings: Settings, platform_url: str, dept_data, approve_run) -> None:
    env = {"IOCGIS_SOURCES_DIR": str(connector_settings.sources.dir),
           "IOCGIS_SOURCES_SECRETS_FILE": str(connector_settings.sources.secrets_file)}
    dept_data.files["ben_tram.csv"] = CSV_STATIONS.encode("utf-8")
    ran = cli(platform_url, "sources", "run", "so_gt_ben_tram", "--json", "--user", "cli:test",
              env=env)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)[0]
    assert result["status"] in ("loaded", "pending", "unchanged"), result
    assert result["requested_by"] == "cli:test" and result["trigger"] == "cli"
    if result["status"] == "pending":
        approve_run(result)
    dept_data.files.pop("ben_tram.csv")
    failed = cli(platform_url, "sources", "run", "so_gt_ben_tram", "--json", env=env)
    assert failed.returncode == 6 and "404" in json.loads(failed.stdout)[0]["error"]
    assert "source run(s) failed" in failed.stderr
    history = cli(platform_url, "sources", "history", "so_gt_ben_tram", env=env)
    assert history.returncode == 0, history.stderr
    assert "failed" in history.stdout and "cli" in history.stdout

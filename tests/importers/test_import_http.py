"""Upload over HTTP: POST /imports runs the pipeline as a background job, GET /imports/{id}
reports it; only signed-in callers with the import right may import; uploads above the
limit are refused. A real server on the importer tests' own database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from iocgis.security import accounts, login
from iocgis.security.accounts import Actor
from iocgis.security.settings import SecuritySettings
from iocgis.settings import Settings

from ..conftest import LiveServer
from .importer_fixtures import places, write_vector

UPLOAD_LIMIT = 512 * 1024


async def _account_with_key(url: str, name: str, roles: list[str]) -> str:
    settings = SecuritySettings()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await accounts.create(conn, settings, Actor("pytest"), name=name, roles=roles,
                              password="Thu-Nghiem-Nhap-Lieu-2025!")
        # API keys work once no temporary password is left (what `accounts passwd` does).
        await conn.execute("UPDATE security.accounts SET must_change_password = false "
                           "WHERE name = %s", (name,))
        key, _ = await login.create_api_key(conn, Actor("pytest"), name, networks=["127.0.0.0/8"])
    return key


@pytest.fixture(scope="module")
def server(imp_settings: Settings) -> Iterator[LiveServer]:
    security = SecuritySettings(upload_max_bytes=UPLOAD_LIMIT)
    running = LiveServer(imp_settings.model_copy(update={"security": security})).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def keys(imp_url: str) -> dict[str, str]:
    suffix = str(int(time.time() * 1000) % 10_000_000)
    return {role: asyncio.run(_account_with_key(imp_url, f"imp_{role}_{suffix}", [role]))
            for role in ("gis_officer", "viewer")}


def _post(server: LiveServer, path: Path, layer: str, key: str | None = None,
          **form: str) -> httpx.Response:
    headers = {"X-API-Key": key} if key else {}
    with path.open("rb") as fh:
        return httpx.post(server.url + "/imports", headers=headers, timeout=60,
                          data={"layer": layer, **form}, files={"file": (path.name, fh)})


def _wait(server: LiveServer, job_id: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/imports/{job_id}", headers={"X-API-Key": key},
                         timeout=30).json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.2)
    raise AssertionError("the import job did not finish")


def test_officer_uploads_and_polls_the_report(server, keys, state, imp_conn,
                                              tmp_path: Path) -> None:
    geoms, fields = places(4)
    path = write_vector(tmp_path / "điểm.gpkg", geoms, fields)
    answer = _post(server, path, "base.places", keys["gis_officer"], source_date="2025-07-01")
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["location"] == f"/imports/{job['id']}"
    done = _wait(server, job["id"], keys["gis_officer"])
    assert done["status"] == "loaded", done
    assert done["report"]["rows_loaded"] == 4 and done["report"]["user"].startswith("imp_")
    assert state("base.places")[0] == 4
    by_import_id = httpx.get(f"{server.url}/imports/{done['import_id']}",
                             headers={"X-API-Key": keys["gis_officer"]}, timeout=30).json()
    assert by_import_id["status"] == "loaded"
    assert by_import_id["report"]["source"]["path"].endswith("điểm.gpkg")


def test_a_bad_upload_fails_cleanly(server, keys, state, tmp_path: Path) -> None:
    geoms, fields = places(2)
    write_vector(tmp_path / "ok.gpkg", geoms, fields)
    before = state("base.places")
    empty = tmp_path / "rong.geojson"
    empty.write_text("")
    job = _post(server, empty, "base.places", keys["gis_officer"]).json()
    done = _wait(server, job["id"], keys["gis_officer"])
    assert done["status"] == "failed"
    assert "rong.geojson is empty" in done["error"]["description"]
    assert state("base.places") == before


def test_anonymous_and_viewers_may_not_import(server, keys, state, tmp_path: Path) -> None:
    geoms, fields = places(1)
    path = write_vector(tmp_path / "p.gpkg", geoms, fields)
    before = state("base.places")
    anonymous = _post(server, path, "base.places")
    assert anonymous.status_code == 401
    assert "signed-in account" in anonymous.json()["description"]
    viewer = _post(server, path, "base.places", keys["viewer"])
    assert viewer.status_code == 403
    assert "'import' right" in viewer.json()["description"]
    assert state("base.places") == before


def test_unknown_layer_and_unknown_job(server, keys, tmp_path: Path) -> None:
    geoms, fields = places(1)
    path = write_vector(tmp_path / "p.gpkg", geoms, fields)
    answer = _post(server, path, "land.thua_dat", keys["gis_officer"])
    assert answer.status_code == 404 and "unknown layer" in answer.json()["description"]
    missing = httpx.get(f"{server.url}/imports/ffff", headers={"X-API-Key": keys["gis_officer"]},
                        timeout=30)
    assert missing.status_code == 404


def test_a_file_bigger_than_the_upload_limit(server, keys, state, tmp_path: Path) -> None:
    geoms, fields = places(1)
    fields["name"] = ["x" * 500]
    path = write_vector(tmp_path / "lon.geojson", geoms * 1, fields, driver="GeoJSON")
    path.write_text(path.read_text() + " " * (UPLOAD_LIMIT + 10))
    before = state("base.places")
    answer = _post(server, path, "base.places", keys["gis_officer"])
    assert answer.status_code == 413
    assert f"larger than {UPLOAD_LIMIT} bytes" in answer.json()["description"]
    assert state("base.places") == before

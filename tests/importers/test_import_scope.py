"""An officer limited to a commune imports only that commune's rows, over HTTP as users do:
a file with another commune's rows is refused and changes nothing; ``replace`` replaces only
the officer's commune and keeps every other commune's rows; a layer shared by every commune
(no ``commune_field``) is refused before anything is read."""

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
from .importer_fixtures import parcels, places, write_vector

A, B = "26041", "26068"


async def _officer(url: str, name: str, communes: tuple[str, ...]) -> str:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await accounts.create(conn, SecuritySettings(), Actor("pytest"), name=name,
                              roles=["gis_officer"], communes=communes,
                              password="Thu-Nghiem-Pham-Vi-2025!")
        await conn.execute("UPDATE security.accounts SET must_change_password = false "
                           "WHERE name = %s", (name,))
        key, _ = await login.create_api_key(conn, Actor("pytest"), name)
    return key


@pytest.fixture(scope="module")
def server(imp_settings: Settings) -> Iterator[LiveServer]:
    running = LiveServer(imp_settings).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def keys(imp_url: str) -> dict[str, str]:
    suffix = str(int(time.time() * 1000) % 10_000_000)
    return {"province": asyncio.run(_officer(imp_url, f"scope_prov_{suffix}", ())),
            "commune": asyncio.run(_officer(imp_url, f"scope_xa_{suffix}", (A,)))}


def _import(server: LiveServer, path: Path, layer: str, key: str, **form: str) -> httpx.Response:
    with path.open("rb") as fh:
        return httpx.post(server.url + "/imports", headers={"X-API-Key": key}, timeout=60,
                          data={"layer": layer, **form}, files={"file": (path.name, fh)})


def _finished(server: LiveServer, answer: httpx.Response, key: str) -> dict[str, Any]:
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/imports/{answer.json()['id']}",
                         headers={"X-API-Key": key}, timeout=30).json()
        if body["status"] not in ("queued", "running"):
            return body
        time.sleep(0.2)
    raise AssertionError("the import job did not finish")


def _parcels_file(tmp_path: Path, name: str, communes: list[str], start: int) -> Path:
    geoms, fields = parcels(len(communes), start=start)
    fields["commune_code"] = communes
    fields["sheet_no"] = [7100] * len(communes)
    return write_vector(tmp_path / name, geoms, fields)


def _by_commune(conn: psycopg.Connection) -> dict[str, list[int]]:
    rows = conn.execute("SELECT commune_code, array_agg(parcel_no ORDER BY parcel_no) "
                        "FROM land.parcels GROUP BY 1").fetchall()
    return {commune: numbers for commune, numbers in rows}


def test_a_commune_officer_imports_only_its_commune(server, keys, imp_conn,
                                                    tmp_path: Path) -> None:
    start = _import(server, _parcels_file(tmp_path, "tinh.gpkg", [A, A, B, B], 1),
                    "land.parcels", keys["province"])
    assert _finished(server, start, keys["province"])["status"] == "loaded"
    before = _by_commune(imp_conn)
    assert before == {A: [1, 2], B: [3, 4]}

    mixed = _import(server, _parcels_file(tmp_path, "lan.gpkg", [A, B], 10), "land.parcels",
                    keys["commune"], mode="append")
    job = _finished(server, mixed, keys["commune"])
    assert job["status"] == "failed"
    message = job["error"]["description"]
    assert B in message and "not of your communes" in message, message
    assert "uploads/" not in str(job)  # no server paths in what the client sees
    assert _by_commune(imp_conn) == before  # nothing changed

    mine = _import(server, _parcels_file(tmp_path, "xa.gpkg", [A, A, A], 20), "land.parcels",
                   keys["commune"], mode="replace")
    job = _finished(server, mine, keys["commune"])
    assert job["status"] == "loaded", job
    assert _by_commune(imp_conn) == {A: [20, 21, 22], B: [3, 4]}  # B kept, A replaced
    assert any(f["rule"] == "scope.kept" for f in job["report"]["findings"])


def test_a_layer_shared_by_every_commune_is_refused(server, keys, imp_conn,
                                                    tmp_path: Path) -> None:
    geoms, fields = places(2)
    count = imp_conn.execute("SELECT count(*) FROM base.places").fetchone()[0]
    answer = _import(server, write_vector(tmp_path / "diem.gpkg", geoms, fields), "base.places",
                     keys["commune"])
    assert answer.status_code == 403, answer.text
    assert "shared by every commune" in answer.json()["description"]
    assert imp_conn.execute("SELECT count(*) FROM base.places").fetchone()[0] == count

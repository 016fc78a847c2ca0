"""Limits on tiles: the per-statement time limit (503 + Retry-After, never a 500), callers
limited to some communes (their rows only, their own cache entries), and the bounded audit
of restricted layers read through tiles."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import httpx
import mapbox_vector_tile
import psycopg
import pytest

from iocgis.access import ACCESS_NOTES, AccessNotes, Caller
from iocgis.errors import TemporarilyUnavailable
from iocgis.security import audit
from iocgis.tiles.grid import lonlat_to_tile
from iocgis.tiles.render import RestrictedReadLog

from ..conftest import LiveServer
from ..security.security_helpers import _create, api_key_for, run_async
from .conftest import OFFICER, VIEWER
from .tiles_fixtures import bump

BIEN_HOA = (106.8215, 10.9515)
OTHER_COMMUNE = "26001"  # the fixture's parcels all lie in commune 26000
LIMITED = Caller(name="limited-viewer", roles=frozenset({"viewer"}),
                 commune_codes=frozenset({OTHER_COMMUNE}))
SUBSTATION = (106.87, 10.95)  # infra.substations: a restricted layer


def at(z: int, lonlat: tuple[float, float] = BIEN_HOA) -> tuple[int, int, int]:
    t = lonlat_to_tile(*lonlat, z)
    return t.z, t.x, t.y


def parcel_ids(rendered) -> set[int]:
    if rendered.empty:
        return set()
    return {f["id"] for f in mapbox_vector_tile.decode(rendered.raw())["land.parcels"]["features"]}


# -- time limit ----------------------------------------------------------------------------


def _slowed(renderer, seconds: float) -> None:
    """Make every tile statement of ``renderer`` sleep first: a deliberately slow tile."""
    build = renderer.statement

    def slow(*args, **kwargs):
        found = build(*args, **kwargs)
        return dataclasses.replace(found, text=found.text.replace(
            "FROM (SELECT 1) one", f"FROM (SELECT pg_sleep({seconds})) one", 1))

    renderer.statement = slow


def _session_timeout(runner) -> str:
    async def show() -> str:
        async with runner.pool.connection() as conn:
            return (await (await conn.execute("SHOW statement_timeout")).fetchone())[0]

    return runner.run(show())


def test_a_tile_over_the_time_limit_is_temporarily_unavailable(make_renderer) -> None:
    r = make_renderer(cache="none", statement_timeout_ms=50, retry_after_s=7)
    _slowed(r.renderer, 5)
    with pytest.raises(TemporarilyUnavailable) as caught:
        r.tile("land", *at(15), VIEWER)
    assert caught.value.http_status == 503 and caught.value.retry_after_s == 7
    assert "0.05 s" in caught.value.message and caught.value.hint
    # the pooled connection went back clean: no transaction left open, no limit left set
    assert _session_timeout(r) != "50ms"


def test_the_time_limit_is_per_statement_not_per_connection(make_renderer) -> None:
    r = make_renderer(cache="none", statement_timeout_ms=123_456)
    assert not r.tile("land", *at(14), VIEWER).empty
    assert _session_timeout(r) != "123456ms"


@pytest.fixture
def slow_tiles_server(tiles_settings) -> Iterator[tuple[LiveServer, object]]:
    from iocgis.tiles.service import renderer_for
    from iocgis.tiles.settings import TileSettings

    slow = TileSettings(statement_timeout_ms=50, cache="none")
    server = LiveServer(tiles_settings.model_copy(update={"tiles": slow})).start()
    renderer = renderer_for(server.app.state.iocgis)
    yield server, renderer
    server.stop()


def test_a_timed_out_tile_is_a_503_with_retry_after_over_http(slow_tiles_server) -> None:
    server, renderer = slow_tiles_server
    _slowed(renderer, 5)
    z, x, y = at(14)
    response = httpx.get(f"{server.url}/tiles/basemap/{z}/{x}/{y}.mvt", timeout=30)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "TemporarilyUnavailable"
    assert "Traceback" not in response.text


# -- commune limits ------------------------------------------------------------------------


@pytest.fixture
def other_commune_parcels(tiles_db_url: str) -> Iterator[set[int]]:
    """Five parcels of a second commune inside the Biên Hòa tiles (removed afterwards)."""
    with psycopg.connect(tiles_db_url, autocommit=True) as conn:
        fids = {conn.execute(
            "INSERT INTO land.parcels (commune_code, sheet_no, parcel_no, land_use, area_m2, geom)"
            " VALUES (%s, 50, %s, 'ODT', 240, ST_Multi(ST_MakeEnvelope(%s, 10.9512, %s, 10.9516, 4326)))"
            " RETURNING fid", (OTHER_COMMUNE, 5000 + i, 106.8212 + i * 0.0005,
                               106.8216 + i * 0.0005)).fetchone()[0] for i in range(5)}
        bump(conn, "land.parcels")
    yield fids
    with psycopg.connect(tiles_db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM land.parcels WHERE fid = ANY(%s)", (list(fids),))
        bump(conn, "land.parcels")


def test_a_commune_limited_caller_sees_only_its_communes_rows(make_renderer,
                                                              other_commune_parcels) -> None:
    r = make_renderer(memory_cache_mb=8, version_ttl_s=0)
    tile = at(16)
    everyone = parcel_ids(r.tile("land", *tile, VIEWER))  # rendered and cached first
    assert other_commune_parcels <= everyone and len(everyone) > len(other_commune_parcels)
    limited = r.tile("land", *tile, LIMITED)
    assert not limited.from_cache  # the unlimited caller's tile is not served to it
    assert parcel_ids(limited) == other_commune_parcels
    again = r.tile("land", *tile, LIMITED)
    assert again.from_cache and parcel_ids(again) == other_commune_parcels
    unlimited = r.tile("land", *tile, VIEWER)
    assert unlimited.from_cache and parcel_ids(unlimited) == everyone  # nor the other way
    assert limited.key != unlimited.key and limited.etag != unlimited.etag
    # a limit to another commune is yet another entry
    elsewhere = Caller(name="x", roles=frozenset({"viewer"}), commune_codes=frozenset({"26009"}))
    assert r.tile("land", *tile, elsewhere).empty


def test_a_commune_limit_reaches_the_thinned_statements_too(make_renderer,
                                                            other_commune_parcels) -> None:
    r = make_renderer(cache="none", size_budget=1_000)  # forces every thinning level
    assert parcel_ids(r.tile("land", *at(16), LIMITED)) <= other_commune_parcels


def test_layers_without_a_commune_field_share_the_unlimited_cache(make_renderer) -> None:
    r = make_renderer(memory_cache_mb=8)
    tile = at(12)
    first = r.tile("basemap", *tile, VIEWER)
    shared = r.tile("basemap", *tile, LIMITED)
    assert shared.from_cache and shared.key == first.key


def test_a_commune_limited_account_over_http(tiles_server, tiles_db_url, tiles_settings,
                                             other_commune_parcels) -> None:
    run_async(_create(tiles_db_url, tiles_settings, "xa-26001", ["viewer"],
                      communes=(OTHER_COMMUNE,)))
    run_async(_create(tiles_db_url, tiles_settings, "tinh-viewer", ["viewer"]))
    limited = {"X-API-Key": api_key_for(tiles_db_url, "xa-26001")}
    unlimited = {"X-API-Key": api_key_for(tiles_db_url, "tinh-viewer")}
    z, x, y = at(16)
    path = f"{tiles_server.url}/tiles/land/{z}/{x}/{y}.mvt"

    def ids(headers: dict[str, str]) -> set[int]:
        response = httpx.get(path, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        layer = mapbox_vector_tile.decode(response.content)["land.parcels"]
        return {f["id"] for f in layer["features"]}

    everyone = ids(unlimited)
    assert ids(limited) == other_commune_parcels
    assert ids(unlimited) == everyone and other_commune_parcels < everyone


# -- audit of restricted reads -------------------------------------------------------------


def _noted(runner, caller: Caller, z: int, lonlat=SUBSTATION, tileset="infrastructure"):
    notes = AccessNotes()
    token = ACCESS_NOTES.set(notes)
    try:
        runner.tile(tileset, *at(z, lonlat), caller)
    finally:
        ACCESS_NOTES.reset(token)
    return notes.restricted


def test_restricted_tile_reads_are_noted_once_per_caller_tileset_and_zoom(make_renderer) -> None:
    r = make_renderer(cache="none")
    assert _noted(r, OFFICER, 14) == {"infra.substations"}
    assert _noted(r, OFFICER, 14) == set()  # the same view panned: no new record
    assert _noted(r, OFFICER, 15) == {"infra.substations"}  # a new zoom level: recorded
    other = dataclasses.replace(OFFICER, name="officer-2")
    assert _noted(r, other, 14) == {"infra.substations"}  # another account: recorded
    moved = dataclasses.replace(OFFICER, client="10.1.2.3")
    assert _noted(r, moved, 14) == {"infra.substations"}  # another address: recorded
    assert _noted(r, VIEWER, 14) == set()  # no restricted layer in a viewer's tile


def test_the_window_expires_and_zero_means_every_tile() -> None:
    log = RestrictedReadLog(600)
    assert log.due(OFFICER, "infrastructure", 14, now=1000.0)
    assert not log.due(OFFICER, "infrastructure", 14, now=1599.0)
    assert log.due(OFFICER, "infrastructure", 14, now=1601.0)
    every = RestrictedReadLog(0)
    assert every.due(OFFICER, "infrastructure", 14) and every.due(OFFICER, "infrastructure", 14)


def test_the_read_log_stays_bounded() -> None:
    log = RestrictedReadLog(10)
    log.MAX_ENTRIES = 100
    for i in range(1000):
        log.due(dataclasses.replace(OFFICER, name=f"o{i}"), "t", 14, now=float(i))
    assert len(log._last) <= 100


def test_who_accessed_still_names_the_officer_after_many_tiles(tiles_server, tiles_db_url,
                                                                tiles_settings) -> None:
    run_async(_create(tiles_db_url, tiles_settings, "can-bo-dien-luc", ["gis_officer"]))
    headers = {"X-API-Key": api_key_for(tiles_db_url, "can-bo-dien-luc")}
    since = audit_since(tiles_db_url)
    z, x, y = at(14, SUBSTATION)
    for dx in range(-2, 3):  # a map view: five tiles at one zoom
        response = httpx.get(f"{tiles_server.url}/tiles/infrastructure/{z}/{x + dx}/{y}.mvt",
                             headers=headers, timeout=30)
        assert response.status_code in (200, 204), response.text
    response = httpx.get(f"{tiles_server.url}/tiles/infrastructure.json", headers=headers,
                         timeout=30)
    assert response.status_code == 200
    rows = _who(tiles_db_url, since)
    mine = [row for row in rows if row["actor"] == "can-bo-dien-luc"
            and row["action"] == "data.read_restricted"]
    assert mine, rows
    # one record for the five tiles, one for the TileJSON: bounded, and still answering
    assert sum(row["events"] for row in mine) == 2


def audit_since(db_url: str):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT now()").fetchone()[0]


def _who(db_url: str, since) -> list[dict]:
    deadline = time.monotonic() + 10  # the audit record is written after the response
    while True:
        with psycopg.connect(db_url, autocommit=True) as conn:
            rows = audit.who_accessed(conn, "infra.substations", since)
        if any(r["actor"] == "can-bo-dien-luc" for r in rows) and (
                sum(r["events"] for r in rows if r["actor"] == "can-bo-dien-luc") >= 2
                or time.monotonic() > deadline):
            return rows
        if time.monotonic() > deadline:
            return rows
        time.sleep(0.1)

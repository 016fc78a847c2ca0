"""Fixtures of the query tests: their own migrated database with the small data set of
``query_fixtures`` (so other areas' data never change what these tests see), a GeoTIFF in the
raster catalog, a real HTTP server on it, and API keys for an analyst with and without the
personal-data right (through the security module's own account functions)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
import rasterio
from rasterio.transform import from_origin

from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from . import query_fixtures

RASTER_NAME = "dem_test"
RASTER_ORIGIN = (106.80, 11.00)  # north-west corner
RASTER_PIXEL = 0.001  # degrees
RASTER_SIZE = 100  # 100 × 100 pixels: 106.80–106.90 E, 10.90–11.00 N
RASTER_NODATA = -9999.0


def raster_value(row: int, col: int) -> float:
    """The test raster's pixel values: row * 1000 + col; the top-left 10 × 10 block is nodata."""
    return RASTER_NODATA if row < 10 and col < 10 else float(row * 1000 + col)


@pytest.fixture(scope="session")
def query_db_url(base_settings: Settings) -> Iterator[str]:
    with scratch_database(base_settings, "query") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            query_fixtures.load(conn)
        yield url


@pytest.fixture(scope="session")
def query_settings(base_settings: Settings, query_db_url: str) -> Settings:
    return base_settings.model_copy(update={"database_url": query_db_url})


@pytest.fixture
def qconn(query_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(query_db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def raster_file(query_settings: Settings, query_db_url: str) -> Path:
    """A small GeoTIFF (EPSG:4326, float32, tiled) registered in ``meta.rasters``."""
    folder = query_settings.rasters_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dem_test.tif"
    data = np.array([[raster_value(r, c) for c in range(RASTER_SIZE)]
                     for r in range(RASTER_SIZE)], dtype="float32")
    transform = from_origin(*RASTER_ORIGIN, RASTER_PIXEL, RASTER_PIXEL)
    with rasterio.open(path, "w", driver="GTiff", width=RASTER_SIZE, height=RASTER_SIZE, count=1,
                       dtype="float32", crs="EPSG:4326", transform=transform,
                       nodata=RASTER_NODATA, tiled=True, blockxsize=32, blockysize=32) as dst:
        dst.write(data, 1)
    west, north = RASTER_ORIGIN
    east, south = west + RASTER_SIZE * RASTER_PIXEL, north - RASTER_SIZE * RASTER_PIXEL
    with psycopg.connect(query_db_url, autocommit=True) as conn:
        for name, sensitivity, file in ((RASTER_NAME, "public", path.name),
                                        ("dem_restricted", "restricted", str(path))):
            conn.execute(
                "INSERT INTO meta.rasters (name, title_vi, title_en, kind, path, crs, footprint,"
                " width, height, bands, dtype, nodata, resolution, unit, sensitivity) VALUES"
                " (%s, 'Độ cao thử nghiệm', 'Test elevation', 'elevation', %s, 'EPSG:4326',"
                " ST_MakeEnvelope(%s, %s, %s, %s, 4326), %s, %s, 1, 'float32', %s, %s, 'm', %s)",
                (name, file, west, south, east, north, RASTER_SIZE, RASTER_SIZE, RASTER_NODATA,
                 [RASTER_PIXEL, RASTER_PIXEL], sensitivity))
    return path


@pytest.fixture(scope="session")
def query_server(query_settings: Settings, raster_file: Path) -> Iterator[LiveServer]:
    server = LiveServer(query_settings).start()
    yield server
    server.stop()


async def _make_keys(url: str, settings: Settings) -> dict[str, str]:
    from iocgis.security import accounts, login

    actor = accounts.Actor("query-tests")
    keys = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for name, roles, pii, communes in (("q_analyst", ["analyst"], False, []),
                                           ("q_analyst_pii", ["analyst"], True, []),
                                           ("q_scoped", ["analyst"], False, ["26041"])):
            await accounts.create(conn, settings.security, actor, name=name, roles=roles, pii=pii,
                                  communes=communes)
            # API keys work once no temporary password is left (what `accounts passwd` does).
            await conn.execute("UPDATE security.accounts SET must_change_password = false "
                               "WHERE name = %s", (name,))
            keys[name], _ = await login.create_api_key(conn, actor, name, label="query tests")
    return keys


@pytest.fixture(scope="session")
def api_keys(query_db_url: str, query_settings: Settings) -> dict[str, str]:
    return asyncio.run(_make_keys(query_db_url, query_settings))


@pytest.fixture
def anon(query_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=query_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def analyst(query_server: LiveServer, api_keys: dict[str, str]) -> Iterator[httpx.Client]:
    """An analyst: internal layers (houses, parcels), no personal data."""
    with httpx.Client(base_url=query_server.url, timeout=30,
                      headers={"X-API-Key": api_keys["q_analyst"]}) as client:
        yield client


@pytest.fixture
def analyst_pii(query_server: LiveServer, api_keys: dict[str, str]) -> Iterator[httpx.Client]:
    """An analyst holding the personal-data right."""
    with httpx.Client(base_url=query_server.url, timeout=30,
                      headers={"X-API-Key": api_keys["q_analyst_pii"]}) as client:
        yield client


@pytest.fixture
def scoped(query_server: LiveServer, api_keys: dict[str, str]) -> Iterator[httpx.Client]:
    """An analyst whose account is limited to commune 26041."""
    with httpx.Client(base_url=query_server.url, timeout=30,
                      headers={"X-API-Key": api_keys["q_scoped"]}) as client:
        yield client

"""Fixtures of the tile, style and map tests: their own migrated database with a small
Đồng Nai-like data set (so other areas' imports never change what these tests see), settings
and a real HTTP server on it, and renderers built in-process for callers of every role."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from iocgis.access import Caller
from iocgis.settings import Settings
from iocgis.tiles.render import TileRenderer
from iocgis.tiles.settings import TileSettings

from ..conftest import LiveServer, scratch_database
from . import tiles_fixtures

ANONYMOUS = Caller()
VIEWER = Caller(name="viewer", roles=frozenset({"viewer"}))
OFFICER = Caller(name="officer", roles=frozenset({"gis_officer"}))
ADMIN = Caller(name="admin", roles=frozenset({"admin"}), pii=True)


@pytest.fixture(scope="session")
def tiles_db_url(base_settings: Settings) -> Iterator[str]:
    with scratch_database(base_settings, "tiles") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            tiles_fixtures.load(conn)
        yield url


@pytest.fixture(scope="session")
def tiles_settings(base_settings: Settings, tiles_db_url: str,
                   tmp_path_factory: pytest.TempPathFactory) -> Settings:
    cache = tmp_path_factory.mktemp("tiles-cache")
    return base_settings.model_copy(update={"database_url": tiles_db_url,
                                            "cache_dir_override": cache})


@pytest.fixture
def tiles_conn(tiles_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(tiles_db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def tiles_server(tiles_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(tiles_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiles_http(tiles_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=tiles_server.url, timeout=30) as client:
        yield client


class RendererRunner:
    """A TileRenderer on its own pool, driven from synchronous tests."""

    def __init__(self, settings: Settings, tile_settings: TileSettings) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool = AsyncConnectionPool(settings.database_url, min_size=1, max_size=4, open=False,
                                        kwargs={"autocommit": True})
        self.loop.run_until_complete(self.pool.open())
        self.renderer = TileRenderer(settings, self.pool, tile_settings)

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def tile(self, name: str, z: int, x: int, y: int, caller: Caller = ANONYMOUS):
        from iocgis.tiles.grid import TileAddress

        return self.run(self.renderer.tile(name, TileAddress(z, x, y), caller))

    def close(self) -> None:
        self.run(self.renderer.close())
        self.run(self.pool.close())
        self.loop.close()


@pytest.fixture
def make_renderer(tiles_settings: Settings, tmp_path: Path):
    """Build renderers with given tile settings (a fresh disk cache unless told otherwise)."""
    made: list[RendererRunner] = []

    def make(**overrides: object) -> RendererRunner:
        overrides.setdefault("cache_dir", tmp_path / "cache")
        runner = RendererRunner(tiles_settings, TileSettings(**overrides))
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.close()

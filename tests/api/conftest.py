"""OGC API fixtures: an own migrated database with small known data and a real server on it.

The OGC tests count features exactly, so they use their own database (other suites insert into
the same layer tables of the shared test database). The conformance suites (ogctests) run on a
second server over the small Đồng Nai demo loaded through the importers, so that every
collection has features to check (the suite stops at the first empty one).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from . import ogc_fixtures


@pytest.fixture(scope="session")
def ogc_db_url(base_settings: Settings) -> Iterator[str]:
    with scratch_database(base_settings, "ogc") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            ogc_fixtures.load(conn)
            conn.execute("ANALYZE")
        yield url


@pytest.fixture(scope="session")
def ogc_settings(base_settings: Settings, ogc_db_url: str) -> Settings:
    return base_settings.model_copy(update={"database_url": ogc_db_url})


@pytest.fixture(scope="session")
def ogc_server(ogc_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(ogc_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ogc(ogc_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ogc_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def ogc_conn(ogc_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(ogc_db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def demo_db_url(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from iocgis.demo.build import build_demo
    from iocgis.demo.load import load_demo

    with scratch_database(base_settings, "ogcdemo") as url:
        out = tmp_path_factory.mktemp("ogc-demo")
        build_demo("small", out)
        load_demo(out, url=url)
        yield url


@pytest.fixture(scope="session")
def demo_server(base_settings: Settings, demo_db_url: str) -> Iterator[LiveServer]:
    server = LiveServer(base_settings.model_copy(update={"database_url": demo_db_url})).start()
    yield server
    server.stop()

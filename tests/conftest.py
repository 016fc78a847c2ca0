"""Shared fixtures: a fresh, migrated PostGIS database per test session and a real HTTP server.

The database is created on the local cluster (or on the server DATABASE_URL names) as
``iocgis_test_<pid>`` so that parallel runs never meet, and dropped at the end.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from iocgis import migrate
from iocgis.db import database_url
from iocgis.settings import Settings

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _with_dbname(url: str, dbname: str) -> str:
    head, _, tail = url.rpartition("/")
    query = ""
    if "?" in tail:
        query = "?" + tail.split("?", 1)[1]
    return f"{head}/{dbname}{query}"


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("iocgis-var")
    return Settings(IOCGIS_CACHE_DIR=tmp / "cache", IOCGIS_RASTERS_DIR=tmp / "rasters")


@pytest.fixture(scope="session")
def db_url(base_settings: Settings) -> Iterator[str]:
    """A migrated, empty database for this test session."""
    server_url = database_url(base_settings)
    name = f"iocgis_test_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(name)))
    url = _with_dbname(server_url, name)
    migrate.upgrade(url)
    yield url
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def settings(base_settings: Settings, db_url: str) -> Settings:
    """Settings pointing at the test database."""
    return base_settings.model_copy(update={"database_url": db_url})


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real ASGI app under uvicorn in a background thread, on a free port."""

    def __init__(self, app) -> None:  # noqa: ANN001 - any ASGI app
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    from iocgis.api.app import create_app

    server = LiveServer(create_app(settings)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

"""OGC API fixtures: an own migrated database with small known data and a real server on it.

The OGC tests count features exactly, so they use their own database (other suites insert into
the same layer tables of the shared test database).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg import sql

from . import ogc_fixtures
from iocgis import migrate
from iocgis.db import database_url
from iocgis.settings import Settings


def _with_dbname(url: str, dbname: str) -> str:
    head, _, tail = url.rpartition("/")
    query = "?" + tail.split("?", 1)[1] if "?" in tail else ""
    return f"{head}/{dbname}{query}"


@pytest.fixture(scope="session")
def ogc_db_url(base_settings: Settings) -> Iterator[str]:
    server_url = database_url(base_settings)
    name = f"iocgis_test_ogc_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(name)))
    url = _with_dbname(server_url, name)
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        ogc_fixtures.load(conn)
        conn.execute("ANALYZE")
    yield url
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def ogc_settings(base_settings: Settings, ogc_db_url: str) -> Settings:
    return base_settings.model_copy(update={"database_url": ogc_db_url})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OgcServer:
    """The whole ASGI app under uvicorn in a thread; ``url`` is what clients connect to."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from iocgis.api.app import create_app

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings.model_copy(update={"port": self.port}))
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> OgcServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the OGC test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def ogc_server(ogc_settings: Settings) -> Iterator[OgcServer]:
    server = OgcServer(ogc_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ogc(ogc_server: OgcServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ogc_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def ogc_conn(ogc_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(ogc_db_url, autocommit=True) as conn:
        yield conn

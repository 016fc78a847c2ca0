"""Shared fixtures: a fresh, migrated PostGIS database per test session and a real HTTP server.

The database is created on the local cluster (or on the server DATABASE_URL names) as
``iocgis_test_<pid>`` so that parallel runs never meet, and dropped at the end.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


_TEMPLATES: dict[str, str] = {}  # server URL -> this session's migrated template database


def _create(conn: psycopg.Connection, name: str, template: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} ENCODING 'UTF8'").format(
        sql.Identifier(name), sql.Identifier(template)))


def _template(server_url: str) -> str:
    """A database migrated once a session, from which every scratch database is copied
    (``CREATE DATABASE ... TEMPLATE``: 0.2 s instead of the migrations' 2 s); dropped when the
    session's process ends."""
    name = _TEMPLATES.get(server_url)
    if name is None:
        name = f"iocgis_test_template_{os.getpid()}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            _create(conn, name, "template0")
        migrate.upgrade(_with_dbname(server_url, name))
        _TEMPLATES[server_url] = name

        def drop() -> None:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)))

        atexit.register(drop)
    return name


@contextmanager
def scratch_database(base_settings: Settings, label: str = "") -> Iterator[str]:
    """A fresh, migrated database ``iocgis_test_[<label>_]<pid>``, dropped on exit.

    Each test area that needs data of its own gets its own database, so that no area's rows
    change what another area's tests see, and parallel pytest runs never meet. It is a copy of
    the session's migrated template, then upgraded again: a copy carries neither the
    database's own grants nor anything the migrations decide at run time, which the upgrade
    (at head already: the catalogue and the roles' grants) writes into it.
    """
    server_url = database_url(base_settings)
    name = f"iocgis_test_{label + '_' if label else ''}{os.getpid()}"
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    template = _template(server_url)
    with psycopg.connect(server_url, autocommit=True) as conn:
        _create(conn, name, template)
    url = _with_dbname(server_url, name)
    migrate.upgrade(url)
    try:
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(drop)


@pytest.fixture(scope="session")
def db_url(base_settings: Settings) -> Iterator[str]:
    """A migrated, empty database for this test session."""
    with scratch_database(base_settings) as url:
        yield url


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
    """The real ASGI app (or ``app``, one a test builds) under uvicorn in a background thread,
    on a free port."""

    def __init__(self, settings: Settings, app=None) -> None:  # noqa: ANN001 - any ASGI app
        import uvicorn

        from iocgis.api.app import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app or create_app(settings.model_copy(update={"port": self.port}))
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
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
        raise RuntimeError(f"the test server on {self.url} did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# What a reverse proxy in front of the server answers at (IOCGIS_PUBLIC_URL).
PUBLIC_URL = "https://ioc.dongnai.example.vn/gis"


@contextmanager
def behind_proxy(settings: Settings) -> Iterator[httpx.Client]:
    """A client of a second real server on ``settings`` configured with ``PUBLIC_URL``: the
    links it answers with must name the proxy, never the host the request reached."""
    server = LiveServer(settings.model_copy(update={"public_url": PUBLIC_URL})).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS

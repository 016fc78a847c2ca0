"""Fixtures of the citizen tests: one migrated database with two communes, one real server on
it (its own var/ folder, so its key set is the test's), and accounts of every kind through the
security module's own functions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from ..security.security_helpers import _create, api_key_for, run_async
from . import citizen_fixtures


@pytest.fixture(scope="session")
def citizen_db_url(base_settings: Settings) -> Iterator[str]:
    with scratch_database(base_settings, "citizen") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            citizen_fixtures.load(conn)
        yield url


@pytest.fixture(scope="session")
def citizen_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("citizen-var")


@pytest.fixture(scope="session")
def citizen_settings(base_settings: Settings, citizen_db_url: str, citizen_var: Path) -> Settings:
    return base_settings.model_copy(update={"database_url": citizen_db_url,
                                            "var_dir": citizen_var})


@pytest.fixture(scope="session")
def citizen_server(citizen_settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(citizen_settings).start()
    yield server
    server.stop()


ACCOUNTS = {
    # name: (role, pii, communes)
    "ward_officer": ("gis_officer", False, (citizen_fixtures.WARD,)),
    "commune_officer": ("gis_officer", False, (citizen_fixtures.COMMUNE,)),
    "dept_officer": ("gis_officer", False, ()),
    "viewer": ("viewer", False, ()),
    "analyst": ("analyst", False, ()),
    "privacy_officer": ("analyst", True, ()),
    "app": ("viewer", False, ()),
}


@pytest.fixture(scope="session")
def keys(citizen_db_url: str, citizen_settings: Settings) -> dict[str, str]:
    made = {}
    for label, (role, pii, communes) in ACCOUNTS.items():
        name = f"c_{label}"
        run_async(_create(citizen_db_url, citizen_settings, name, [role], pii=pii,
                          communes=communes))
        made[label] = api_key_for(citizen_db_url, name)
    return made


@pytest.fixture(scope="session")
def clients(citizen_server: LiveServer, keys: dict[str, str]) -> Iterator[dict[str, httpx.Client]]:
    made = {"anonymous": httpx.Client(base_url=citizen_server.url, timeout=60)}
    for label, key in keys.items():
        made[label] = httpx.Client(base_url=citizen_server.url, timeout=60,
                                   headers={"X-API-Key": key})
    yield made
    for client in made.values():
        client.close()


@pytest.fixture
def cconn(citizen_db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(citizen_db_url, autocommit=True) as connection:
        yield connection

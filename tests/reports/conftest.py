"""Fixtures of the report tests: one migrated database with the small data set, one real
server for the area (its report files in a temporary folder), API keys of an analyst, an
analyst with the PII right, an administrator (whose keys read as an analyst) and a
commune-limited officer; and one shared report service for in-process generation."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from ..security.security_helpers import Account, _create, api_key_for, run_async
from .reports_fixtures import load_report_data


@pytest.fixture(scope="session")
def reports_db_url(base_settings: Settings) -> Iterator[str]:
    with scratch_database(base_settings, "reports") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            load_report_data(conn)
        yield url


@pytest.fixture(scope="session")
def reports_settings(base_settings: Settings, reports_db_url: str) -> Settings:
    return base_settings.model_copy(update={"database_url": reports_db_url})


@pytest.fixture(scope="session")
def reports_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports-files")


@pytest.fixture(scope="session")
def reports_server(reports_settings: Settings, reports_dir: Path) -> Iterator[LiveServer]:
    from iocgis.reports.settings import ReportsSettings

    server = LiveServer(reports_settings.model_copy(
        update={"reports": ReportsSettings(dir=reports_dir)})).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def accounts(reports_db_url: str, reports_settings: Settings) -> dict[str, Account]:
    made = {}
    for label, role, pii, communes in (("analyst", "analyst", False, ()),
                                       ("analyst_pii", "analyst", True, ()),
                                       ("admin", "admin", False, ()),
                                       ("scoped", "gis_officer", False, ("26041",))):
        name = f"rp{label.replace('_', '')}{os.getpid()}"
        made[label] = run_async(_create(reports_db_url, reports_settings, name, [role],
                                        pii=pii, communes=communes))
    return made


@pytest.fixture(scope="session")
def clients(reports_server: LiveServer, reports_db_url: str,
            accounts: dict[str, Account]) -> Iterator[dict[str, httpx.Client]]:
    made = {"anonymous": httpx.Client(base_url=reports_server.url, timeout=120)}
    for label, account in accounts.items():
        made[label] = httpx.Client(base_url=reports_server.url, timeout=120, headers={
            "X-API-Key": api_key_for(reports_db_url, account.name)})
    yield made
    for client in made.values():
        client.close()


class LoopThread:
    """One event loop in a thread for the in-process generations (the service's pools and
    browser belong to it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 300):  # noqa: ANN001, ANN201
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

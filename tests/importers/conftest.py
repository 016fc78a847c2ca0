"""Fixtures for the importer tests: their own migrated database (imports rename and replace
layer tables, so they never share the session database with other areas' tests), with a
province row so the inside-the-province checks run."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from iocgis.importers import ImportOptions, ImportReport, import_path
from iocgis.importers.settings import ImportSettings
from iocgis.layers import get_registry
from iocgis.settings import Settings

from ..conftest import scratch_database

# New Đồng Nai (old Đồng Nai + Bình Phước), as a generous box: enough to tell inside from out.
PROVINCE_WKT = ("MULTIPOLYGON(((106.30 10.45, 107.60 10.45, 107.60 12.35, 106.30 12.35, "
                "106.30 10.45)))")
# Two real wards of Biên Hòa (codes of the 2025 list), as boxes sharing the meridian 106.82:
# the `communes` fixture.
COMMUNES = (("26068", "Phường Biên Hòa", (106.78, 10.92, 106.82, 10.96)),
            ("26041", "Phường Trấn Biên", (106.82, 10.92, 106.86, 10.96)))


@contextmanager
def province_database(base_settings: Settings, label: str) -> Iterator[str]:
    """A scratch database with the province row, so the inside-the-province checks run."""
    with scratch_database(base_settings, label) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO admin.provinces (code, name, geom) VALUES "
                         "('75', 'Đồng Nai', ST_GeomFromText(%s, 4326))", (PROVINCE_WKT,))
        yield url


@pytest.fixture(scope="session")
def imp_url(base_settings: Settings) -> Iterator[str]:
    with province_database(base_settings, "imp") as url:
        yield url


@pytest.fixture(scope="session")
def imp_settings(base_settings: Settings, imp_url: str) -> Settings:
    """The importer tests' settings: imports go live at once (IOCGIS_IMPORTS_AUTO_APPROVE),
    as before approval existed; the review tests use ``review_settings``."""
    return base_settings.model_copy(update={"database_url": imp_url,
                                            "imports": ImportSettings(auto_approve=True)})


@pytest.fixture(scope="session")
def review_settings(base_settings: Settings, imp_url: str) -> Settings:
    """Settings of a province's platform: imports of groups that need it wait for approval."""
    return base_settings.model_copy(update={"database_url": imp_url,
                                            "imports": ImportSettings(auto_approve=False)})


@pytest.fixture
def imp_conn(imp_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(imp_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def communes(imp_conn: psycopg.Connection) -> None:
    """The two wards in admin.communes (another test may have replaced that table)."""
    imp_conn.execute("DELETE FROM admin.communes WHERE code = ANY(%s)",
                     ([c[0] for c in COMMUNES],))
    for code, name, (x1, y1, x2, y2) in COMMUNES:
        imp_conn.execute(
            "INSERT INTO admin.communes (code, name, type, province_code, geom) VALUES "
            "(%s, %s, 'Phường', '75', ST_Multi(ST_MakeEnvelope(%s, %s, %s, %s, 4326)))",
            (code, name, x1, y1, x2, y2))


class Importer:
    """``run(path, layer, **options)`` against the test database."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings

    def __call__(self, path: str | Path, layer: str, **options: Any) -> ImportReport:
        return import_path(path, layer, ImportOptions(**options), url=self.url,
                           settings=self.settings)


@pytest.fixture
def run(imp_url: str, imp_settings: Settings) -> Importer:
    return Importer(imp_url, imp_settings)


def live_state(url: str, layer_id: str) -> tuple[int, str, int]:
    """(row count, checksum of every row, data_version): equal before and after means untouched."""
    layer = get_registry().get(layer_id)
    with psycopg.connect(url) as conn:
        rows = conn.execute(sql.SQL("SELECT t::text FROM {} t ORDER BY fid").format(
            sql.Identifier(layer.schema_name, layer.table_name))).fetchall()
        version = conn.execute("SELECT data_version FROM meta.layers WHERE id = %s",
                               (layer_id,)).fetchone()[0]
    digest = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
    return len(rows), digest, int(version)


@pytest.fixture
def state(imp_url: str):  # noqa: ANN201 - a small callable
    return lambda layer_id: live_state(imp_url, layer_id)


def review_tables(conn: psycopg.Connection, import_id: int) -> tuple[bool, bool]:
    """(the import's staging table exists, its diff table exists)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL, to_regclass(%s) IS NOT NULL", (
        f"import_staging.s{import_id}", f"import_review.c{import_id}")).fetchone()
    return bool(row[0]), bool(row[1])


def kill_inside_the_swap(conn: psycopg.Connection, url: str, argv: Sequence[str],
                         table: str = "land.parcels") -> None:
    """Run ``argv`` (a process that swaps ``table``) while a reader holds the table, so that
    the swap waits for its lock inside its transaction; kill -9 it there, and wait until the
    server has noticed the dead client and rolled the transaction back."""
    with psycopg.connect(url) as reader:
        reader.execute(sql.SQL("SELECT count(*) FROM {}").format(  # keeps ACCESS SHARE
            sql.Identifier(*table.split(".")))).fetchone()
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            waiting = None
            while time.monotonic() < deadline and waiting is None:
                waiting = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND backend_xid IS NOT NULL "
                    "AND query ILIKE 'ALTER TABLE%%'").fetchone()
                time.sleep(0.1)
            assert waiting is not None, "the swap never reached its lock"
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        reader.rollback()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (waiting[0],)).fetchone()[0]:
        time.sleep(0.2)

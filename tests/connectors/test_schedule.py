"""The scheduler keeps two layers current by itself: communes published by another platform's
OGC API (every 6 hours; the admin group goes live at once) and substations kept in another
PostGIS (cron, 02:00 daily; the infra group waits for its steward). Each source runs when its
own schedule says, a changed source's diff is approved (or auto-approved), an unchanged one
keeps the data version, and ``iocgis sources schedule --once`` (the same pass as ``run
--due``) and ``list`` do the same as processes. A separate department and platform: no other
test's runs count here."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml

from iocgis.errors import Forbidden
from iocgis.importers.connectors.model import SourceDef
from iocgis.importers.connectors.run import Connectors, run_due, run_source, state_of
from iocgis.importers.connectors.settings import SourceSettings
from iocgis.importers.review import Reviewer, approve
from iocgis.importers.settings import ImportSettings
from iocgis.layers import get_registry
from iocgis.settings import Settings

from ..conftest import LiveServer, scratch_database
from ..importers.conftest import province_database
from ..security.security_helpers import _create, api_key_for, cli, run_async
from .conftest import data_version, layer_rows, platform_served, put_commune

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # a Monday, after the substations' 02:00
STEWARD = Reviewer(name="truong_phong_ha_tang", approves=True, groups=frozenset({"infra"}))


@pytest.fixture(scope="module")
def sched_dept(base_settings: Settings) -> Iterator[str]:
    with scratch_database(base_settings, "cxsdept") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            for i, (code, name) in enumerate([("26041", "Phường Trấn Biên"),
                                              ("26068", "Phường Tam Hiệp")]):
                put_commune(conn, code, name, 106.80 + 0.03 * i)
            conn.execute(
                "CREATE SCHEMA so_ct; CREATE TABLE so_ct.tram (ma text PRIMARY KEY, ten text "
                "NOT NULL, dien_ap numeric NOT NULL, cong_suat numeric, geom geometry(Point, "
                "4326))")
            for i in range(3):
                conn.execute("INSERT INTO so_ct.tram VALUES (%s, %s, 110, 40, "
                             "ST_SetSRID(ST_MakePoint(%s, 10.95), 4326))",
                             (f"T-{i}", f"Trạm {i}", 106.82 + 0.001 * i))
        yield url


@pytest.fixture(scope="module")
def sched_dept_ogc(base_settings: Settings, sched_dept: str) -> Iterator[LiveServer]:
    with platform_served(base_settings, sched_dept) as server:
        yield server


@pytest.fixture(scope="module")
def sched_settings(base_settings: Settings, sched_dept: str, sched_dept_ogc: LiveServer,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp("sched-sources")
    title = {"vi": "Nguồn theo lịch", "en": "Scheduled source"}
    (folder / "lich.yaml").write_text(yaml.safe_dump({"sources": {
        "lich_xa_phuong": {"title": title, "layer": "admin.communes", "kind": "ogcapi",
                           "url": sched_dept_ogc.url, "collection": "admin.communes",
                           "schedule": "PT6H", "owner": "chuyen_vien_nv", "http_retries": 0},
        "lich_tram": {"title": title, "layer": "infra.substations", "kind": "postgis",
                      "url": "postgresql://" + sched_dept.split("@", 1)[1],
                      "table": "so_ct.tram", "credentials": "pg", "schedule": "0 2 * * *",
                      "owner": "chuyen_vien_ct",
                      "mapping": {"fields": {"ma": "substation_id", "ten": "name",
                                             "dien_ap": "voltage_kv",
                                             "cong_suat": "capacity_mva"}}},
    }}, allow_unicode=True), encoding="utf-8")
    user, password = sched_dept.split("://", 1)[1].split("@", 1)[0].split(":", 1)
    secrets = tmp_path_factory.mktemp("sched-secrets") / "sources.yaml"
    secrets.write_text(yaml.safe_dump({"pg": {"username": user, "password": password}}),
                       encoding="utf-8")
    os.chmod(secrets, 0o600)
    with province_database(base_settings, "cxsched") as url:
        yield base_settings.model_copy(update={
            "database_url": url, "imports": ImportSettings(auto_approve=False),
            "sources": SourceSettings(dir=folder, secrets_file=secrets)})


def _by_source(runs: list[dict]) -> dict[str, dict]:
    assert all(r["trigger"] == "schedule" for r in runs), runs
    return {r["source_id"]: r for r in runs}


def test_the_scheduler_keeps_both_layers_current_on_their_own_schedules(
        sched_settings: Settings, sched_dept: str) -> None:
    connectors = Connectors.load(sched_settings, get_registry())
    assert set(connectors.sources) == {"lich_xa_phuong", "lich_tram"}
    url = connectors.url

    # first pass: both are new, so both are due; communes live at once, substations pending
    first = _by_source(run_due(connectors, now=T0))
    assert set(first) == {"lich_xa_phuong", "lich_tram"}
    assert first["lich_xa_phuong"]["status"] == "loaded", first
    assert first["lich_tram"]["status"] == "pending", first
    assert first["lich_tram"]["requested_by"] == "scheduler"
    with psycopg.connect(url, autocommit=True) as conn:
        assert len(layer_rows(conn, "admin.communes", "code")) == 2
        assert not layer_rows(conn, "infra.substations", "substation_id")
        with pytest.raises(Forbidden):  # a steward of another group cannot decide it
            approve(conn, connectors.registry, int(first["lich_tram"]["import_id"]),
                    Reviewer(name="khac", approves=True, groups=frozenset({"land"})))
        approve(conn, connectors.registry, int(first["lich_tram"]["import_id"]), STEWARD)
        assert len(layer_rows(conn, "infra.substations", "substation_id")) == 3
        assert state_of(conn, "lich_xa_phuong")["next_run_at"] == T0 + timedelta(hours=6)
        assert state_of(conn, "lich_tram")["next_run_at"] == datetime(2026, 3, 3, 2, 0,
                                                                       tzinfo=UTC)
        versions = {layer: data_version(conn, layer)
                    for layer in ("admin.communes", "infra.substations")}

    assert run_due(connectors, now=T0 + timedelta(hours=1)) == []  # nothing due yet

    with psycopg.connect(sched_dept, autocommit=True) as dept:
        put_commune(dept, "26068", "Phường Tam Hiệp (mới)", 106.83, population=2500)
        dept.execute("UPDATE meta.layers SET data_version = data_version + 1 "
                     "WHERE id = 'admin.communes'")
        dept.execute("UPDATE so_ct.tram SET cong_suat = 63 WHERE ma = 'T-1'")

    # six hours on: only the communes are due; their change goes live without a steward
    later = _by_source(run_due(connectors, now=T0 + timedelta(hours=6, minutes=1)))
    assert set(later) == {"lich_xa_phuong"}
    assert later["lich_xa_phuong"]["status"] == "loaded"
    assert later["lich_xa_phuong"]["diff"]["changed"] == 1
    with psycopg.connect(url, autocommit=True) as conn:
        assert layer_rows(conn, "admin.communes", "code")["26068"]["population"] == 2500
        assert data_version(conn, "admin.communes") == versions["admin.communes"] + 1
        assert float(layer_rows(conn, "infra.substations",
                                "substation_id")["T-1"]["capacity_mva"]) == 40  # not yet

    # next day, 02:00: both due; the communes did not change (no new version), the
    # substations' edit waits for the steward and then is live
    night = _by_source(run_due(connectors, now=datetime(2026, 3, 3, 2, 0, 30, tzinfo=UTC)))
    assert set(night) == {"lich_xa_phuong", "lich_tram"}
    assert night["lich_xa_phuong"]["status"] == "unchanged"
    assert night["lich_tram"]["status"] == "pending"
    assert {k: night["lich_tram"]["diff"][k] for k in ("added", "removed", "changed")} == \
        {"added": 0, "removed": 0, "changed": 1}
    with psycopg.connect(url, autocommit=True) as conn:
        assert data_version(conn, "admin.communes") == versions["admin.communes"] + 1
        approve(conn, connectors.registry, int(night["lich_tram"]["import_id"]), STEWARD)
        assert float(layer_rows(conn, "infra.substations",
                                "substation_id")["T-1"]["capacity_mva"]) == 63
        assert data_version(conn, "infra.substations") == versions["infra.substations"] + 1
        tram = state_of(conn, "lich_tram")
        assert tram["last_change_at"] == datetime(2026, 3, 3, 2, 0, 30, tzinfo=UTC)
        assert tram["next_run_at"] == datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
        reviewed = conn.execute("SELECT decided_by FROM import_review.reviews WHERE "
                                "import_id = %s", (night["lich_tram"]["import_id"],)).fetchone()
        assert reviewed == (STEWARD.name,)


def test_the_scheduler_as_a_process(sched_settings: Settings) -> None:
    """One ``schedule --once`` pass runs both due sources (unchanged), and ``list`` shows their
    last success and next run."""
    env = {"IOCGIS_SOURCES_DIR": str(sched_settings.sources.dir),
           "IOCGIS_SOURCES_SECRETS_FILE": str(sched_settings.sources.secrets_file)}
    url = str(sched_settings.database_url)
    with psycopg.connect(url, autocommit=True) as conn:  # both due whatever ran before
        conn.execute("UPDATE connectors.sources SET next_run_at = now() - interval '1 minute'")
    started = datetime.now(UTC)
    once = cli(url, "sources", "schedule", "--once", env=env)
    assert once.returncode == 0, once.stderr
    assert "lich_xa_phuong: unchanged" in once.stdout and "lich_tram: unchanged" in once.stdout
    listed = cli(url, "sources", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == {"lich_xa_phuong", "lich_tram"}
    for row in rows.values():
        assert datetime.fromisoformat(row["last_success_at"]) >= started
        assert datetime.fromisoformat(row["next_run_at"]) > datetime.fromisoformat(
            row["last_success_at"])
        assert row["failures"] == 0 and row["stale_alert"] is None


def test_an_ogcapi_source_reads_an_internal_layer_with_a_key_from_the_secrets_file(
        sched_settings: Settings, sched_dept: str, sched_dept_ogc: LiveServer,
        tmp_path: Path) -> None:
    """The department's OGC API shows its internal layer only to an account: the key sits in
    the secrets file (an ``X-API-Key`` header), never in the definition or a run's record."""
    with psycopg.connect(sched_dept, autocommit=True) as dept:
        for i in (1, 2):
            dept.execute("INSERT INTO infra.drainage_outlets (outlet_id, receiving_water, geom) "
                         "VALUES (%s, 'Sông Đồng Nai', ST_SetSRID(ST_MakePoint(%s, 10.95), "
                         "4326))", (f"CX-{i}", 106.82 + 0.001 * i))
    run_async(_create(sched_dept, sched_settings, "tong_hop_ioc", ["viewer"]))
    key = api_key_for(sched_dept, "tong_hop_ioc")
    secrets = tmp_path / "sources.yaml"
    secrets.write_text(yaml.safe_dump({"ioc": {"headers": {"X-API-Key": key}}}),
                       encoding="utf-8")
    os.chmod(secrets, 0o600)
    settings = sched_settings.model_copy(update={
        "sources": SourceSettings(dir=sched_settings.sources.dir, secrets_file=secrets)})
    title = {"vi": "Cửa xả (nội bộ)", "en": "Outlets (internal)"}

    def connectors_with(credentials: str | None) -> Connectors:
        source = SourceDef.model_validate({
            "id": "lich_cua_xa", "title": title, "layer": "infra.drainage_outlets",
            "kind": "ogcapi", "url": sched_dept_ogc.url, "collection": "infra.drainage_outlets",
            "schedule": "P1D", "credentials": credentials, "http_retries": 0})
        return Connectors(settings, get_registry(), str(settings.database_url),
                          {source.id: source})

    anonymous = run_source(connectors_with(None), "lich_cua_xa")
    assert anonymous["status"] == "failed", anonymous  # the layer is not public
    signed = run_source(connectors_with("ioc"), "lich_cua_xa",
                        now=datetime.now(UTC) + timedelta(minutes=1))
    assert signed["status"] == "pending" and signed["diff"]["added"] == 2, signed["error"]
    with psycopg.connect(str(settings.database_url), autocommit=True) as conn:
        recorded = conn.execute("SELECT string_agg(coalesce(error, '') || coalesce(diff::text, ''), ' ') "
                                "FROM connectors.runs WHERE source_id = 'lich_cua_xa'"
                                ).fetchone()[0]
        approve(conn, get_registry(), int(signed["import_id"]), STEWARD)
        assert set(layer_rows(conn, "infra.drainage_outlets", "outlet_id")) == {"CX-1", "CX-2"}
    assert key not in recorded

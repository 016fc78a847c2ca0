"""Atomic loads: a killed import (kill -9 at any step, also inside the publishing transaction)
leaves the live layer as it was; history, rollback, append and upsert; what hangs on a live
table (views, grants, row-level security) follows it through the swap."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from iocgis.errors import ImportFailed, NotFound
from iocgis.importers.history import history, rollback

from .conftest import kill_inside_the_swap
from .importer_fixtures import parcels, places, write_vector

KILLER = textwrap.dedent("""
    import os, signal, sys
    from iocgis.importers import ImportOptions, import_path
    phase = sys.argv[3]

    def progress(event):
        if event["phase"] == phase and (phase != "loading" or event["done"] > 0):
            print("KILLING", event["import_id"], flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    import_path(sys.argv[1], "land.parcels", ImportOptions(approval="auto"), url=sys.argv[2],
                progress=progress)
    print("FINISHED", flush=True)
""")


@pytest.fixture
def loaded_parcels(run, state, tmp_path: Path):  # noqa: ANN201
    geoms, fields = parcels(5)
    run(write_vector(tmp_path / "before.gpkg", geoms, fields), "land.parcels")
    return state("land.parcels")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough features that the COPY is still open when the first batch is reported."""
    geoms, fields = parcels(5000, size=0.000002)
    return write_vector(tmp_path_factory.mktemp("big") / "big.gpkg", geoms, fields)


def _staging_tables(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'import_staging'")]


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["loading", "indexing", "publishing"])
def test_kill_9_at_each_step_leaves_the_layer_as_it_was(phase: str, run, state, imp_url,
                                                       imp_conn, loaded_parcels, big_file,
                                                       tmp_path: Path) -> None:
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    big = big_file
    done = subprocess.run([sys.executable, str(script), str(big), imp_url, phase],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    killed_id = int(done.stdout.split()[1])
    assert state("land.parcels") == loaded_parcels
    status = imp_conn.execute("SELECT status FROM meta.imports WHERE id = %s",
                              (killed_id,)).fetchone()[0]
    assert status == "running"  # nobody was left to say otherwise
    assert f"s{killed_id}" in _staging_tables(imp_conn)
    # the next import of the layer cleans up after the dead one
    geoms, fields = parcels(2)
    run(write_vector(tmp_path / "next.gpkg", geoms, fields), "land.parcels")
    assert imp_conn.execute("SELECT status FROM meta.imports WHERE id = %s",
                            (killed_id,)).fetchone()[0] == "interrupted"
    assert _staging_tables(imp_conn) == []
    assert state("land.parcels")[0] == 2


@pytest.mark.slow
def test_kill_9_inside_the_publishing_transaction(imp_url, imp_conn, state, loaded_parcels,
                                                  big_file, tmp_path: Path) -> None:
    script = tmp_path / "importer.py"
    script.write_text(KILLER)
    big = big_file
    # A reader holds the live table: the swap waits inside its transaction for the lock.
    kill_inside_the_swap(imp_conn, imp_url, [sys.executable, str(script), str(big), imp_url,
                                             "never"])
    assert state("land.parcels") == loaded_parcels


def test_history_and_rollback_step_back_one_version_each(run, state, imp_url,
                                                         tmp_path: Path) -> None:
    geoms, fields = places(3)
    run(write_vector(tmp_path / "a.gpkg", geoms, fields), "base.places")
    after_a = state("base.places")
    geoms, fields = places(2, offset=0.05)
    fields["name"] = ["Mới 1", "Mới 2"]
    b = run(write_vector(tmp_path / "b.gpkg", geoms, fields), "base.places")
    assert state("base.places")[0] == 2
    listed = history("base.places", url=imp_url)
    assert listed[0]["id"] == b.import_id and listed[0]["previous_table"]
    done = rollback("base.places", url=imp_url)
    assert done["rolled_back_import"] == b.import_id and done["row_count"] == 3
    now = state("base.places")
    assert now[:2] == after_a[:2] and now[2] > after_a[2]  # same rows, newer data version
    statuses = {r["id"]: r["status"] for r in history("base.places", url=imp_url)}
    assert statuses[b.import_id] == "rolled_back"
    rollback("base.places", url=imp_url)  # one more step back: before import A
    assert state("base.places")[:2] != after_a[:2]


def test_rollback_without_history_is_a_clear_error(imp_url) -> None:
    with pytest.raises(NotFound, match="has no import that can be rolled back"):
        rollback("emergency.flood_zones", url=imp_url)


def test_only_the_newest_versions_are_kept(run, imp_conn, tmp_path: Path) -> None:
    for i in range(4):
        geoms, fields = places(1 + i)
        run(write_vector(tmp_path / f"v{i}.gpkg", geoms, fields), "base.places",
            keep_versions=2)
    kept = imp_conn.execute("SELECT count(*) FROM meta.imports WHERE layer_id = 'base.places' "
                            "AND previous_table IS NOT NULL").fetchone()[0]
    tables = {r[0] for r in imp_conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'import_history'")}
    referenced = {r[0].split(".")[1] for r in imp_conn.execute(
        "SELECT previous_table FROM meta.imports WHERE previous_table IS NOT NULL")}
    assert kept == 2 and referenced <= tables


def test_append_and_upsert_by_the_layer_key(run, state, imp_conn, tmp_path: Path) -> None:
    geoms, fields = parcels(3)
    run(write_vector(tmp_path / "base.gpkg", geoms, fields), "land.parcels")
    geoms, fields = parcels(2, start=4)
    report = run(write_vector(tmp_path / "more.gpkg", geoms, fields), "land.parcels",
                 mode="append")
    assert report.rows_loaded == 2 and state("land.parcels")[0] == 5
    before = state("land.parcels")
    geoms, fields = parcels(1, start=2)
    with pytest.raises(ImportFailed, match="is already in the live layer") as err:
        run(write_vector(tmp_path / "again.gpkg", geoms, fields), "land.parcels", mode="append")
    assert "--mode upsert" in str(err.value)
    assert state("land.parcels") == before
    geoms, fields = parcels(2, start=5)  # parcel 5 exists, 6 is new
    fields["land_use"] = ["TMD", "TMD"]
    report = run(write_vector(tmp_path / "up.gpkg", geoms, fields), "land.parcels",
                 mode="upsert")
    rows = dict(imp_conn.execute("SELECT parcel_no, land_use FROM land.parcels").fetchall())
    assert rows == {1: "ODT", 2: "ODT", 3: "ODT", 4: "ODT", 5: "TMD", 6: "TMD"}
    rollback("land.parcels", url=run.url)  # an upsert rolls back too
    assert state("land.parcels")[:2] == before[:2]


def test_views_grants_and_row_security_follow_the_swap(run, imp_conn, tmp_path: Path) -> None:
    role = "iocgis_test_import_reader"
    imp_conn.execute(f"DO $$ BEGIN CREATE ROLE {role}; EXCEPTION WHEN duplicate_object "
                     "THEN NULL; END $$")
    geoms, fields = parcels(2)
    run(write_vector(tmp_path / "one.gpkg", geoms, fields), "land.parcels")
    imp_conn.execute("CREATE SCHEMA IF NOT EXISTS masked")
    imp_conn.execute("CREATE OR REPLACE VIEW masked.test_parcels WITH (security_barrier = true) "
                     "AS SELECT fid, parcel_no, NULL::text AS holder_name FROM land.parcels")
    imp_conn.execute(f"GRANT SELECT (fid, parcel_no) ON land.parcels TO {role}")
    imp_conn.execute(f"GRANT SELECT ON masked.test_parcels TO {role}")
    imp_conn.execute("ALTER TABLE land.parcels ENABLE ROW LEVEL SECURITY")
    imp_conn.execute(f"CREATE POLICY only_sheet_1 ON land.parcels FOR SELECT TO {role} "
                     "USING (sheet_no = 1)")
    try:
        geoms, fields = parcels(4)
        run(write_vector(tmp_path / "two.gpkg", geoms, fields), "land.parcels")
        assert imp_conn.execute("SELECT count(*) FROM masked.test_parcels").fetchone()[0] == 4
        assert "land.parcels" in imp_conn.execute(
            "SELECT pg_get_viewdef('masked.test_parcels'::regclass)").fetchone()[0]
        assert imp_conn.execute("SELECT reloptions FROM pg_class WHERE oid = "
                                "'masked.test_parcels'::regclass").fetchone()[0] == [
            "security_barrier=true"]
        assert imp_conn.execute(f"SELECT has_column_privilege('{role}', 'land.parcels', "
                                "'parcel_no', 'SELECT'), has_column_privilege('" + role +
                                "', 'land.parcels', 'holder_name', 'SELECT')").fetchone() == (
            True, False)
        assert imp_conn.execute("SELECT relrowsecurity FROM pg_class WHERE oid = "
                                "'land.parcels'::regclass").fetchone()[0]
        policies = imp_conn.execute("SELECT polname FROM pg_policy WHERE polrelid = "
                                    "'land.parcels'::regclass ORDER BY 1").fetchall()
        assert policies == [("layer_read",), ("only_sheet_1",)]  # each once, none doubled
        # history tables can still be pruned: nothing hangs on them
        for _ in range(4):
            run(write_vector(tmp_path / "two.gpkg", geoms, fields), "land.parcels",
                keep_versions=1)
    finally:
        imp_conn.execute("DROP VIEW IF EXISTS masked.test_parcels")
        imp_conn.execute("DROP POLICY IF EXISTS only_sheet_1 ON land.parcels")
        imp_conn.execute(f"REVOKE ALL ON land.parcels FROM {role}")


def test_a_second_import_of_a_layer_waits_briefly_then_is_refused(run, state, imp_url,
                                                                   loaded_parcels, tmp_path: Path,
                                                                   monkeypatch) -> None:  # noqa: ANN001
    from iocgis.importers import pipeline

    monkeypatch.setattr(pipeline, "LOCK_GRACE_S", 0.6)
    geoms, fields = parcels(2)
    path = write_vector(tmp_path / "second.gpkg", geoms, fields)
    with psycopg.connect(imp_url, autocommit=True) as other:  # an import that is still running
        other.execute("SELECT pg_advisory_lock(%s, hashtext('land.parcels'))",
                      (pipeline.LOCK_NAMESPACE,))
        with pytest.raises(ImportFailed, match="another import of land.parcels is running"):
            run(path, "land.parcels")
    assert state("land.parcels") == loaded_parcels
    # Once the other one is gone (its session ended), the import goes through.
    run(path, "land.parcels")
    assert state("land.parcels")[0] == 2

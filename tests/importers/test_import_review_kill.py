"""kill -9 at any step of an import that needs approval loses nothing: while the diff is made
(nothing is pending, the next import cleans up), once it is pending (it stays pending, staged,
with its diff, and can still be approved) and inside the approving transaction (still pending,
the live layer as it was; approving again works)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from iocgis.importers import review
from iocgis.importers.review import Reviewer
from iocgis.layers import get_registry

from .conftest import kill_inside_the_swap, review_tables
from .importer_fixtures import parcels, write_vector

SUBMITTER = textwrap.dedent("""
    import os, signal, sys
    from iocgis.importers import ImportOptions, import_path
    phase = sys.argv[3]

    def progress(event):
        if event["phase"] == phase:
            print("KILLING", event["import_id"], flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    import_path(sys.argv[1], "land.parcels", ImportOptions(approval="submit", user="officer_k"),
                url=sys.argv[2], progress=progress)
    print("FINISHED", flush=True)
""")
APPROVER = textwrap.dedent("""
    import sys
    import psycopg
    from iocgis.importers import review
    from iocgis.importers.review import Reviewer
    from iocgis.layers import get_registry

    with psycopg.connect(sys.argv[1], autocommit=True) as conn:
        review.approve(conn, get_registry(), int(sys.argv[2]),
                       Reviewer(name="steward_k", approves=True, groups=frozenset({"land"})))
    print("APPROVED", flush=True)
""")
STEWARD = Reviewer(name="steward_k", approves=True, groups=frozenset({"land"}))


@pytest.fixture
def loaded(run, state, tmp_path: Path):  # noqa: ANN201
    geoms, fields = parcels(5)
    run(write_vector(tmp_path / "truoc.gpkg", geoms, fields), "land.parcels")
    return state("land.parcels")


@pytest.fixture(scope="module")
def changed_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    geoms, fields = parcels(3000, size=0.000002)
    fields["land_use"] = ["TMD"] * 3000
    return write_vector(tmp_path_factory.mktemp("kill") / "moi.gpkg", geoms, fields)


def _killed_at(phase: str, script: Path, path: Path, url: str) -> int:
    done = subprocess.run([sys.executable, str(script), str(path), url, phase],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return int(done.stdout.split()[1])


@pytest.mark.slow
def test_kill_9_while_the_diff_is_made(imp_url, imp_conn, state, loaded, changed_file, run,
                                       tmp_path: Path) -> None:
    script = tmp_path / "submitter.py"
    script.write_text(SUBMITTER)
    killed = _killed_at("reviewing", script, changed_file, imp_url)
    assert state("land.parcels") == loaded
    assert imp_conn.execute("SELECT status FROM meta.imports WHERE id = %s",
                            (killed,)).fetchone()[0] == "running"
    assert imp_conn.execute("SELECT count(*) FROM import_review.reviews WHERE import_id = %s",
                            (killed,)).fetchone()[0] == 0  # never became pending
    assert review_tables(imp_conn, killed) == (True, False)
    geoms, fields = parcels(2)
    run(write_vector(tmp_path / "sau.gpkg", geoms, fields), "land.parcels")  # cleans up
    assert imp_conn.execute("SELECT status FROM meta.imports WHERE id = %s",
                            (killed,)).fetchone()[0] == "interrupted"
    assert review_tables(imp_conn, killed) == (False, False)


@pytest.mark.slow
def test_kill_9_once_pending_keeps_it_pending(imp_url, imp_conn, state, loaded, changed_file,
                                              tmp_path: Path) -> None:
    script = tmp_path / "submitter.py"
    script.write_text(SUBMITTER)
    killed = _killed_at("pending", script, changed_file, imp_url)
    assert state("land.parcels") == loaded
    got = review.get(imp_conn, killed)
    assert got["status"] == "pending" and got["import_status"] == "pending"
    assert got["diff"]["changed"] == 5 and got["diff"]["added"] == 2995
    assert review_tables(imp_conn, killed) == (True, True)
    review.approve(imp_conn, get_registry(), killed, STEWARD)
    assert state("land.parcels")[0] == 3000


@pytest.mark.slow
def test_kill_9_inside_the_approving_transaction(imp_url, imp_conn, state, loaded, changed_file,
                                                 review_settings, tmp_path: Path) -> None:
    from iocgis.importers import ImportOptions, import_path

    pending = import_path(changed_file, "land.parcels",
                          ImportOptions(approval="submit", user="officer_k"), url=imp_url,
                          settings=review_settings)
    script = tmp_path / "approver.py"
    script.write_text(APPROVER)
    kill_inside_the_swap(imp_conn, imp_url, [sys.executable, str(script), imp_url,
                                             str(pending.import_id)])
    assert state("land.parcels") == loaded
    got = review.get(imp_conn, pending.import_id)
    assert got["status"] == "pending" and got["decided_by"] is None
    assert review_tables(imp_conn, pending.import_id) == (True, True)
    assert imp_conn.execute("SELECT count(*) FROM audit.events WHERE action = 'import.approve' "
                            "AND target = %s", (str(pending.import_id),)).fetchone()[0] == 0
    review.approve(imp_conn, get_registry(), pending.import_id, STEWARD)  # works now
    assert state("land.parcels")[0] == 3000

"""Backups proven by restores, on a cluster of the test's own (initdb in /tmp, its own port,
WAL archived by the archive block ``iocgis.cluster`` writes): ``iocgis backup create`` and
``verify`` as processes, a point-in-time restore, the retention, and the checks failing when
rows or files differ."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from iocgis import cluster
from iocgis.errors import InvalidInput, NotFound
from iocgis.ops import backup as backups
from iocgis.ops import files, restore
from iocgis.ops.checksums import compare, table_checksums
from iocgis.ops.scratch import free_port
from iocgis.ops.settings import BackupSettings
from iocgis.settings import Settings

IOCGIS = Path(sys.executable).parent / "iocgis"
SCHEMA = """
CREATE EXTENSION postgis;
CREATE SCHEMA land; CREATE SCHEMA iot; CREATE SCHEMA iot_parts; CREATE SCHEMA views;
CREATE TABLE land.parcels (id serial PRIMARY KEY, commune_code text NOT NULL, owner text,
                           area_m2 double precision, geom geometry(Polygon, 4326));
ALTER TABLE land.parcels ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_commune ON land.parcels USING (commune_code = current_setting('iocgis.communes', true));
CREATE TABLE iot.stations (id int PRIMARY KEY, parcel_id int REFERENCES land.parcels (id), name text);
CREATE TABLE iot.readings (station_id int NOT NULL, at timestamptz NOT NULL, level real)
  PARTITION BY RANGE (at);
CREATE TABLE iot_parts.readings_2026 PARTITION OF iot.readings
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE VIEW views.parcels_by_commune AS
  SELECT commune_code, count(*) AS parcels FROM land.parcels GROUP BY commune_code;
INSERT INTO land.parcels (commune_code, owner, area_m2, geom)
  SELECT '260' || (g % 3), 'Nguyễn Thị Hoà ' || g, g * 10.25,
         ST_Buffer(ST_MakePoint(106.8 + g * 0.001, 10.9), 0.0004, 2)::geometry(Polygon, 4326)
  FROM generate_series(1, 300) AS g;
INSERT INTO iot.stations VALUES (1, 1, 'Trạm Biên Hòa'), (2, 2, 'Trạm Long Thành');
INSERT INTO iot.readings SELECT 1 + g % 2, '2026-06-01'::timestamptz + g * interval '1 minute', g / 7.0
  FROM generate_series(1, 500) AS g;
"""


@dataclass
class Source:
    settings: Settings
    backup: BackupSettings
    url: str
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(IOCGIS), "backup", *args], capture_output=True, text=True,
                              env=self.env, timeout=300)


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    root = Path(tempfile.mkdtemp(prefix="iocgis-backup-test-", dir="/tmp"))
    root.chmod(0o755)  # the server's user traverses it
    settings = Settings(pg_port=free_port(), pg_data_dir=root / "pgdata", var_dir=root / "var",
                        database_url="")
    backup = BackupSettings(dir=root / "backups", keep_sets=1)
    cluster.start(settings, backup)
    url = cluster.local_url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    stored = b"Quy\xe1\xba\xbft \xc4\x91\xe1\xbb\x8bnh ph\xc3\xaa duy\xe1\xbb\x87t quy ho\xe1\xba\xa1ch"
    digest = hashlib.sha256(stored).hexdigest()
    (settings.var_dir / "files" / digest[:2] / digest[2:4]).mkdir(parents=True)
    (settings.var_dir / "files" / digest[:2] / digest[2:4] / digest).write_bytes(stored)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("IOCGIS_") and k != "DATABASE_URL"}
    env.update(IOCGIS_PG_PORT=str(settings.pg_port), IOCGIS_PG_DATA_DIR=str(settings.pg_data_dir),
               IOCGIS_VAR_DIR=str(settings.var_dir), IOCGIS_BACKUP_DIR=str(backup.dir),
               IOCGIS_BACKUP_KEEP_SETS="1")
    try:
        yield Source(settings, backup, url, env)
    finally:
        cluster.stop(settings)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def first_set(source: Source) -> backups.BackupSet:
    done = source.cli("create")
    assert done.returncode == 0, done.stderr
    (bset,) = backups.list_sets(source.settings, source.backup)
    return bset


def test_cluster_archives_its_wal(source: Source) -> None:
    conf = (source.settings.pg_data_dir / "postgresql.conf").read_text()
    assert conf.count(cluster.ARCHIVE_MARK) == 1
    with psycopg.connect(source.url) as conn:
        assert conn.execute("SHOW archive_mode").fetchone()[0] == "on"


def test_create_then_verify_matches_every_table(source: Source, first_set: backups.BackupSet) -> None:
    manifest = first_set.manifest
    assert manifest["archived"] is True
    assert manifest["tables"]["land.parcels"]["rows"] == 300
    assert manifest["tables"]["iot_parts.readings_2026"]["rows"] == 500
    assert "iot.readings" not in manifest["tables"]  # a partitioned parent holds no rows itself
    assert set(manifest["schemas"]) >= {"land", "iot", "iot_parts", "views", "public"}
    assert {e["name"].split("/")[0] for e in manifest["files"]} == {"var", "planning-files"}

    done = source.cli("verify", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    tables = len(manifest["tables"])
    assert report["ok"] is True
    assert report["physical"] == {"matched": tables, "problems": []}
    assert report["logical"] == {"matched": tables, "problems": []}
    assert report["files"] == {"checked": len(manifest["files"]), "problems": []}
    listed = json.loads(source.cli("list", "--json").stdout)
    assert [(s["id"], s["verified"], s["pitr"]) for s in listed] == [(first_set.id, True, True)]


def test_checks_fail_when_rows_or_files_differ(source: Source, first_set: backups.BackupSet,
                                               tmp_path: Path) -> None:
    with psycopg.connect(source.url) as conn:
        before = table_checksums(conn)
        conn.execute("UPDATE land.parcels SET owner = 'Trần Văn Bình' WHERE id = 7")
        changed = table_checksums(conn)  # the same transaction: counts equal, one row differs
        conn.rollback()
    result = compare(before, changed)
    assert result.problems == ("land.parcels: 300 rows but their checksum differs from the source's",)
    assert result.matched == len(before) - 1
    del changed["iot.stations"]
    assert "iot.stations: missing from the restore" in compare(before, changed).problems

    tampered = tmp_path / "files.tar"
    with tarfile.open(first_set.path / "files.tar") as original, tarfile.open(tampered, "w") as copy:
        for member in original:
            data = original.extractfile(member).read()
            if member.name.startswith("planning-files/"):
                data = data.replace(b"Quy", b"Qui")
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))
    problems = files.check(tampered, first_set.manifest["files"])
    assert len(problems) == 1 and problems[0].endswith("fails its SHA-256 check")


def _archived_now(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        wal = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
        conn.execute("SELECT pg_switch_wal()")
        for _ in range(300):
            last = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0]
            if last and last[:24] >= wal:
                return
            time.sleep(0.1)
    raise AssertionError(f"{wal} was not archived")


def test_point_in_time_restore_and_retention(source: Source, first_set: backups.BackupSet) -> None:
    with psycopg.connect(source.url, autocommit=True) as conn:
        conn.execute("INSERT INTO iot.stations VALUES (3, 3, 'Trạm Nhơn Trạch')")
        at_t1 = table_checksums(conn)
        t1 = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        time.sleep(0.2)
        conn.execute("DELETE FROM iot.readings WHERE station_id = 1")
        conn.execute("UPDATE land.parcels SET owner = NULL")
    _archived_now(source.url)

    with pytest.raises(NotFound, match="no backup set finished before"):
        restore.restore(source.settings, source.backup, to=first_set.base_finished_at - timedelta(days=1))
    with pytest.raises(InvalidInput, match="the local cluster is running"):
        restore.restore(source.settings, source.backup, replace=True)

    done = restore.restore(source.settings, source.backup, to=t1,
                           target_dir=Path(tempfile.mkdtemp(prefix="iocgis-pitr-", dir="/tmp")))
    restored_dir = Path(done["data_dir"])
    try:
        user_pw = source.url.split("//", 1)[1].split("@", 1)[0]
        restored_url = f"postgresql://{user_pw}@127.0.0.1:{done['port']}/iocgis"
        with psycopg.connect(restored_url) as conn:
            assert compare(at_t1, table_checksums(conn)).ok
            station = conn.execute("SELECT name FROM iot.stations WHERE id = 3").fetchone()
            assert station == ("Trạm Nhơn Trạch",)
        assert (restored_dir.parent / "files" / "planning-files").is_dir()
    finally:
        cluster.run_as_server_user([str(cluster.require_bin_dir() / "pg_ctl"), "-D", str(restored_dir),
                                    "-m", "immediate", "stop"])
        shutil.rmtree(restored_dir.parent, ignore_errors=True)

    # a second set with KEEP_SETS=1: the first goes, and the WAL only it needed
    backups.create(source.settings, source.backup)
    (second,) = backups.list_sets(source.settings, source.backup)
    assert second.id != first_set.id and not first_set.path.exists()
    wal = sorted(p.name for p in cluster.wal_archive_dir(source.settings, source.backup).glob("0*.gz"))
    assert wal and wal[0][8:24] >= second.manifest["base"]["start_wal"][8:24]
    assert second.manifest["tables"]["iot_parts.readings_2026"]["rows"] == 250
    assert isinstance(second.created_at, datetime)


def test_restore_replace_puts_the_recovered_cluster_in_place(
        source: Source, first_set: backups.BackupSet) -> None:  # noqa: ARG001 - runs after the sets
    """The recovery an operator runs after a bad change: stop the cluster, `iocgis backup restore
    --replace --to <before the change>`; the same port answers with the data as it was, the
    damaged cluster is kept aside, and the restored one archives its WAL again."""
    with psycopg.connect(source.url, autocommit=True) as conn:
        conn.execute("INSERT INTO iot.stations VALUES (4, 4, 'Trạm Trị An')")
        good = table_checksums(conn)
        good_at = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        time.sleep(0.2)
        conn.execute("DELETE FROM iot.stations WHERE id >= 2")  # the bad change
        conn.execute("DROP VIEW views.parcels_by_commune")
    _archived_now(source.url)
    cluster.stop(source.settings)

    done = source.cli("restore", "--replace", "--to", good_at.isoformat())
    assert done.returncode == 0, done.stderr + done.stdout
    said = " ".join((done.stderr + done.stdout).split())  # the console wraps long lines
    assert "the damaged cluster is kept in" in said and "take a new backup now" in said
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["replaced"] is True and report["port"] == source.settings.pg_port
    assert Path(report["data_dir"]) == source.settings.pg_data_dir
    aside = list(source.settings.pg_data_dir.parent.glob(
        source.settings.pg_data_dir.name + ".before-restore-*"))
    assert len(aside) == 1 and (aside[0] / "PG_VERSION").exists()

    with psycopg.connect(source.url, autocommit=True) as conn:  # same URL, same port
        assert compare(good, table_checksums(conn)).ok
        assert conn.execute("SELECT name FROM iot.stations WHERE id = 4").fetchone() == ("Trạm Trị An",)
        assert conn.execute("SELECT to_regclass('views.parcels_by_commune')").fetchone()[0]
        assert not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    _archived_now(source.url)  # archiving is on again in the replaced cluster

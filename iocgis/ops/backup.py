"""Backup sets: a physical base backup, a restore point, per-table checksums and per-schema
logical dumps taken in one instant, and the files kept outside the database.

The instant: every table is locked against writes (``SHARE``) for as long as it takes to
export a snapshot and write a restore point, so the checksums and dumps (read in that snapshot)
describe exactly the state that WAL replay reaches at the restore point. Writers wait a few
milliseconds; readers never wait. ``verify`` replays the base backup to that point in a scratch
cluster and compares every table (``iocgis.ops.restore``).

Layout: ``<dir>/sets/<id>/`` (``manifest.json`` written last: a set without it is unfinished)
and ``<dir>/wal/`` (the cluster's ``archive_command`` writes there, see ``iocgis.cluster``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from iocgis import cluster
from iocgis.db import database_url
from iocgis.errors import DatabaseError, NotFound
from iocgis.ops import files
from iocgis.ops.checksums import TABLES_SQL, table_checksums
from iocgis.ops.settings import BackupSettings
from iocgis.settings import Settings

FORMAT = 1
Say = Callable[[str], None]
SCHEMAS_SQL = """
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%' ORDER BY 1
"""
EXTENSIONS_SQL = """
SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname <> 'plpgsql' ORDER BY 1
"""
# Tables and partitioned parents locked for the instant (a parent's lock covers its partitions).
LOCKABLE_SQL = TABLES_SQL.replace("c.relkind = 'r'", "c.relkind IN ('r', 'p')")
ARCHIVE_WAIT_S = 60


@dataclass(frozen=True)
class BackupSet:
    path: Path
    manifest: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.manifest["restore_point"]["time"])

    @property
    def base_finished_at(self) -> datetime:
        return datetime.fromisoformat(self.manifest["base"]["finished_at"])

    @property
    def archived(self) -> bool:
        """Was the server archiving its WAL (so this set replays to its restore point, and on)?"""
        return bool(self.manifest["archived"])

    @property
    def database(self) -> str:
        return str(self.manifest["database"])

    @property
    def verification(self) -> dict[str, Any] | None:
        report = self.path / "verify.json"
        return json.loads(report.read_text()) if report.exists() else None

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())


def sets_dir(settings: Settings, backup: BackupSettings) -> Path:
    return backup.backup_dir(settings.var_dir) / "sets"


def list_sets(settings: Settings, backup: BackupSettings) -> list[BackupSet]:
    """Finished sets, oldest first."""
    root = sets_dir(settings, backup)
    found = []
    for manifest in sorted(root.glob("*/manifest.json")) if root.is_dir() else []:
        found.append(BackupSet(manifest.parent, json.loads(manifest.read_text())))
    return found


def find_set(settings: Settings, backup: BackupSettings, set_id: str | None = None) -> BackupSet:
    sets = list_sets(settings, backup)
    if not sets:
        raise NotFound("there is no backup set yet", where=str(sets_dir(settings, backup)),
                       hint="take one with `iocgis backup create`")
    if set_id is None:
        return sets[-1]
    for bset in sets:
        if bset.id == set_id:
            return bset
    raise NotFound(f"no backup set {set_id!r}", where=str(sets_dir(settings, backup)),
                   hint="`iocgis backup list` shows the sets there are")


def tool_env(url: str) -> dict[str, str]:
    """The environment a PostgreSQL program reaches ``url`` with (no password on a command line)."""
    parts = conninfo_to_dict(url)
    env = dict(os.environ)
    for key, variable in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"),
                          ("password", "PGPASSWORD"), ("dbname", "PGDATABASE")):
        if parts.get(key):
            env[variable] = str(parts[key])
    return env


def run_tool(args: list[str | Path], env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise DatabaseError(f"{what} failed", where=" ".join(str(a) for a in args[:3]),
                            hint=(result.stderr or result.stdout).strip()[-800:])
    return result


def lsn_value(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def wal_file_name(timeline: int, lsn: str, segment_bytes: int) -> str:
    segment = lsn_value(lsn) // segment_bytes
    per_id = 0x100000000 // segment_bytes
    return f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseError("another backup is running", where=str(root),
                                hint="wait for it to finish (one backup at a time)") from None
        yield


def create(settings: Settings, backup: BackupSettings, say: Say = print) -> BackupSet:
    """Take a backup set, then apply the retention; the new set."""
    root = backup.backup_dir(settings.var_dir)
    url = database_url(settings)
    with _locked(root):
        sets = sets_dir(settings, backup)
        sets.mkdir(parents=True, exist_ok=True, mode=0o700)
        root.chmod(0o711)  # the server's user reaches the WAL archive inside, nothing else
        set_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        partial = sets / f"{set_id}.partial"
        partial.mkdir(mode=0o700)
        try:
            manifest = _take(settings, backup, url, set_id, partial, say)
            (partial / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
            final = sets / set_id
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        removed, wal_removed = prune(settings, backup)
    if removed or wal_removed:
        say(f"retention: {len(removed)} older set(s) and {wal_removed} archived WAL file(s) removed")
    return BackupSet(final, manifest)


def _server_facts(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("""
            SELECT current_database(), current_setting('server_version_num')::int,
                   current_setting('archive_mode'),
                   (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'),
                   (SELECT failed_count FROM pg_stat_archiver)""").fetchone()
    assert row is not None
    database, version, archive_mode, segment_bytes, failed = row
    return {"database": database, "server_version_num": version,
            "archived": archive_mode in ("on", "always"), "segment_bytes": segment_bytes,
            "archive_failures": failed}


def _take(settings: Settings, backup: BackupSettings, url: str, set_id: str, target: Path,
          say: Say) -> dict[str, Any]:
    bin_dir = cluster.require_bin_dir()
    env = tool_env(url)
    facts = _server_facts(url)
    if not facts["archived"]:
        say("warning: the server does not archive its WAL: this set restores only to the end "
            "of its base backup, with no point-in-time recovery (restart the local cluster to "
            "turn archiving on: `iocgis db stop && iocgis db start`)")
    say("base backup (pg_basebackup) …")
    base_dir = target / "base"
    compress = f"client-gzip:{backup.compress_level}" if backup.compress_level else "none"
    run_tool([bin_dir / "pg_basebackup", "-D", base_dir, "-F", "t", "-X", "stream", "-c", "fast",
              "-Z", compress, "-l", f"iocgis {set_id}", "--no-password"], env, "pg_basebackup")
    wal_range = json.loads((base_dir / "backup_manifest").read_text())["WAL-Ranges"][0]
    base = {"finished_at": datetime.now(UTC).isoformat(), "timeline": wal_range["Timeline"],
            "start_lsn": wal_range["Start-LSN"], "end_lsn": wal_range["End-LSN"],
            "start_wal": wal_file_name(wal_range["Timeline"], wal_range["Start-LSN"],
                                       facts["segment_bytes"])}
    manifest: dict[str, Any] = {"format": FORMAT, "id": set_id, "database": facts["database"],
                                "server_version_num": facts["server_version_num"],
                                "archived": facts["archived"], "base": base}
    say("restore point, table checksums and logical dumps (pg_dump -Fc per schema) …")
    dumps = target / "dumps"
    dumps.mkdir()
    with _frozen_instant(url, f"iocgis-{set_id}") as (conn, snapshot, point):
        manifest["restore_point"] = point
        manifest["tables"] = table_checksums(conn)
        manifest["extensions"] = [list(r) for r in conn.execute(EXTENSIONS_SQL).fetchall()]
        manifest["schemas"] = {}
        for (schema,) in conn.execute(SCHEMAS_SQL).fetchall():
            dump = dumps / f"{schema}.dump"
            run_tool([bin_dir / "pg_dump", "-F", "c", "-n", f'"{schema}"', "--snapshot", snapshot,
                      "-f", dump, "--no-password"], env, f"pg_dump of schema {schema}")
            manifest["schemas"][schema] = dump.name
    run_tool([bin_dir / "pg_dumpall", "--globals-only", "-f", dumps / "globals.sql", "--no-password"],
             env, "pg_dumpall --globals-only")
    if facts["archived"]:
        _wait_archived(url, point["lsn"], facts["segment_bytes"])
    say("files (planning file store, rasters, keys) …")
    manifest["files"] = files.pack(settings, target / "files.tar")
    manifest["finished_at"] = datetime.now(UTC).isoformat()
    return manifest


@contextmanager
def _frozen_instant(url: str, name: str) -> Iterator[tuple[psycopg.Connection, str, dict[str, str]]]:
    """A session in the snapshot of the restore point ``name``, and that snapshot exported for
    pg_dump. Writers are held only between the locks and the restore point."""
    with psycopg.connect(url, autocommit=True) as probe:
        tables = probe.execute(LOCKABLE_SQL).fetchall()
    with psycopg.connect(url) as locker, psycopg.connect(url) as reader:
        locker.isolation_level = reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        locker.execute("SET LOCAL lock_timeout = '60s'")
        if tables:
            try:
                locker.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(
                    sql.SQL(", ").join(sql.Identifier(s, t) for s, t in tables)))
            except psycopg.errors.LockNotAvailable:
                raise DatabaseError("a long write held tables for 60 s", where="backup create",
                                    hint="an import is swapping a layer in: retry after it") from None
        # LOCK takes no snapshot: this SELECT takes it, after every earlier writer committed
        snapshot = locker.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        lsn, at = locker.execute("SELECT pg_create_restore_point(%s)::text, clock_timestamp()",
                                 (name,)).fetchone()  # type: ignore[misc]
        reader.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        locker.commit()  # writers go on; the reader keeps the instant
        exported = reader.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        yield reader, exported, {"name": name, "lsn": lsn, "time": at.isoformat()}
        reader.rollback()


def _wait_archived(url: str, lsn: str, segment_bytes: int) -> None:
    """Switch WAL and wait until the segment holding ``lsn`` is in the archive."""
    with psycopg.connect(url, autocommit=True) as conn:
        timeline = conn.execute("SELECT timeline_id FROM pg_control_checkpoint()").fetchone()[0]  # type: ignore[index]
        needed = wal_file_name(timeline, lsn, segment_bytes)
        conn.execute("SELECT pg_switch_wal()")
        deadline = time.monotonic() + ARCHIVE_WAIT_S
        while True:
            last, failed_wal = conn.execute(
                "SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver").fetchone()  # type: ignore[misc]
            if last and re.fullmatch("[0-9A-F]{24}", last[:24]) and last[:24] >= needed:
                return
            if time.monotonic() > deadline:
                raise DatabaseError(f"WAL segment {needed} was not archived within {ARCHIVE_WAIT_S} s",
                                    where="archive_command",
                                    hint=f"last archived {last}, last failed {failed_wal}: see the "
                                         "server log; is the archive folder writable and not full?")
            time.sleep(0.2)


def prune(settings: Settings, backup: BackupSettings, now: datetime | None = None) -> tuple[list[str], int]:
    """Apply the retention: the sets removed and the number of archived WAL files removed."""
    now = now or datetime.now(UTC)
    sets = list_sets(settings, backup)
    keep = {s.id for s in sets[-backup.keep_sets:]}
    keep |= {s.id for s in sets if now - s.created_at < timedelta(days=backup.keep_days)}
    removed = []
    for bset in sets:
        if bset.id not in keep:
            shutil.rmtree(bset.path)
            removed.append(bset.id)
    for stale in sets_dir(settings, backup).glob("*.partial"):
        if time.time() - stale.stat().st_mtime > 86400:  # a crashed run's leftovers
            shutil.rmtree(stale, ignore_errors=True)
    kept = [s for s in sets if s.id in keep]
    return removed, _prune_wal(settings, backup, kept[0].manifest["base"]["start_wal"]) if kept else 0


def _prune_wal(settings: Settings, backup: BackupSettings, oldest_needed: str) -> int:
    wal = cluster.wal_archive_dir(settings, backup)
    if not wal.is_dir():
        return 0
    pattern = re.compile(r"^[0-9A-F]{24}(\.[0-9A-F]{8}\.backup|\.partial)?\.gz$")
    removed = 0
    for segment in wal.iterdir():
        # older segments of any timeline (the name without its timeline sorts by position)
        if pattern.match(segment.name) and segment.name[8:24] < oldest_needed[8:24]:
            segment.unlink()
            removed += 1
    return removed

"""Restores: a backup set's base backup replayed from the WAL archive into a new data directory,
to its restore point (``verify``), to a time (point-in-time recovery) or to the end of the
archive; the logical dumps restored schema by schema; the files put back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from iocgis import cluster
from iocgis.db import database_url
from iocgis.errors import DatabaseError, InvalidInput, NotFound
from iocgis.ops import files
from iocgis.ops.backup import BackupSet, Say, find_set, list_sets, run_tool, tool_env
from iocgis.ops.checksums import compare, table_checksums
from iocgis.ops.scratch import ScratchCluster, free_port, wait_until_open
from iocgis.ops.settings import BackupSettings
from iocgis.settings import Settings

RESTORE_MARK = "# --- iocgis restore"
SECTIONS = ("pre-data", "data", "post-data")
LOGICAL_DB = "iocgis_verify_logical"


@dataclass(frozen=True)
class Target:
    """Where WAL replay stops: a restore point, a time, or (neither) the end of the archive;
    ``immediate`` stops as soon as the base backup is consistent (no archive)."""

    name: str | None = None
    time: datetime | None = None
    immediate: bool = False

    def settings(self) -> list[tuple[str, str]]:
        if self.immediate:
            return [("recovery_target", "immediate")]
        if self.name:
            return [("recovery_target_name", self.name)]
        if self.time:
            return [("recovery_target_time", self.time.isoformat(sep=" "))]
        return []


def _conf_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def materialise(bset: BackupSet, data_dir: Path, target: Target, wal_dir: Path, *,
                port: int | None, archive: bool, memory_mb: int | None = None) -> None:
    """Unpack the base backup into ``data_dir``, check it against its manifest, and set it to
    replay WAL from ``wal_dir`` up to ``target`` then open for writes."""
    bin_dir = cluster.require_bin_dir()
    base = bset.path / "base"
    data_dir.mkdir(mode=0o700, parents=True)
    for archive_file, into in (("base.tar", data_dir), ("pg_wal.tar", data_dir / "pg_wal")):
        packed = next(base.glob(archive_file + "*"))
        into.mkdir(mode=0o700, exist_ok=True)
        run_tool(["tar", "-xf", packed, "-C", into], {}, f"unpacking {packed.name}")
    run_tool([bin_dir / "pg_verifybackup", "-m", base / "backup_manifest", "-w", data_dir / "pg_wal",
              data_dir], {}, "pg_verifybackup (the base backup against its manifest)")
    lines = [f"{RESTORE_MARK} {bset.id} ---",
             f"restore_command = {_conf_value(f'gunzip < {wal_dir}/%f.gz > %p')}",
             *(f"{key} = {_conf_value(value)}" for key, value in target.settings()),
             "recovery_target_action = 'promote'", "hot_standby = off"]
    if port is not None:
        lines.append(f"port = {port}")
    if not archive:
        lines.append("archive_mode = off")
    if memory_mb:
        lines += [f"shared_buffers = '{memory_mb}MB'", "max_connections = 40"]
    with open(data_dir / "postgresql.auto.conf", "a", encoding="utf-8") as conf:
        conf.write("\n".join(lines) + "\n")
    (data_dir / "recovery.signal").touch()
    (data_dir / "backup_manifest").unlink(missing_ok=True)
    cluster.give_to_server_user(data_dir)


def _credentials(settings: Settings) -> tuple[str, str]:
    parts = conninfo_to_dict(database_url(settings))
    return str(parts.get("user") or ""), str(parts.get("password") or "")


def _wal_dir(settings: Settings, backup: BackupSettings) -> Path:
    wal = cluster.wal_archive_dir(settings, backup)
    if not wal.is_dir():
        raise NotFound("the WAL archive is missing", where=str(wal),
                       hint="restore it from the backup disk, or set IOCGIS_BACKUP_DIR to where it is")
    return wal


def verify(settings: Settings, backup: BackupSettings, set_id: str | None = None,
           say: Say = print) -> dict[str, Any]:
    """Restore a set into a scratch cluster and compare it table by table with its source;
    the report (also written to the set's ``verify.json``)."""
    bset = find_set(settings, backup, set_id)
    user, password = _credentials(settings)
    report: dict[str, Any] = {"set": bset.id, "started_at": datetime.now(UTC).isoformat()}
    with ScratchCluster("verify") as scratch:
        target = Target(name=bset.manifest["restore_point"]["name"]) if bset.archived \
            else Target(immediate=True)
        say(f"restoring {bset.id} into a scratch cluster on port {scratch.port} …")
        began = time.monotonic()
        materialise(bset, scratch.data_dir, target, _wal_dir(settings, backup), port=scratch.port,
                    archive=False, memory_mb=128)
        scratch.start(backup.recovery_timeout_s)
        wait_until_open(scratch.url(user, password, bset.database), scratch.data_dir, scratch.log,
                        backup.recovery_timeout_s)
        report["physical_restore_s"] = round(time.monotonic() - began, 2)
        with psycopg.connect(scratch.url(user, password, bset.database)) as conn:
            found = table_checksums(conn)
        if bset.archived:
            physical = compare(bset.manifest["tables"], found)
            report["physical"] = {"matched": physical.matched, "problems": list(physical.problems)}
        else:
            report["physical"] = {"matched": 0, "problems": [],
                                  "note": "no WAL archive: restored to the base backup's end, "
                                          "which is not the instant of the checksums"}
        say("restoring the logical dumps schema by schema …")
        began = time.monotonic()
        logical_url = restore_dumps(bset, scratch.url(user, password, "postgres"), LOGICAL_DB)
        report["logical_restore_s"] = round(time.monotonic() - began, 2)
        with psycopg.connect(logical_url) as conn:
            logical = compare(bset.manifest["tables"], table_checksums(conn))
        report["logical"] = {"matched": logical.matched, "problems": list(logical.problems)}
    file_problems = files.check(bset.path / "files.tar", bset.manifest["files"])
    report["files"] = {"checked": len(bset.manifest["files"]), "problems": file_problems}
    report["ok"] = not (report["physical"]["problems"] or logical.problems or file_problems)
    report["finished_at"] = datetime.now(UTC).isoformat()
    (bset.path / "verify.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return report


def restore_dumps(bset: BackupSet, admin_url: str, dbname: str) -> str:
    """Restore every schema's dump into a new database ``dbname``; its URL.

    pg_restore runs each section (definitions, rows, then indexes, constraints and policies) for
    every schema, each schema in one transaction, retrying those that failed on another
    schema's objects (a view over another schema, a partition of another schema's table)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(dbname)))
    head, _, _ = admin_url.rpartition("/")
    url = f"{head}/{dbname}"
    with psycopg.connect(url, autocommit=True) as conn:
        for extension, schema in bset.manifest["extensions"]:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {} SCHEMA {}").format(
                sql.Identifier(extension), sql.Identifier(schema)))
        existing = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}
    bin_dir = cluster.require_bin_dir()
    env = tool_env(url)
    dumps = {schema: bset.path / "dumps" / name for schema, name in bset.manifest["schemas"].items()}
    lists = {schema: _toc_without_schema(bin_dir, dump, schema)
             for schema, dump in dumps.items() if schema in existing}
    for section in SECTIONS:
        pending = sorted(dumps)
        while pending:
            failed: dict[str, str] = {}
            for schema in pending:
                args: list[str | Path] = [bin_dir / "pg_restore", "--section", section,
                                          "--single-transaction", "--exit-on-error", "--no-password",
                                          "-d", dbname]
                if schema in lists:
                    args += ["-L", lists[schema]]
                result = subprocess.run([str(a) for a in [*args, dumps[schema]]], env=env,
                                        capture_output=True, text=True)
                if result.returncode != 0:
                    failed[schema] = result.stderr.strip()[-600:]
            if len(failed) == len(pending):
                raise DatabaseError(f"the {section} of schema(s) {', '.join(failed)} did not restore",
                                    where=str(bset.path / "dumps"),
                                    hint=next(iter(failed.values())))
            pending = sorted(failed)
    for listing in lists.values():
        listing.unlink()
    return url


def _toc_without_schema(bin_dir: Path, dump: Path, schema: str) -> Path:
    """The dump's table of contents without ``CREATE SCHEMA`` for a schema the target already
    has (``public``, or one an extension lives in)."""
    toc = run_tool([bin_dir / "pg_restore", "-l", dump], {}, f"listing {dump.name}").stdout
    kept = [line for line in toc.splitlines()
            if not (" SCHEMA - " in line and line.split(" SCHEMA - ", 1)[1].split(" ")[0] == schema)]
    listing = dump.with_suffix(".toc")
    listing.write_text("\n".join(kept) + "\n")
    return listing


def restore(settings: Settings, backup: BackupSettings, *, to: datetime | None = None,
            set_id: str | None = None, target_dir: Path | None = None, port: int | None = None,
            replace: bool = False, say: Say = print) -> dict[str, Any]:
    """Point-in-time recovery: the newest set finished before ``to`` (or ``set_id``) replayed to
    ``to`` (or to the end of the archive), as a new cluster beside the live one or, with
    ``replace``, in place of the stopped local cluster. What was done."""
    bset = _set_for(settings, backup, to, set_id)
    if to is not None and not bset.archived:
        raise InvalidInput(f"set {bset.id} has no WAL archive: it restores only to its own end",
                           where="--to", hint="leave out --to, or pick a set taken with archiving on")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = Target(time=to) if to else (Target() if bset.archived else Target(immediate=True))
    if replace:
        live = cluster.status(settings)
        if settings.database_url:
            raise InvalidInput("--replace restores the project-local cluster only", where="DATABASE_URL",
                               hint="restore beside it (no --replace) and point your server at the copy")
        if live.running:
            raise InvalidInput("the local cluster is running", where=str(live.data_dir),
                               hint="stop it first (`iocgis db stop`; every connection ends), then "
                                    "run the restore again")
        data_dir = live.data_dir.with_name(live.data_dir.name + ".restoring")
        shutil.rmtree(data_dir, ignore_errors=True)
        port = settings.pg_port
    else:
        folder = target_dir or settings.var_dir / "restores" / stamp
        if folder.exists() and any(folder.iterdir()):
            raise InvalidInput("the restore folder is not empty", where=str(folder),
                               hint="name a new folder with --target-dir")
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o711)
        data_dir = folder / "pgdata"
        port = port or free_port()
    say(f"restoring set {bset.id} to {to.isoformat() if to else 'the end of the archive'} …")
    began = time.monotonic()
    materialise(bset, data_dir, target, _wal_dir(settings, backup), port=None if replace else port,
                archive=replace)
    if replace:
        aside = live.data_dir.with_name(f"{live.data_dir.name}.before-restore-{stamp}")
        live.data_dir.rename(aside)
        data_dir.rename(live.data_dir)
        data_dir = live.data_dir
        say(f"the damaged cluster is kept in {aside}")
    _start_restored(data_dir, port, backup.recovery_timeout_s)
    user, password = _credentials(settings)
    url = f"postgresql://{quote(user)}:{quote(password)}@127.0.0.1:{port}/{quote(bset.database)}"
    wait_until_open(url, data_dir, data_dir / "server.log", backup.recovery_timeout_s)
    with psycopg.connect(url, autocommit=True) as conn:
        for key in ("recovery_target", "recovery_target_name", "recovery_target_time"):
            conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(key)))
        conn.execute("SELECT pg_reload_conf()")
    seconds = round(time.monotonic() - began, 2)
    restored_files = files.unpack(bset.path / "files.tar", settings,
                                  into=None if replace else data_dir.parent / "files")
    return {"set": bset.id, "to": to.isoformat() if to else None, "data_dir": str(data_dir),
            "port": port, "seconds": seconds, "files": restored_files, "replaced": replace}


def _set_for(settings: Settings, backup: BackupSettings, to: datetime | None,
             set_id: str | None) -> BackupSet:
    if set_id is not None or to is None:
        return find_set(settings, backup, set_id)
    usable = [s for s in list_sets(settings, backup) if s.base_finished_at <= to]
    if not usable:
        raise NotFound(f"no backup set finished before {to.isoformat()}",
                       where=str(backup.backup_dir(settings.var_dir)),
                       hint="`iocgis backup list` shows when each set was taken")
    return usable[-1]


def _start_restored(data_dir: Path, port: int, timeout_s: int) -> None:
    bin_dir = cluster.require_bin_dir()
    log = data_dir / "server.log"
    result = cluster.run_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log),
                                         "-o", f"-p {port}", "-w", "-t", str(timeout_s), "start"])
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-1200:]
        raise DatabaseError("the restored cluster did not come up", where=str(data_dir),
                            hint=tail or result.stderr)

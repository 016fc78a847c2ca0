"""``iocgis backup``: take, list, verify (by restoring) and restore backup sets."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from iocgis.cli._security_common import parse_when
from iocgis.errors import IocgisError
from iocgis.ops import backup as backups
from iocgis.ops import restore as restores
from iocgis.ops.settings import BackupSettings
from iocgis.settings import get_settings

console = Console(stderr=True)
app = typer.Typer(help="Backups proven by restores: base backup + WAL archive, dumps, files.",
                  no_args_is_help=True)


class BackupMismatch(IocgisError):
    code = "BackupMismatch"
    exit_code = 8


def _say(text: str) -> None:
    console.print(text)


@app.command()
def create() -> None:
    """Take a backup set (base backup, restore point, checksums, dumps per schema, files),
    then apply the retention."""
    bset = backups.create(get_settings(), BackupSettings(), _say)
    tables = bset.manifest["tables"]
    console.print(f"backup set {bset.id}: {len(tables)} tables, {sum(t['rows'] for t in tables.values())} "
                  f"rows, {len(bset.manifest['schemas'])} schema dumps, {len(bset.manifest['files'])} "
                  f"files, {bset.size_bytes() / 2**20:.1f} MiB in {bset.path}")


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json")) -> None:
    """The backup sets, oldest first, with their last verification."""
    sets = backups.list_sets(get_settings(), BackupSettings())
    rows = []
    for bset in sets:
        checked = bset.verification
        rows.append({"id": bset.id, "taken_at": bset.created_at.isoformat(), "database": bset.database,
                     "pitr": bset.archived, "tables": len(bset.manifest["tables"]),
                     "bytes": bset.size_bytes(),
                     "verified": None if checked is None else checked["ok"],
                     "verified_at": None if checked is None else checked["finished_at"]})
    if as_json:
        typer.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="backup sets")
    for col in ("id", "taken at (UTC)", "database", "PITR", "tables", "MiB", "verified"):
        table.add_column(col)
    for r in rows:
        verified = "never" if r["verified"] is None else ("ok " if r["verified"] else "FAILED ") \
            + str(r["verified_at"])[:19]
        table.add_row(r["id"], r["taken_at"][:19], r["database"], "yes" if r["pitr"] else "no",
                      str(r["tables"]), f"{r['bytes'] / 2**20:.1f}", verified)
    Console().print(table)


@app.command()
def verify(set_id: str | None = typer.Argument(None, help="the set (default: the newest)"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Restore a set into a scratch cluster and compare every table's rows and checksum with
    the source; exit 8 when anything differs."""
    report = restores.verify(get_settings(), BackupSettings(), set_id, _say)
    if as_json:
        typer.echo(json.dumps(report, indent=1, ensure_ascii=False))
    for part in ("physical", "logical", "files"):
        for problem in report[part]["problems"]:
            console.print(f"[bold red]{part}[/] {problem}")
    if not report["ok"]:
        raise BackupMismatch(f"backup set {report['set']} does not match its source",
                             where=part, hint="keep the set; take a new one and find out why")
    console.print(f"backup set {report['set']} verified: {report['physical']['matched']} tables "
                  f"after WAL replay ({report['physical_restore_s']} s), "
                  f"{report['logical']['matched']} from the dumps ({report['logical_restore_s']} s), "
                  f"{report['files']['checked']} files")


@app.command()
def restore(set_id: str | None = typer.Argument(None, help="the set (default: the newest usable)"),
            to: str | None = typer.Option(None, "--to", help="replay up to this time (ISO, e.g. "
                                          "2026-12-01T09:30+07:00; without a zone: UTC; or 2h ago)"),
            target_dir: Path | None = typer.Option(None, help="new folder for the restored cluster "
                                                    "(default var/restores/<time>)"),
            port: int | None = typer.Option(None, help="port of the restored cluster (default: free)"),
            replace: bool = typer.Option(False, "--replace", help="put the restore in place of the "
                                         "stopped local cluster (the old one is kept aside)")) -> None:
    """Point-in-time recovery into a new cluster (or, with --replace, the local one)."""
    when = parse_when(to, option="--to")
    done = restores.restore(get_settings(), BackupSettings(), to=when, set_id=set_id,
                            target_dir=target_dir, port=port, replace=replace, say=_say)
    files_at = "" if replace else f" in {Path(done['data_dir']).parent / 'files'}"
    console.print(f"restored set {done['set']} to {done['to'] or 'the end of the archive'} in "
                  f"{done['seconds']} s: cluster {done['data_dir']} on port {done['port']}, "
                  f"{done['files']} files{files_at}")
    if replace:
        console.print("take a new backup now (`iocgis backup create`): the restored cluster "
                      "started a new WAL timeline")
    typer.echo(json.dumps(done))


@app.command()
def prune() -> None:
    """Apply the retention (IOCGIS_BACKUP_KEEP_SETS, IOCGIS_BACKUP_KEEP_DAYS) now."""
    removed, wal = backups.prune(get_settings(), BackupSettings())
    console.print(f"{len(removed)} set(s) and {wal} archived WAL file(s) removed")


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="backup", help="Backups proven by restores: create, list, verify, restore.")

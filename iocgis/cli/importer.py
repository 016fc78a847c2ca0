"""``iocgis import PATH --layer LAYER``, ``iocgis import history LAYER``, ``iocgis import
rollback LAYER``: the importer at the shell, with a progress bar and a summary table."""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import click
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from typer.core import TyperGroup

from iocgis.errors import InvalidInput

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # a message (a path) is never broken into lines
DEFAULT_COMMAND = "file"


class ImportGroup(TyperGroup):
    """``iocgis import PATH ...`` runs the hidden ``file`` command; ``history`` and
    ``rollback`` are sub-commands (a path named like them can be given as ./history)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)


import_app = typer.Typer(cls=ImportGroup, no_args_is_help=True, add_completion=False,
                         help="Import a file, folder or .zip into a layer; see its history; "
                              "roll it back.\n\nUsage: iocgis import PATH --layer LAYER [options]; "
                              "`iocgis import PATH --help` lists every option.")


def _rate(done: int, started: float) -> str:
    elapsed = max(time.monotonic() - started, 1e-6)
    return f"{done / elapsed:,.0f} rows/s"


class _Bar:
    """The rich progress bar, fed by the importer's progress events."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                                 TimeElapsedColumn(), console=err_console, transient=True,
                                 disable=not enabled)
        self.task = self.progress.add_task("reading", total=None, rate="")

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: dict[str, Any]) -> None:
        self.progress.update(self.task, description=event.get("phase", ""),
                             completed=event.get("done", 0), total=event.get("total"),
                             rate=_rate(event.get("done", 0), self.started))


def _summary(report: dict[str, Any]) -> None:
    source = report["source"]
    table = Table(title=f"import {report['import_id']} -> {report['layer_id']} "
                        f"({report['status']})", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for label, value in (("file", source["path"]), ("format", source["format"]),
                         ("CRS", source["crs"]), ("encoding", source["encoding"]),
                         ("mode", report["mode"] + (" (dry run)" if report["dry_run"] else "")),
                         ("rows in", report["rows_in"]), ("loaded", report["rows_loaded"]),
                         ("fixed", report["rows_fixed"]), ("rejected", report["rows_rejected"]),
                         ("seconds", report.get("duration_s")),
                         ("data version", report.get("data_version"))):
        table.add_row(label, "-" if value is None else str(value))
    console.print(table)
    if report["findings"]:
        findings = Table(title="findings")
        for col in ("rule", "severity", "field", "count", "message", "examples"):
            findings.add_column(col)
        for f in report["findings"]:
            ids = ", ".join(map(str, f["feature_ids"][:5]))
            findings.add_row(f["rule"], f["severity"], f["field"] or "", str(f["count"]),
                             f["message"] + (f" ({f['example']})" if f.get("example") else ""),
                             ids)
        console.print(findings)


@import_app.command(DEFAULT_COMMAND, hidden=True)
def import_file(
    path: Path = typer.Argument(..., help="a file, a folder or a .zip holding one dataset"),
    layer: str = typer.Option(..., "--layer", "-l", help="registry layer id, e.g. land.parcels"),
    crs: str | None = typer.Option(None, "--crs", help="override the file's CRS, e.g. EPSG:5899"),
    encoding: str | None = typer.Option(None, "--encoding",
                                        help="text encoding: utf-8, cp1258, tcvn3, vni"),
    mapping: Path | None = typer.Option(None, "--mapping", help="field mapping YAML file"),
    mode: str = typer.Option("replace", "--mode", help="replace, append or upsert"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check and report, change nothing"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON on stdout"),
    source_layer: str | None = typer.Option(None, "--source-layer",
                                            help="layer of a multi-layer file"),
    source_date: str | None = typer.Option(None, "--source-date",
                                           help="date of the source data (YYYY-MM-DD)"),
    max_rejected: float = typer.Option(0.0, "--max-rejected",
                                       help="share of features that may be rejected (0-1)"),
    swap_xy: bool = typer.Option(False, "--swap-xy", help="the file has Y (lat) before X"),
    user: str = typer.Option("cli", "--user", help="who runs the import (for the report)"),
    submit: bool = typer.Option(False, "--submit",
                                help="stop at pending for a data steward's approval, whatever "
                                     "the layer's group says"),
    auto_approve: bool = typer.Option(False, "--auto-approve",
                                      help="go live at once without approval (the operator)"),
) -> None:
    """Import PATH into LAYER (replace by default); exit 0 on success."""
    from iocgis.importers import ImportOptions, import_path

    try:
        when = date.fromisoformat(source_date) if source_date else None
    except ValueError:
        raise InvalidInput(f"--source-date {source_date!r} is not a date",
                           where="--source-date", hint="write it as YYYY-MM-DD") from None
    if submit and auto_approve:
        raise InvalidInput("--submit and --auto-approve contradict each other",
                           where="--submit", hint="choose one")
    approval = "submit" if submit else "auto" if auto_approve else "registry"
    options = ImportOptions(crs=crs, encoding=encoding, mapping=mapping, mode=mode,  # type: ignore[arg-type]
                            dry_run=dry_run, user=user, source_date=when,
                            max_rejected=max_rejected, swap_xy=swap_xy, source_layer=source_layer,
                            approval=approval)  # type: ignore[arg-type]
    with _Bar(enabled=not as_json and err_console.is_terminal) as bar:
        report = import_path(path, layer, options, progress=bar)
    body = report.as_dict()
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))
    else:
        _summary(body)
        if report.status == "pending":
            review = body.get("extra", {}).get("review", {})
            diff = review.get("diff", {})
            console.print(
                f"[bold]pending approval[/]: {diff.get('added', 0)} added, "
                f"{diff.get('removed', 0)} removed, {diff.get('changed', 0)} changed; nothing is "
                f"live until a data steward of {layer.split('.')[0]} approves it "
                f"(`iocgis imports show {report.import_id}`, `iocgis imports approve "
                f"{report.import_id}`); it expires {review.get('expires_at', '')[:16]}")


@import_app.command("history")
def import_history(
    layer: str = typer.Argument(..., help="registry layer id"),
    limit: int = typer.Option(20, "--limit", help="how many imports"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """The imports of LAYER, newest first."""
    from iocgis.importers.history import history

    rows = history(layer, limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    table = Table(title=f"imports of {layer}")
    for col in ("id", "started", "user", "mode", "status", "file", "in", "loaded", "rejected",
                "version", "rollback"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), f"{r['started_at']:%Y-%m-%d %H:%M}", r["user_name"], r["mode"],
                      r["status"], Path(r["source_path"]).name, str(r["rows_in"]),
                      str(r["rows_loaded"]), str(r["rows_rejected"]), str(r["data_version"] or ""),
                      "yes" if r["previous_table"] else "")
    console.print(table)


@import_app.command("rollback")
def import_rollback(
    layer: str = typer.Argument(..., help="registry layer id"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Put LAYER back as it was before its newest import."""
    from iocgis.importers.history import rollback

    done = rollback(layer)
    if as_json:
        typer.echo(json.dumps(done, ensure_ascii=False, default=str))
    else:
        console.print(f"{layer}: import {done['rolled_back_import']} rolled back; "
                      f"{done['row_count']} rows, data version {done['data_version']}")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")

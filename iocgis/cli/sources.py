"""``iocgis sources list|run|history|schedule``: the departments' systems that feed layers on a
schedule (importers/connectors). ``run NAME`` runs one now, ``run --due`` every due one (for
cron), ``schedule`` keeps running them (one process per installation)."""

from __future__ import annotations

import json
import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from iocgis.cli._security_common import operator

console = Console()
sources_app = typer.Typer(no_args_is_help=True, add_completion=False,
                          help="Sources that feed layers on a schedule: list, run, history, "
                               "schedule.")


def _connectors():  # noqa: ANN202 - run.Connectors
    from iocgis.importers.connectors.run import Connectors

    return Connectors.load()


def _echo_json(body: Any) -> None:
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


@sources_app.command("list")
def list_sources(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Every source with its layer, schedule, last success, last change, next run, failures."""
    from iocgis.db import connect
    from iocgis.importers.connectors import status

    connectors = _connectors()
    with connect(connectors.url, autocommit=True) as conn:
        rows = status.listing(conn, connectors)
    if as_json:
        _echo_json(rows)
        return
    table = Table(title=f"{len(rows)} source(s)")
    for col in ("id", "layer", "kind", "schedule", "last success", "last change", "next run",
                "failures", "alert"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["layer"], r["kind"], r["schedule"] + ("" if r["enabled"]
                                                                      else " (off)"),
                      _when(r["last_success_at"]), _when(r["last_change_at"]),
                      _when(r["next_run_at"]), str(r["failures"]),
                      "stale" if r["stale_alert"] else "")
    console.print(table)


def _print_runs(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"{len(rows)} run(s)")
    for col in ("run", "started", "trigger", "status", "import", "rows", "+", "−", "±", "error"):
        table.add_column(col)
    for r in rows:
        d = r["diff"] or {}
        table.add_row(str(r["id"]), _when(r["started_at"]), r["trigger"], r["status"],
                      str(r["import_id"] or ""), str(r["rows_in"] if r["rows_in"] is not None
                                                     else ""),
                      str(d.get("added", "")), str(d.get("removed", "")),
                      str(d.get("changed", "")), (r["error"] or "")[:120])
    console.print(table)


@sources_app.command("run")
def run(name: str | None = typer.Argument(None, help="the source id"),
        due: bool = typer.Option(False, "--due", help="run every source that is due"),
        full: bool = typer.Option(False, "--full",
                                  help="pull everything, not only what changed (incremental "
                                       "sources; deletions reach the layer this way)"),
        user: str | None = typer.Option(None, "--user", help="who runs it (audit trail)"),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Run one source now (or every due one): pull, import, diff, approval as the group says.
    Exit 0 when every run ended loaded, pending, unchanged or waiting; 6 when one failed."""
    from iocgis.errors import ImportFailed, InvalidInput
    from iocgis.importers.connectors.run import run_due, run_source

    if (name is None) == (not due):
        raise InvalidInput("name one source, or use --due", where="sources run",
                           hint="iocgis sources run SOURCE_ID | iocgis sources run --due")
    connectors = _connectors()
    who = user or operator().name
    results = run_due(connectors, user=who) if due else \
        [run_source(connectors, name or "", trigger="cli", user=who, full=full)]
    if as_json:
        _echo_json(results)
    else:
        _print_runs(results)
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        raise ImportFailed(f"{len(failed)} of {len(results)} source run(s) failed: "
                           f"{failed[0]['source_id']}: {failed[0]['error']}",
                           where=failed[0]["source_id"],
                           hint="the live layers are unchanged; see `iocgis sources history "
                                f"{failed[0]['source_id']}`")


@sources_app.command("history")
def history(name: str = typer.Argument(..., help="the source id"),
            limit: int = typer.Option(20, "--limit"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """The newest runs of a source: trigger, outcome, import, diff, error."""
    from iocgis.db import connect
    from iocgis.importers.connectors import status

    connectors = _connectors()
    connectors.source(name)
    with connect(connectors.url, autocommit=True) as conn:
        rows = status.runs(conn, name, limit)
    if as_json:
        _echo_json(rows)
    else:
        _print_runs(rows)


@sources_app.command("schedule")
def schedule(once: bool = typer.Option(False, "--once", help="one pass, then exit")) -> None:
    """Keep running due sources (every IOCGIS_SOURCES_POLL_SECONDS); one per installation.
    A failed source is tried again after its back-off; Ctrl-C stops between runs."""
    from iocgis.importers.connectors.run import run_due

    while True:
        connectors = _connectors()  # definitions re-read: an edited file takes effect
        for r in run_due(connectors):
            console.print(f"{r['started_at']:%Y-%m-%d %H:%M:%S} {r['source_id']}: {r['status']}"
                          + (f" ({r['error'][:200]})" if r["error"] else ""))
        if once:
            return
        time.sleep(connectors.settings.sources.poll_seconds)


def register(app: typer.Typer) -> None:
    app.add_typer(sources_app, name="sources")

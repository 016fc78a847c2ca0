"""``iocgis audit``: verify the chain, export for the SIEM, who accessed a layer, retention."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from iocgis.cli._security_common import database_errors, operator, parse_when
from iocgis.db import connect, database_url
from iocgis.errors import InvalidInput, IocgisError
from iocgis.security import audit
from iocgis.settings import get_settings

console = Console(stderr=True)
app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)


class AuditTampered(IocgisError):
    code = "AuditTampered"
    exit_code = 7


@app.command()
def verify(anchor: Path | None = typer.Option(
        None, help="file keeping the end of the chain seen last time (default var/audit_anchor.json)"),
        no_anchor: bool = typer.Option(False, "--no-anchor", help="do not read or move the anchor")
        ) -> None:
    """Recompute every hash and link; exit 7 when a record was edited, deleted or inserted."""
    anchor_file = None if no_anchor else (anchor or get_settings().var_dir / "audit_anchor.json")
    with database_errors(), connect(database_url(), autocommit=True) as conn:
        result = audit.verify(conn, anchor_file)
    if result.ok:
        console.print(f"audit trail intact: {result.checked} records"
                      + (f" ({result.first_seq}..{result.last_seq}), last hash "
                         f"{result.last_hash}" if result.checked else ""))
        return
    for problem in result.problems:
        console.print(f"[bold red]TAMPERED[/] {problem}")
    raise AuditTampered(f"the audit trail fails verification: {len(result.problems)} problem(s)",
                        where="audit.events", hint="keep the database as it is for the "
                                                   "investigation; compare with the SIEM copy")


@app.command("export")
def export(fmt: str = typer.Option("jsonl", "--format", help="jsonl or syslog (RFC 5424)"),
           since: str | None = typer.Option(None, help="from (date or 72h / 30d)"),
           until: str | None = typer.Option(None, help="until (date)"),
           layer: str | None = typer.Option(None, help="only events about this layer"),
           output: Path | None = typer.Option(None, "--output", "-o",
                                                 help="file (default: standard output)"),
           to: str | None = typer.Option(None, "--to", help="send to a syslog collector: "
                                         "udp://host:514 or tcp://host:601 (RFC 5424)"),
           resume: bool = typer.Option(False, "--resume", help="with --to: only the records "
                                       "after the last one sent there (var/audit_feed.json)")
           ) -> None:
    """Export events for the provincial SOC's SIEM, to a file or a syslog collector."""
    if fmt not in ("jsonl", "syslog"):
        raise InvalidInput(f"unknown format {fmt!r}", where="--format", hint="jsonl or syslog")
    if to is not None:
        _feed(to, resume, since, until, layer)
        return
    render = audit.as_json_line if fmt == "jsonl" else audit.as_syslog
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    count = 0
    try:
        with database_errors(), connect(database_url(), autocommit=True) as conn:
            for event in audit.events(conn, since=parse_when(since, option="--since"),
                                      until=parse_when(until, option="--until"), layer=layer):
                out.write(render(event) + "\n")
                count += 1
    finally:
        if output:
            out.close()
    console.print(f"{count} events exported" + (f" to {output}" if output else ""))


def _feed(to: str, resume: bool, since: str | None, until: str | None,
          layer: str | None) -> None:
    from iocgis.ops import syslog_feed

    collector = syslog_feed.Collector.parse(to)
    with database_errors(), connect(database_url(), autocommit=True) as conn:
        sent, after = syslog_feed.feed(
            conn, collector, get_settings().var_dir / "audit_feed.json", resume=resume,
            since=parse_when(since, option="--since"), until=parse_when(until, option="--until"),
            layer=layer)
    console.print(f"{sent} events sent to {to}" + (f" (after record {after})" if after else ""))


@app.command("who-accessed")
def who_accessed(layer: str, since: str = typer.Option("72h", help="date or 72h / 30d"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Who read (or was refused) a layer since a date: the first question after a breach."""
    from iocgis.layers import get_registry

    if layer not in get_registry():
        raise InvalidInput(f"unknown layer {layer!r}", where="LAYER",
                           hint="list the layers with `iocgis layers`")
    when = parse_when(since, option="--since")
    with database_errors(), connect(database_url(), autocommit=True) as conn:
        rows = audit.who_accessed(conn, layer, when)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, default=str, indent=1))
        return
    table = Table(title=f"{layer} since {when:%Y-%m-%d %H:%M} UTC")
    for col in ("account", "from", "action", "outcome", "events", "first", "last"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["actor"], r["client"] or "-", r["action"], r["outcome"], str(r["events"]),
                      f"{r['first_at']:%Y-%m-%d %H:%M:%S}", f"{r['last_at']:%Y-%m-%d %H:%M:%S}")
    Console().print(table)


@app.command()
def prune(months: int | None = typer.Option(None, help="keep this many months "
                                                          "(default: the retention setting)")
          ) -> None:
    """Delete records older than the retention (12 months by default, never below 3)."""
    keep = months if months is not None else get_settings().security.audit_retention_months
    with database_errors(), connect(database_url(), autocommit=True) as conn:
        removed = audit.prune(conn, keep, operator().name)
    console.print(f"{removed} records older than {keep} months removed (a prune mark keeps "
                  "the chain verifiable)")


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="audit", help="Verify, export and question the audit trail.")

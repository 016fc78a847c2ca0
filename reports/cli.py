"""``iocgis reports``: list the definitions, generate one, list the generated reports, check a
report regenerates identically, and print a systemd timer for the periodic ones."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from iocgis.access import Caller
from iocgis.errors import InvalidInput, NotFound
from iocgis.reports.definitions import definition as find_definition
from iocgis.reports.definitions import get_definitions
from iocgis.reports.generate import Order
from iocgis.reports.periods import Period
from iocgis.settings import get_settings

console = Console(stderr=True)
app = typer.Typer(help="Reports: generate, list, regenerate, schedule.", no_args_is_help=True)


async def _caller(service: Any, user: str) -> Caller:
    """The account as the console reads it (its roles, communes and PII right; the console
    is the database owner's, so an administrator reads as with a TOTP session)."""
    from psycopg.rows import dict_row

    from iocgis.security.login import caller_from

    async with service.owner.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT id, name, roles, pii, commune_codes, status FROM "
                          "security.accounts WHERE name = %s", (user,))
        account = await cur.fetchone()
    if account is None or account["status"] != "active":
        raise NotFound(f"no active account {user!r}", where="--user",
                       hint="list them with `iocgis accounts list`")
    return caller_from(account, "console", auth="console", mfa=True)


async def _with_service(work: Any) -> Any:
    from iocgis.api.state import AppState
    from iocgis.reports.service import ReportsService, ReportsSettings

    state = AppState.build(get_settings())
    await state.open()
    service = ReportsService(state, ReportsSettings(write_in_process=False))
    try:
        await service.open()
        return await work(service)
    finally:
        await service.close()
        await state.close()


def _last_period(kind: str, today: date | None = None) -> str:
    """The last whole period of this kind before today."""
    today = today or date.today()
    current = {"month": Period("month", today.year, today.month),
               "quarter": Period("quarter", today.year, (today.month - 1) // 3 + 1),
               "half": Period("half", today.year, (today.month - 1) // 6 + 1),
               "year": Period("year", today.year, 1)}[kind]
    return current.previous().code


@app.command("list-definitions")
def list_definitions() -> None:
    """The report definitions (reports/definitions/*.yaml)."""
    table = Table("name", "kind", "period", "area", "title")
    for d in get_definitions().values():
        table.add_row(d.name, d.kind, d.periodicity or "any", d.area, d.title.vi)
    Console().print(table)


@app.command("run")
def run(name: str = typer.Argument(..., help="the definition, e.g. kinh_te_xa_hoi_quy"),
        period: str = typer.Option(None, help="2026-Q3, 2026-07, 2026-H1 or 2026 (periodic "
                                              "reports: default the last whole period)"),
        area: str = typer.Option(None, help="a commune code (ad-hoc commune reports)"),
        formats: str = typer.Option("pdf,xlsx", "--format", help="pdf, xlsx or both"),
        user: str = typer.Option(..., help="the account the report is generated for"),
        out: Path = typer.Option(None, help="also copy the files into this folder"),
        as_json: bool = typer.Option(False, "--json", help="the record on stdout")) -> None:
    """Generate a report as an account (its access rules), record it, and store its files."""
    found = find_definition(name)
    if period is None:
        if found.periodicity is None:
            raise InvalidInput(f"report {name} needs --period", where="--period",
                               hint="e.g. --period 2026-Q3")
        period = _last_period(found.periodicity)
    order = Order(name, period, area, tuple(formats.split(",")))

    async def work(service: Any) -> dict[str, Any]:
        caller = await _caller(service, user)

        def progress(event: dict[str, Any]) -> None:
            console.print(f"[dim]{event['done']}/{event['total']} {event['step']}[/]")

        record = await service.run(caller, order, progress=progress)
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            from iocgis.reports.store import file_name

            for fmt in record["outputs"]:
                target = out / file_name(record, fmt)
                target.write_bytes(service.store.path(record, fmt).read_bytes())
                console.print(f"wrote {target}")
        return record

    record = asyncio.run(_with_service(work))
    _print_record(record, as_json)


def _print_record(record: dict[str, Any], as_json: bool) -> None:
    from iocgis.reports.service import jsonable

    if as_json:
        print(json.dumps(jsonable(record), ensure_ascii=False, indent=1))
        return
    console.print(f"report {record['id']}: {record['definition']} {record['period']} "
                  f"{record['area']} by {record['generated_by']} ({record['duration_ms']} ms)")
    for fmt, output in record["outputs"].items():
        console.print(f"  {fmt}: {output['bytes']:,} bytes, SHA-256 {output['sha256']}")


@app.command("list")
def list_reports(user: str = typer.Option(..., help="whose reports (an admin: everyone's)"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """The generated reports with their versions, who, when and SHA-256."""
    from iocgis.reports.service import jsonable

    async def work(service: Any) -> list[dict[str, Any]]:
        return await service.store.list(await _caller(service, user))

    records = asyncio.run(_with_service(work))
    if as_json:
        print(json.dumps([jsonable(r) for r in records], ensure_ascii=False, indent=1))
        return
    table = Table("id", "report", "period", "area", "by", "at", "pdf SHA-256")
    for r in records:
        table.add_row(str(r["id"]), r["definition"], r["period"], r["area"], r["generated_by"],
                      r["generated_at"].isoformat(timespec="seconds"),
                      r["outputs"].get("pdf", {}).get("sha256", "")[:16])
    Console().print(table)


@app.command("regenerate")
def regenerate(report_id: str = typer.Argument(...),
               user: str = typer.Option(..., help="the generator or an administrator")) -> None:
    """Generate a recorded report again from its record; exit 8 if any output differs."""
    async def work(service: Any) -> dict[str, Any]:
        return await service.regenerate(await _caller(service, user), report_id)

    result = asyncio.run(_with_service(work))
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if not result["identical"]:
        raise typer.Exit(8)


@app.command("schedule")
def schedule(user: str = typer.Option("ioc.reports", help="the account the timers run as"),
             binary: str = typer.Option("/opt/iocgis/.venv/bin/iocgis")) -> None:
    """systemd service and timer units for every periodic definition (print them; install
    them under /etc/systemd/system and `systemctl enable --now iocgis-report-<name>.timer`)."""
    for d in get_definitions().values():
        if d.kind != "periodic" or not d.schedule:
            continue
        print(f"# /etc/systemd/system/iocgis-report-{d.name}.service\n[Unit]\n"
              f"Description=iocgis report {d.name} ({d.title.en})\n\n[Service]\nType=oneshot\n"
              f"ExecStart={binary} reports run {d.name} --user {user}\n")
        print(f"# /etc/systemd/system/iocgis-report-{d.name}.timer\n[Unit]\n"
              f"Description=iocgis report {d.name}, {d.periodicity}ly\n\n[Timer]\n"
              f"OnCalendar={d.schedule}\nPersistent=true\n\n[Install]\n"
              f"WantedBy=timers.target\n")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="reports")

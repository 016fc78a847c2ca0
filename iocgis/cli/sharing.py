"""``iocgis sharing agreements``: sharing agreements with other agencies and their usage."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from iocgis.cli._security_common import operator, parse_when, run
from iocgis.errors import InvalidInput
from iocgis.settings import get_settings
from iocgis.sharing import agreements, usage

console = Console()
app = typer.Typer(help="Sharing by agreement (Điều 3.8-3.9) and what was shared.",
                  no_args_is_help=True)
agreements_app = typer.Typer(help="Create, list, show and revoke agreements; their usage.",
                             no_args_is_help=True)
app.add_typer(agreements_app, name="agreements")

LAYER_HELP = ("a layer and the fields shared of it: land.parcels:sheet_no,parcel_no,land_use "
              "(no fields: every non-personal field); repeat for several layers")


def parse_layer_specs(specs: list[str]) -> dict[str, list[str] | None]:
    """``layer[:field,field]`` options into the agreement's layers."""
    layers: dict[str, list[str] | None] = {}
    for spec in specs:
        layer_id, _, fields = spec.partition(":")
        names = [f.strip() for f in fields.split(",") if f.strip()] or None
        if not layer_id.strip() or layer_id.strip() in layers:
            raise InvalidInput(f"--layer {spec!r} is empty or names a layer twice",
                               where="--layer", hint=LAYER_HELP)
        layers[layer_id.strip()] = names
    return layers


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date", where=option,
                           hint="write the date as 2026-12-31") from None


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _show(agreement: dict[str, Any]) -> None:
    console.print(f"agreement {agreement['id']} with [bold]{agreement['agency']}[/] "
                  f"({agreement['status']}), {agreement['starts_on']} .. {agreement['ends_on']}, "
                  f"account {agreement['account']}")
    for layer_id, fields in agreement["layers"].items():
        console.print(f"  {layer_id}: {', '.join(fields)}")
    console.print(f"  communes: {', '.join(agreement['communes']) or 'all'}")
    console.print(f"  purpose: {agreement['purpose']}")
    console.print(f"  legal basis: {agreement['legal_basis']}")
    if agreement["revoked_at"]:
        console.print(f"  revoked {agreement['revoked_at']} by {agreement['revoked_by']}: "
                      f"{agreement['revoked_reason']}")


@agreements_app.command("create")
def create(agency: str = typer.Option(..., help="the receiving agency"),
           layer: list[str] = typer.Option(..., "--layer", "-l", help=LAYER_HELP),
           commune: list[str] = typer.Option([], help="only these communes' rows (5-digit "
                                                      "codes; none: every commune)"),
           purpose: str = typer.Option(..., help="what the agency uses the data for"),
           legal_basis: str = typer.Option(..., help="the law or decision allowing it"),
           starts: str = typer.Option(..., help="first day, e.g. 2026-12-01"),
           ends: str = typer.Option(..., help="last day, e.g. 2027-11-30"),
           network: list[str] = typer.Option([], help="networks the agency's key is used "
                                                      "from (default: the internal networks)"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Create an agreement, its service account and its first API key (shown once)."""
    created, key = run(lambda conn: agreements.create(
        conn, get_settings().security, operator(), agency=agency,
        layers=parse_layer_specs(layer), communes=commune, purpose=purpose,
        legal_basis=legal_basis, starts_on=_date(starts, "--starts"),
        ends_on=_date(ends, "--ends"), networks=network or None))
    if as_json:
        _print_json({**created, "api_key": key})
        return
    _show(created)
    console.print(f"API key (shown once): [bold]{key}[/]")
    console.print(f"more keys: iocgis accounts apikey create {created['account']}")


@agreements_app.command("list")
def list_agreements(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every agreement with its agency, status and dates."""
    rows = run(agreements.list_all)
    if as_json:
        _print_json(rows)
        return
    table = Table("id", "agency", "status", "from", "to", "layers", "communes")
    for row in rows:
        table.add_row(str(row["id"]), row["agency"], row["status"], str(row["starts_on"]),
                      str(row["ends_on"]), ", ".join(row["layers"]),
                      ", ".join(row["communes"]) or "all")
    console.print(table)


@agreements_app.command("show")
def show(agreement: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """One agreement in full."""
    found = run(lambda conn: agreements.get(conn, agreement))
    _print_json(found) if as_json else _show(found)


@agreements_app.command("revoke")
def revoke(agreement: int, reason: str = typer.Option(..., help="why it ends now")) -> None:
    """End an agreement now: its keys are refused from the next request on."""
    found = run(lambda conn: agreements.revoke(conn, operator(), agreement, reason))
    console.print(f"agreement {found['id']} ({found['agency']}) revoked: its keys are refused")


@agreements_app.command("usage")
def usage_report(agreement: int,
                 since: str | None = typer.Option(None, help="from (2026-11-01, 30d, 72h)"),
                 until: str | None = typer.Option(None, help="before (2026-12-01)"),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """What was shared under the agreement: its terms; per layer the fields, requests, rows,
    tiles, first and last read."""
    found = run(lambda conn: usage.report(conn, agreement,
                                          since=parse_when(since, option="--since"),
                                          until=parse_when(until, option="--until")))
    if as_json:
        _print_json(found)
        return
    console.print(f"agreement {found['agreement']} ({found['agency']}, {found['status']}): "
                  f"{found['totals']['requests']} requests, {found['totals']['rows']} rows, "
                  f"{found['totals']['tiles']} tiles")
    terms = found["terms"]
    console.print(f"purpose: {terms['purpose']}; legal basis: {terms['legal_basis']}; "
                  f"{terms['starts_on']} to {terms['ends_on']}; communes: "
                  f"{', '.join(terms['communes']) or 'all'}")
    table = Table("layer", "fields shared", "requests", "rows", "tiles", "first read",
                  "last read")
    for row in found["layers"]:
        table.add_row(row["layer"], ", ".join(row["fields"]), str(row["requests"]),
                      str(row["rows"]), str(row["tiles"]), str(row["first_read"]),
                      str(row["last_read"]))
    console.print(table)


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="sharing", help="Sharing by agreement and what was shared.")

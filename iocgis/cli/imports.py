"""``iocgis imports pending|list|show|approve|reject|steward``: imports waiting for a data
steward's approval, and the decision (importers/review.py). The console acts with the
platform's database owner credentials: the operator decides for every group, and the audit
trail names them (``--user``, default ``cli:<login>``)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from iocgis.cli._security_common import operator
from iocgis.db import connect, database_url
from iocgis.layers import get_registry

console = Console()
imports_app = typer.Typer(no_args_is_help=True, add_completion=False,
                          help="Imports waiting for approval: list, show the diff, approve or "
                               "reject (with a reason).")


def _reviewer(user: str | None):  # noqa: ANN202 - review.Reviewer
    from iocgis.importers.review import Reviewer

    return Reviewer.operator(user or operator().name)


def _echo_json(body: Any) -> None:
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


def _listing(status: str | None, layer: str | None, as_json: bool) -> None:
    from iocgis.importers import review

    with connect(database_url(), autocommit=True) as conn:
        rows = [review.summary(r) for r in review.listing(conn, status, layer)]
    if as_json:
        _echo_json(rows)
        return
    table = Table(title=f"{len(rows)} import(s)" + (f" {status}" if status else ""))
    for col in ("id", "layer", "status", "by", "submitted", "expires", "file", "added",
                "removed", "changed", "decided"):
        table.add_column(col)
    for r in rows:
        d = r["diff"]
        table.add_row(str(r["import_id"]), r["layer_id"], r["status"], r["submitted_by"],
                      f"{r['submitted_at']:%Y-%m-%d %H:%M}", f"{r['expires_at']:%Y-%m-%d %H:%M}",
                      r["file"], str(d.get("added", "")), str(d.get("removed", "")),
                      str(d.get("changed", "")),
                      f"{r['decided_by']} {r['decided_at']:%Y-%m-%d %H:%M}" if r["decided_by"]
                      else "")
    console.print(table)


@imports_app.command("pending")
def pending(layer: str | None = typer.Option(None, "--layer", "-l", help="only this layer"),
            as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """The imports waiting for approval, newest first (expired ones are expired first)."""
    _listing("pending", layer, as_json)


@imports_app.command("list")
def list_reviews(status: str | None = typer.Option(
        None, "--status", help="pending, approved, rejected, withdrawn or expired (default all)"),
        layer: str | None = typer.Option(None, "--layer", "-l"),
        as_json: bool = typer.Option(False, "--json")) -> None:
    """Every reviewed import with its outcome: who decided, when, why."""
    _listing(status, layer, as_json)


@imports_app.command("show")
def show(import_id: int = typer.Argument(..., help="the import id"),
         change: str | None = typer.Option(None, "--changes",
                                           help="list rows: added, removed or changed"),
         limit: int = typer.Option(20, "--limit"), offset: int = typer.Option(0, "--offset"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """An import under review: status, quality findings, diff summary (and rows of a kind)."""
    from iocgis.importers import review

    with connect(database_url(), autocommit=True) as conn:
        review.expire_due(conn)
        found = review.get(conn, import_id)
        layer = get_registry().get(found["layer_id"])
        page = review.changes(conn, layer, import_id, change,
                              columns=(*layer.field_names, "extra"), offset=offset,
                              limit=limit) if change else None
    body = {**review.summary(found), "findings": found["report"].get("findings", [])}
    if page is not None:
        body["changes"] = page
    if as_json:
        _echo_json(body)
        return
    d = body["diff"]
    console.print(f"import {import_id} -> {body['layer_id']} ({body['status']}), "
                  f"{body['mode']} by {body['submitted_by']} at "
                  f"{body['submitted_at']:%Y-%m-%d %H:%M}; file {body['file']}")
    console.print(f"rows in {body['rows_in']}, loaded {body['rows_loaded']}, rejected "
                  f"{body['rows_rejected']}; diff: {d.get('added', 0)} added, "
                  f"{d.get('removed', 0)} removed, {d.get('changed', 0)} changed, "
                  f"{d.get('unchanged', 0)} unchanged"
                  + (f" (fields: {', '.join(f'{k} {v}' for k, v in d['fields'].items())})"
                     if d.get("fields") else ""))
    if body["decided_by"]:
        console.print(f"{body['status']} by {body['decided_by']} at "
                      f"{body['decided_at']:%Y-%m-%d %H:%M}"
                      + (f": {body['reason']}" if body["reason"] else ""))
    else:
        console.print(f"expires {body['expires_at']:%Y-%m-%d %H:%M}")
    for f in body["findings"]:
        console.print(f"  {f['severity']:7} {f['rule']}: {f['message']} ({f['count']})")
    if page is not None:
        table = Table(title=f"{page['total']} {change} (from {offset})")
        for col in ("key", "fields", "before", "after"):
            table.add_column(col)
        for row in page["rows"]:
            table.add_row(json.dumps(row["key"], ensure_ascii=False),
                          ", ".join(row.get("fields", [])),
                          json.dumps(row.get("before"), ensure_ascii=False, default=str),
                          json.dumps(row.get("after"), ensure_ascii=False, default=str))
        console.print(table)


@imports_app.command("approve")
def approve(import_id: int = typer.Argument(...),
            user: str | None = typer.Option(None, "--user",
                                            help="who approves (default cli:<login>)"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Approve a pending import: it goes live in one transaction, audited."""
    from iocgis.importers import review

    with connect(database_url(), autocommit=True) as conn:
        done = review.approve(conn, get_registry(), import_id, _reviewer(user))
    if as_json:
        _echo_json(done)
    else:
        console.print(f"import {import_id} approved by {done['decided_by']}: {done['layer_id']} "
                      f"is live, data version {done['data_version']}")


@imports_app.command("reject")
def reject(import_id: int = typer.Argument(...),
           reason: str = typer.Option("", "--reason", help="what the officer should fix "
                                                             "(required)"),
           user: str | None = typer.Option(None, "--user", help="who rejects"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Reject a pending import with a reason (its submitter: withdraw it); nothing goes live."""
    from iocgis.importers import review

    with connect(database_url(), autocommit=True) as conn:
        done = review.reject(conn, get_registry(), import_id, _reviewer(user), reason)
    if as_json:
        _echo_json(done)
    else:
        console.print(f"import {import_id} {done['status']} by {done['decided_by']}: {reason}")


@imports_app.command("steward")
def steward(name: str = typer.Argument(..., help="the account"),
            group: list[str] = typer.Option(..., "--group", "-g",
                                            help="a layer group it approves (repeat)")) -> None:
    """Set the layer groups a data steward account approves (it needs the data_steward
    role: `iocgis accounts grant NAME --role data_steward ...`)."""
    from iocgis.importers import review

    with connect(database_url(), autocommit=True) as conn:
        roles = review.set_steward_groups(conn, get_registry(), operator().name, name, group)
    console.print(f"account {name} approves imports of {', '.join(sorted(set(group)))}")
    if "data_steward" not in roles:
        console.print(f"[yellow]{name} has no data_steward role yet[/]: grant it with "
                      f"`iocgis accounts grant {name} --role data_steward`")


def register(app: typer.Typer) -> None:
    app.add_typer(imports_app, name="imports")

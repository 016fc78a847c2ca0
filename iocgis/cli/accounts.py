"""``iocgis accounts``: the account lifecycle, API keys, the review report."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from iocgis.cli._security_common import database_errors, operator, parse_when, run
from iocgis.db import connect, database_url
from iocgis.roles import dbroles
from iocgis.security import accounts as acc
from iocgis.security import login, review
from iocgis.settings import get_settings

console = Console()
app = typer.Typer(help="Create, grant, lock, unlock, revoke, expire and reset accounts.",
                  no_args_is_help=True)
apikey_app = typer.Typer(help="Long-lived API keys for machine clients.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")

ROLES_HELP = ("role: public, viewer, analyst, gis_officer, data_steward or admin "
              "(repeat for several)")
GROUPS_HELP = ("with --role data_steward: a layer group whose imports it approves (repeat; "
               "as `iocgis imports steward`)")


def _check_groups(roles: list[str], groups: list[str] | None) -> list[str] | None:
    """The steward groups asked for, checked before the account changes."""
    from iocgis.importers import review
    from iocgis.layers import get_registry

    return review.steward_groups_for(get_registry(), roles, groups or None)


def _groups_said(name: str, groups: list[str] | None) -> None:
    if groups:
        console.print(f"account {name} approves imports of {', '.join(groups)}")


def _security():  # noqa: ANN202 - SecuritySettings
    return get_settings().security


def _show_secret(secret: acc.NewSecret) -> None:
    if secret.password:
        console.print(f"temporary password (shown once, to change at first login): "
                      f"[bold]{secret.password}[/]")
    if secret.totp_secret:
        console.print(f"TOTP secret (shown once): [bold]{secret.totp_secret}[/]")
        console.print(f"authenticator URI: {secret.totp_uri}")


def _mirror_db_login(name: str) -> None:
    """A lock, revocation or expiry reaches the PostgreSQL login role at once."""
    with database_errors(), connect(database_url(), autocommit=True) as conn:
        changed = dbroles.sync_logins(conn, _security(), only=name)
    for role, state in changed.items():
        console.print(f"database login {role}: {state}")


@app.command()
def create(name: str, role: list[str] = typer.Option(["viewer"], "--role", "-r", help=ROLES_HELP),
           full_name: str = typer.Option("", help="the person's name"),
           email: str | None = typer.Option(None),
           pii: bool = typer.Option(False, "--pii", help="grant the personal-data right"),
           commune: list[str] = typer.Option([], help="limit to these communes (5-digit codes)"),
           totp: bool = typer.Option(False, "--totp", help="enrol TOTP (always for admin)"),
           password_stdin: bool = typer.Option(False, "--password-stdin",
                                               help="read the password from standard input "
                                                    "(else a temporary one is generated)"),
           expires: str | None = typer.Option(None, help="the account stops working then"),
           group: list[str] | None = typer.Option(None, "--group", "-g", help=GROUPS_HELP)) -> None:
    """Create an account; it must change its password at the first login."""
    groups = _check_groups(role, group)
    password = typer.get_text_stream("stdin").readline().rstrip("\n") if password_stdin else None
    secret = run(lambda conn: acc.create(
        conn, _security(), operator(), name=name, roles=role, password=password,
        full_name=full_name, email=email, pii=pii, communes=commune, with_totp=totp,
        expires_at=parse_when(expires, option="--expires"), steward_groups=groups or ()))
    console.print(f"account {name} created with role(s) {', '.join(sorted(set(role)))}")
    _show_secret(secret)
    _groups_said(name, groups)


@app.command()
def grant(name: str, role: list[str] = typer.Option(..., "--role", "-r", help=ROLES_HELP),
          pii: bool | None = typer.Option(None, "--pii/--no-pii",
                                             help="grant or withdraw the personal-data right"),
          commune: list[str] | None = typer.Option(None, help="limit to these communes"),
          group: list[str] | None = typer.Option(None, "--group", "-g", help=GROUPS_HELP)) -> None:
    """Set the account's roles (its sessions end; the next login carries the new rights)."""
    groups = _check_groups(role, group)
    secret = run(lambda conn: acc.grant(conn, _security(), operator(), name, roles=role, pii=pii,
                                        communes=commune or None, steward_groups=groups))
    console.print(f"account {name}: role(s) {', '.join(sorted(set(role)))}")
    _show_secret(secret)
    _groups_said(name, groups)
    _mirror_db_login(name)


def _status(name: str, status: str, reason: str | None) -> None:
    run(lambda conn: acc.set_status(conn, operator(), name, status, reason))
    console.print(f"account {name}: {status}")
    _mirror_db_login(name)


@app.command()
def lock(name: str, reason: str | None = typer.Option(None)) -> None:
    """Lock an account: its sessions, API keys and database login stop at once."""
    _status(name, "locked", reason)


@app.command()
def unlock(name: str, reason: str | None = typer.Option(None)) -> None:
    """Unlock a locked or disabled account."""
    _status(name, "active", reason)


@app.command()
def revoke(name: str, reason: str | None = typer.Option(None),
           yes: bool = typer.Option(False, "--yes", help="do not ask")) -> None:
    """Revoke an account for good (and all its API keys)."""
    if not yes:
        typer.confirm(f"Revoke {name} for good?", abort=True)
    _status(name, "revoked", reason)


@app.command()
def expire(name: str, at: str | None = typer.Option(None, help="when (default: now)")) -> None:
    """Set the date the account stops working (now by default)."""
    when = parse_when(at, option="--at")
    run(lambda conn: acc.expire(conn, operator(), name, when))
    console.print(f"account {name} expires {when.isoformat() if when else 'now'}")
    _mirror_db_login(name)


@app.command()
def reset(name: str, totp: bool = typer.Option(False, "--totp", help="also a new TOTP secret")) -> None:
    """A new temporary password (and optionally TOTP); the account's sessions end."""
    secret = run(lambda conn: acc.reset(conn, _security(), operator(), name, new_totp=totp))
    _show_secret(secret)


@app.command()
def passwd(name: str, password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the new password from standard input")) -> None:
    """Set an account's password under the policy (last passwords may not be reused)."""
    new = typer.get_text_stream("stdin").readline().rstrip("\n") if password_stdin else \
        typer.prompt("new password", hide_input=True, confirmation_prompt=True)

    async def work(conn):  # noqa: ANN001, ANN202
        account = await acc.get(conn, name)
        await acc.change_password(conn, _security(), operator(), account["id"], name,
                                  account["has_totp"], new)

    run(work)
    console.print(f"password of {name} changed")


@app.command()
def dblogin(name: str) -> None:
    """Open direct PostgreSQL access (QGIS) for an account: prints the login and password."""
    with database_errors(), connect(database_url(), autocommit=True) as conn:
        role, password = dbroles.open_login(conn, _security(), name)
    console.print(f"database login [bold]{role}[/] password (shown once): [bold]{password}[/]")
    console.print("run `iocgis db roles sync` after adding layers so the grants follow them")


def _fmt(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


@app.command("list")
def list_accounts(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every account with its roles, rights and state."""
    rows = run(acc.list_all)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, default=str, indent=1))
        return
    table = Table(title=f"{len(rows)} accounts")
    for col in ("name", "roles", "pii", "communes", "steward of", "status", "totp",
                "last login", "API keys"):
        table.add_column(col)
    for r in rows:
        status = r["status"] + (f" ({r['status_reason']})" if r["status_reason"] else "")
        table.add_row(r["name"], _fmt(r["roles"]), "yes" if r["pii"] else "-",
                      _fmt(r["commune_codes"]), _fmt(r["steward_groups"]), status,
                      "yes" if r["has_totp"] else "-", _fmt(r["last_login_at"]),
                      str(r["api_keys"]))
    console.print(table)


@app.command("review")
def review_cmd(as_json: bool = typer.Option(False, "--json"),
               mark_reviewed: bool = typer.Option(False, "--mark-reviewed",
                                                  help="record that every account was reviewed")
               ) -> None:
    """The periodic account and permission review report."""
    report = run(lambda conn: review.report(conn, _security()))
    if mark_reviewed:
        count = run(lambda conn: review.mark_reviewed(conn, operator()))
        console.print(f"{count} accounts marked reviewed")
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, default=str, indent=1))
        return
    table = Table(title=f"account review {report['generated_at']:%Y-%m-%d %H:%M} UTC: "
                        f"{report['with_findings']} with findings")
    for col in ("name", "roles", "max level", "pii", "status", "last seen", "findings"):
        table.add_column(col)
    for e in report["accounts"]:
        table.add_row(e["name"], _fmt(e["roles"]), e["max_sensitivity"],
                      "yes" if e["pii"] else "-", e["status"], _fmt(e["last_seen_at"]),
                      "; ".join(e["findings"]) or "-")
    console.print(table)


@app.command("disable-inactive")
def disable_inactive() -> None:
    """Disable the accounts unused for the configured days (45 by default); run it daily."""
    names = run(lambda conn: acc.disable_inactive(conn, _security(), operator()))
    console.print(f"{len(names)} account(s) disabled" + (f": {', '.join(names)}" if names else ""))
    for name in names:
        _mirror_db_login(name)


@apikey_app.command("create")
def apikey_create(name: str, label: str = typer.Option("", help="what the key is for"),
                  days: int | None = typer.Option(None, min=1, max=3660,
                                                     help="valid for this many days"),
                  network: list[str] = typer.Option([], help="allowed networks (CIDR); "
                                                             "default: the internal networks")
                  ) -> None:
    """A new API key for a machine client (shown once)."""
    key, key_id = run(lambda conn: login.create_api_key(conn, operator(), name, label=label,
                                                        days=days, networks=network or None))
    console.print(f"API key {key_id} for {name} (shown once): [bold]{key}[/]")
    console.print("send it as the header  X-API-Key: <key>")


@apikey_app.command("list")
def apikey_list(name: str) -> None:
    keys = run(lambda conn: login.list_api_keys(conn, name))
    table = Table(title=f"API keys of {name}")
    for col in ("id", "prefix", "label", "networks", "created", "expires", "last used", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(str(k["id"]), k["prefix"], k["label"] or "-", _fmt(k["networks"]),
                      _fmt(k["created_at"]), _fmt(k["expires_at"]), _fmt(k["last_used_at"]),
                      _fmt(k["revoked_at"]))
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(key_id: int) -> None:
    """Revoke an API key: refused from the next request on."""
    name = run(lambda conn: login.revoke_api_key(conn, operator(), key_id))
    console.print(f"API key {key_id} of {name} revoked")


def register(main: typer.Typer) -> None:
    main.add_typer(app, name="accounts", help="Accounts, roles, API keys and the review report.")

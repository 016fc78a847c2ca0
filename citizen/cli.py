"""``iocgis citizen``: deadlines, key rotation, retention and erasure, republishing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import psycopg
import typer
from rich.console import Console

from iocgis.citizen import identity, sla
from iocgis.citizen.calendar import WorkingCalendar
from iocgis.citizen.definitions import get_process
from iocgis.citizen.keyring import keys_path, load_keyring, write_keyring
from iocgis.db import connect, database_url
from iocgis.errors import ConfigError, InvalidInput
from iocgis.settings import get_settings

console = Console(stderr=True)
app = typer.Typer(help="Citizen reports: deadlines, keys, retention.", no_args_is_help=True)


def _at(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{value!r} is not a date and time", where="--at",
                           hint="e.g. 2026-03-02T08:00:00+07:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("sla-check")
def sla_check(at: str | None = typer.Option(None, help="as of (default now)")) -> None:
    """Raise the overdue and escalation alerts due now (run it from cron, e.g. hourly)."""
    process = get_process()
    calendar = WorkingCalendar.from_strings(process.routing.extra_days_off)

    async def run() -> list[sla.Alert]:
        async with await psycopg.AsyncConnection.connect(database_url(), autocommit=True) as c:
            async with c.transaction():
                return await sla.scan(c, process, calendar, _at(at), actor="iocgis citizen")

    raised = asyncio.run(run())
    for alert in raised:
        console.print(f"{alert.kind:9} level {alert.level} {alert.report_code} -> "
                      f"{alert.unit_code} ({alert.working_days_late} working days late)")
    console.print(f"{len(raised)} new alert(s)")


@app.command("rotate-key")
def rotate_key(keep_old: bool = typer.Option(False, help="keep the old keys for decryption"),
               pseudonym: bool = typer.Option(False, help="also a new pseudonym key (every "
                                                          "pseudonym is recomputed)")) -> None:
    """A new encryption key: every identity re-encrypted, the old key retired."""
    import secrets

    settings = get_settings()
    keyring = load_keyring(settings, create=False)
    if keyring.source != str(keys_path(settings)):
        raise ConfigError("the keys come from IOCGIS_CITIZEN_KEYS: rotate them there",
                          where=keyring.source, hint="print a new set with --help of your "
                          "secret manager, or unset the variable to use the key file")
    with connect(database_url(), autocommit=True) as conn:
        rotated, report = identity.rotate(
            conn, keyring, retire=not keep_old,
            pseudonym_key=secrets.token_bytes(32) if pseudonym else None)
    # The database already uses the new key: write it before anything else can fail.
    write_keyring(keys_path(settings), rotated)
    console.print(f"new key {report.new_key}: {report.reencrypted} identities re-encrypted"
                  + (f", {report.pseudonyms} pseudonyms recomputed" if pseudonym else "")
                  + (f"; retired {', '.join(report.retired)}" if report.retired else ""))


@app.command()
def retention(apply: bool = typer.Option(False, help="delete (default: count only)"),
              at: str | None = typer.Option(None, help="as of (default now)")) -> None:
    """Apply privacy.yaml's retention (Law 91/2025): identities and photo locations of old
    closed or rejected reports."""
    with connect(database_url(), autocommit=True) as conn:
        result = identity.retention(conn, get_process(), _at(at), apply=apply)
    console.print(json.dumps({**result, "applied": apply}, ensure_ascii=False))


@app.command()
def forget(contact: str = typer.Argument(..., help="the reporter's phone or e-mail")) -> None:
    """Erase a reporter's identity from all their reports (the right to erasure)."""
    from iocgis.citizen.intake import normal_email, normal_phone

    normal = normal_email(contact) if "@" in contact else normal_phone(contact)
    with connect(database_url(), autocommit=True) as conn:
        count = identity.forget(conn, load_keyring(get_settings(), create=False), normal or "",
                                actor="iocgis citizen")
    console.print(f"identity erased from {count} report(s)")


@app.command("seal-imported")
def seal_imported() -> None:
    """Case files for imported reports: their identities encrypted, the plaintext emptied."""
    process = get_process()
    with connect(database_url(), autocommit=True) as conn:
        count = identity.seal_imported(conn, load_keyring(get_settings()), process,
                                       WorkingCalendar.from_strings(
                                           process.routing.extra_days_off),
                                       actor="iocgis citizen")
    console.print(f"{count} imported report(s) sealed")


@app.command()
def republish() -> None:
    """Write citizen.reports and citizen.public_reports again from the case file (after an
    import replaced citizen.reports, say)."""
    with connect(database_url(), autocommit=True) as conn:
        count = conn.execute("UPDATE citizen_private.cases SET updated_at = updated_at").rowcount
    console.print(f"{count} report(s) republished")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="citizen")

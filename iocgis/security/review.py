"""The periodic account and permission review: who holds which rights, and what to look at."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.access import Caller
from iocgis.security import audit
from iocgis.security.accounts import Actor, needs_totp
from iocgis.security.settings import SecuritySettings


def _findings(account: dict[str, Any], now: datetime, s: SecuritySettings) -> list[str]:
    findings = []
    last = account["last_seen_at"] or account["last_login_at"]
    if account["status"] == "active":
        if needs_totp(account["roles"], s) and not account["has_totp"]:
            findings.append("role requires TOTP but none is enrolled")
        if last is None:
            findings.append("never used")
        elif last < now - timedelta(days=max(1, s.inactive_disable_days // 2)):
            findings.append(f"unused since {last:%Y-%m-%d}")
        if "admin" in account["roles"] and account["password_changed_at"] and \
                account["password_changed_at"] < now - timedelta(days=s.admin_password_max_age_days):
            findings.append("admin password older than the rotation period")
        if account["expires_at"] is None and "admin" not in account["roles"]:
            pass  # open-ended accounts are normal for staff; reviewed by the owner below
        if account["pii"]:
            findings.append("holds the personal-data right: confirm it is still needed")
    if account["reviewed_at"] is None or account["reviewed_at"] < now - timedelta(
            days=s.review_interval_days):
        findings.append("not reviewed in the last review period")
    return findings


async def report(conn: psycopg.AsyncConnection, settings: SecuritySettings) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT a.name, a.full_name, a.roles, a.pii, a.commune_codes, a.status, a.status_reason, "
        "a.expires_at, a.totp_secret IS NOT NULL AS has_totp, a.last_login_at, a.last_seen_at, "
        "a.password_changed_at, a.reviewed_at, a.created_at, a.created_by, "
        "(SELECT count(*) FROM security.api_keys k WHERE k.account_id = a.id "
        " AND k.revoked_at IS NULL) AS api_keys, now() AS now "
        "FROM security.accounts a ORDER BY a.name")
    rows = await cur.fetchall()
    now = rows[0]["now"] if rows else datetime.now().astimezone()
    entries = []
    for row in rows:
        entries.append({**{k: v for k, v in row.items() if k != "now"},
                        # the highest level the account's roles read (with a second factor)
                        "max_sensitivity": Caller(roles=frozenset(row["roles"])).level,
                        "findings": _findings(row, now, settings)})
    by_role: dict[str, int] = {}
    for entry in entries:
        if entry["status"] == "active":
            for role in entry["roles"]:
                by_role[role] = by_role.get(role, 0) + 1
    return {"generated_at": now, "accounts": entries, "active_by_role": by_role,
            "with_findings": sum(1 for e in entries if e["findings"])}


async def mark_reviewed(conn: psycopg.AsyncConnection, actor: Actor,
                        names: list[str] | None = None) -> int:
    """Record that the listed (or all) accounts were reviewed by ``actor``."""
    cur = await conn.execute(
        "UPDATE security.accounts SET reviewed_at = now() WHERE %s::text[] IS NULL "
        "OR name = ANY(%s::text[]) RETURNING name", (names, names))
    reviewed = [r[0] for r in await cur.fetchall()]
    await audit.record(conn, actor=actor.name, action="account.review", client=actor.client,
                       details={"accounts": reviewed})
    return len(reviewed)

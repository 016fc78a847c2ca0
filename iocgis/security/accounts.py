"""Account lifecycle: create, grant, lock, unlock, revoke, expire, reset, change password.

One async implementation serves the admin API (pool connections) and the CLI (``asyncio.run``);
every change is written to the audit trail with who did it and from where.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.access import ROLE_RIGHTS
from iocgis.db import expect_row
from iocgis.errors import Forbidden, InvalidInput, NotFound
from iocgis.security import audit, passwords, totp
from iocgis.security.settings import SecuritySettings

NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{1,62}$")
COMMUNE_RE = re.compile(r"^\d{5}$")
ACCOUNT_COLUMNS = ("id, name, full_name, email, roles, pii, commune_codes, steward_groups, "
                   "status, status_reason, "
                   "locked_until, expires_at, password_changed_at, must_change_password, "
                   "totp_secret IS NOT NULL AS has_totp, failed_logins, last_login_at, "
                   "last_seen_at, db_login, reviewed_at, created_at, created_by")


@dataclass(frozen=True)
class Actor:
    """Who makes a change and from where, for the audit trail."""

    name: str
    client: str | None = None


@dataclass(frozen=True)
class NewSecret:
    """What is shown once after a create or reset: a temporary password, a TOTP enrolment."""

    password: str | None = None
    totp_secret: str | None = None
    totp_uri: str | None = None


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidInput(f"invalid account name {str(name)[:80]!r}", where="name",
                           hint="2-63 characters: lower-case letters, digits, '.', '_' or '-', "
                                "starting with a letter")
    return name


def check_roles(roles: list[str] | tuple[str, ...]) -> list[str]:
    unknown = sorted({r for r in roles} - set(ROLE_RIGHTS))
    if not roles or unknown:
        raise InvalidInput(f"unknown role(s) {unknown or roles}", where="roles",
                           hint=f"choose from {', '.join(ROLE_RIGHTS)}")
    return sorted(set(roles))


def check_communes(codes: list[str] | tuple[str, ...]) -> list[str]:
    bad = [c for c in codes if not COMMUNE_RE.match(c)]
    if bad:
        raise InvalidInput(f"invalid commune code(s) {bad[:5]}", where="communes",
                           hint="use the official 5-digit commune codes")
    return sorted(set(codes))


def needs_totp(roles: list[str] | frozenset[str], settings: SecuritySettings) -> bool:
    return bool(set(roles) & set(settings.totp_required_roles))


async def get(conn: psycopg.AsyncConnection, name: str) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {ACCOUNT_COLUMNS} FROM security.accounts WHERE name = %s",
                      (check_name(name),))
    row = await cur.fetchone()
    if row is None:
        raise NotFound(f"no account {name!r}", where="name",
                       hint="list the accounts with `iocgis accounts list`")
    return row


async def list_all(conn: psycopg.AsyncConnection) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(f"SELECT {ACCOUNT_COLUMNS}, (SELECT count(*) FROM security.api_keys k "
                      "WHERE k.account_id = a.id AND k.revoked_at IS NULL) AS api_keys "
                      "FROM security.accounts a ORDER BY name")
    return await cur.fetchall()


async def _hash(password: str) -> str:
    return await asyncio.to_thread(passwords.hash_password, password)


async def create(conn: psycopg.AsyncConnection, settings: SecuritySettings, actor: Actor, *,
                 name: str, roles: list[str], password: str | None = None,
                 full_name: str = "", email: str | None = None, pii: bool = False,
                 communes: list[str] | tuple[str, ...] = (), with_totp: bool = False,
                 expires_at: datetime | None = None,
                 steward_groups: list[str] | tuple[str, ...] = ()) -> NewSecret:
    """A new account; TOTP is enrolled when the role requires it or when asked.
    ``steward_groups``: the layer groups a data steward approves imports of (checked against
    the registry by the caller: ``iocgis.importers.review.steward_groups_for``)."""
    check_name(name)
    roles = check_roles(roles)
    communes = check_communes(communes)
    secret = totp.new_secret() if (with_totp or needs_totp(roles, settings)) else None
    generated = password is None
    password = password if password is not None else passwords.generate_password()
    passwords.check_policy(password, has_totp=secret is not None, account_name=name,
                           settings=settings)
    password_hash = await _hash(password)
    try:
        cur = await conn.execute(
            "INSERT INTO security.accounts (name, full_name, email, roles, pii, commune_codes, "
            "steward_groups, password_hash, password_changed_at, must_change_password, "
            "totp_secret, expires_at, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now(), "
            "true, %s, %s, %s) RETURNING id",
            (name, full_name, email, roles, pii, communes, list(steward_groups), password_hash,
             secret, expires_at, actor.name))
    except psycopg.errors.UniqueViolation:
        raise InvalidInput(f"an account {name!r} already exists", where="name",
                           hint="choose another name, or reset that account") from None
    (account_id,) = expect_row(await cur.fetchone())
    await conn.execute("INSERT INTO security.password_history (account_id, password_hash) "
                       "VALUES (%s, %s)", (account_id, password_hash))
    await audit.record(conn, actor=actor.name, action="account.create", target=name,
                       client=actor.client, details={"roles": roles, "pii": pii,
                                                     "communes": communes,
                                                     "steward_groups": list(steward_groups),
                                                     "totp": secret is not None})
    return NewSecret(password=password if generated else None, totp_secret=secret,
                     totp_uri=totp.provisioning_uri(secret, name, settings.totp_issuer)
                     if secret else None)


async def grant(conn: psycopg.AsyncConnection, settings: SecuritySettings, actor: Actor,
                name: str, *, roles: list[str], pii: bool | None = None,
                communes: list[str] | None = None,
                steward_groups: list[str] | None = None) -> NewSecret:
    """Set the account's roles (and the personal-data right, commune scope, the layer groups
    a data steward approves: ``None`` keeps each as it is)."""
    account = await get(conn, name)
    roles = check_roles(roles)
    secret = None
    if needs_totp(roles, settings) and not account["has_totp"]:
        secret = totp.new_secret()  # the new role needs a second factor: enrol it now
    await conn.execute(
        "UPDATE security.accounts SET roles = %s, pii = coalesce(%s, pii), "
        "commune_codes = coalesce(%s, commune_codes), totp_secret = coalesce(%s, totp_secret), "
        "steward_groups = coalesce(%s, steward_groups), updated_at = now() WHERE id = %s",
        (roles, pii, check_communes(communes) if communes is not None else None, secret,
         steward_groups, account["id"]))
    # A change of rights ends the account's sessions: the next token carries the new rights.
    await _end_sessions(conn, account["id"], "rights changed")
    await audit.record(conn, actor=actor.name, action="account.grant", target=name,
                       client=actor.client,
                       details={"roles": roles, "previous_roles": account["roles"], "pii": pii,
                                "communes": communes, "steward_groups": steward_groups})
    return NewSecret(totp_secret=secret, totp_uri=totp.provisioning_uri(
        secret, name, settings.totp_issuer) if secret else None)


async def _end_sessions(conn: psycopg.AsyncConnection, account_id: int, reason: str) -> None:
    await conn.execute("UPDATE security.sessions SET revoked_at = now(), revoked_reason = %s "
                       "WHERE account_id = %s AND revoked_at IS NULL", (reason, account_id))


async def set_status(conn: psycopg.AsyncConnection, actor: Actor, name: str, status: str,
                     reason: str | None = None) -> None:
    """lock / unlock (active) / revoke / disable; anything but active ends sessions and keys
    at once (revocation also revokes the API keys for good). The ``account.unlock`` record
    also releases every address locked out by failed logins (``throttle``)."""
    account = await get(conn, name)
    if account["status"] == "revoked" and status != "revoked":
        raise Forbidden(f"account {name!r} is revoked for good", where="name",
                        hint="create a new account instead")
    await conn.execute(
        "UPDATE security.accounts SET status = %s, status_reason = %s, locked_until = NULL, "
        "failed_logins = CASE WHEN %s = 'active' THEN 0 ELSE failed_logins END, "
        "last_seen_at = CASE WHEN %s = 'active' THEN now() ELSE last_seen_at END, "
        "updated_at = now() WHERE id = %s",
        (status, reason, status, status, account["id"]))
    if status != "active":
        await _end_sessions(conn, account["id"], status)
    if status == "revoked":
        await conn.execute("UPDATE security.api_keys SET revoked_at = now() "
                           "WHERE account_id = %s AND revoked_at IS NULL", (account["id"],))
    action = {"active": "account.unlock", "locked": "account.lock", "revoked": "account.revoke",
              "disabled": "account.disable"}[status]
    await audit.record(conn, actor=actor.name, action=action, target=name, client=actor.client,
                       details={"reason": reason, "previous_status": account["status"]})


async def expire(conn: psycopg.AsyncConnection, actor: Actor, name: str,
                 at: datetime | None) -> None:
    """The account stops working at ``at`` (now when None)."""
    account = await get(conn, name)
    await conn.execute("UPDATE security.accounts SET expires_at = coalesce(%s, now()), "
                       "updated_at = now() WHERE id = %s", (at, account["id"]))
    if at is None:
        await _end_sessions(conn, account["id"], "expired")
    await audit.record(conn, actor=actor.name, action="account.expire", target=name,
                       client=actor.client, details={"at": at.isoformat() if at else "now"})


async def reset(conn: psycopg.AsyncConnection, settings: SecuritySettings, actor: Actor,
                name: str, *, new_totp: bool = False) -> NewSecret:
    """A temporary password (to change at the next login), optionally a new TOTP secret."""
    account = await get(conn, name)
    secret = totp.new_secret() if new_totp else None
    password = passwords.generate_password()
    await conn.execute(
        "UPDATE security.accounts SET password_hash = %s, password_changed_at = now(), "
        "must_change_password = true, totp_secret = coalesce(%s, totp_secret), "
        "totp_last_step = CASE WHEN %s::text IS NULL THEN totp_last_step END, failed_logins = 0, "
        "updated_at = now() WHERE id = %s",
        (await _hash(password), secret, secret, account["id"]))
    await _end_sessions(conn, account["id"], "password reset")
    await audit.record(conn, actor=actor.name, action="account.reset", target=name,
                       client=actor.client, details={"totp": new_totp})
    return NewSecret(password=password, totp_secret=secret, totp_uri=totp.provisioning_uri(
        secret, name, settings.totp_issuer) if secret else None)


async def change_password(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                          actor: Actor, account_id: int, name: str, has_totp: bool,
                          new_password: str) -> None:
    """Set a new password under the policy, refusing the last N ones."""
    passwords.check_policy(new_password, has_totp=has_totp, account_name=name, settings=settings)
    cur = await conn.execute("SELECT password_hash FROM security.password_history "
                             "WHERE account_id = %s ORDER BY changed_at DESC LIMIT %s",
                             (account_id, settings.password_history))
    previous = [r[0] for r in await cur.fetchall()]
    for old_hash in previous:
        if await asyncio.to_thread(passwords.same_password, old_hash, new_password):
            raise InvalidInput(f"this password was used recently; the last "
                               f"{settings.password_history} may not be reused",
                               where="new_password", hint="choose a password not used before")
    new_hash = await _hash(new_password)
    await conn.execute("UPDATE security.accounts SET password_hash = %s, password_changed_at = "
                       "now(), must_change_password = false, updated_at = now() WHERE id = %s",
                       (new_hash, account_id))
    await conn.execute("INSERT INTO security.password_history (account_id, password_hash) "
                       "VALUES (%s, %s)", (account_id, new_hash))
    await conn.execute("DELETE FROM security.password_history WHERE account_id = %s AND "
                       "changed_at < (SELECT min(changed_at) FROM (SELECT changed_at FROM "
                       "security.password_history WHERE account_id = %s ORDER BY changed_at "
                       "DESC LIMIT %s) AS kept)",
                       (account_id, account_id, max(settings.password_history, 1)))
    await audit.record(conn, actor=actor.name, action="account.password", target=name,
                       client=actor.client)


async def disable_inactive(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                           actor: Actor = Actor("system")) -> list[str]:
    """Disable the accounts unused for ``inactive_disable_days`` (45 by default)."""
    cur = await conn.execute(
        "UPDATE security.accounts SET status = 'disabled', status_reason = %s, updated_at = now() "
        "WHERE status = 'active' AND coalesce(last_seen_at, last_login_at, created_at) "
        "< now() - make_interval(days => %s) RETURNING id, name",
        (f"unused for {settings.inactive_disable_days} days", settings.inactive_disable_days))
    disabled = await cur.fetchall()
    for account_id, name in disabled:
        await _end_sessions(conn, account_id, "disabled: unused")
        await audit.record(conn, actor=actor.name, action="account.disable", target=name,
                           client=actor.client,
                           details={"reason": f"unused for {settings.inactive_disable_days} days"})
    return [name for _, name in disabled]

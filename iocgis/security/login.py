"""Logins, sessions and API keys: from credentials to a ``Caller``.

Lockout after N failures, TOTP where the role or the network demands it, admin password
rotation, inactivity disable, idle timeouts: all decided here, all written to the audit trail.
"""

from __future__ import annotations

import asyncio
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.access import Caller
from iocgis.errors import Forbidden, InvalidInput, Unauthorized
from iocgis.security import audit, passwords, tokens, totp
from iocgis.security.accounts import NAME_RE, Actor, needs_totp
from iocgis.security.settings import SecuritySettings, in_networks

REFUSED = "wrong account name, password or one-time code, or the account is locked"
REFUSED_HINT = "check them; after {n} failures the account is locked - ask an administrator"


class MfaRequired(Unauthorized):
    code = "MfaRequired"


class PasswordChangeRequired(Forbidden):
    code = "PasswordChangeRequired"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    session_id: str

    def as_dict(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "token_type": "bearer",
                "expires_in": self.expires_in, "refresh_token": self.refresh_token,
                "refresh_expires_in": self.refresh_expires_in}


def caller_from(account: dict[str, Any], client: str | None, *, auth: str,
                session_id: str | None = None, mfa: bool = False) -> Caller:
    return Caller(name=account["name"], roles=frozenset(account["roles"]),
                  pii=bool(account["pii"]), commune_codes=frozenset(account["commune_codes"]),
                  client=client, account_id=account["id"], session_id=session_id, auth=auth,
                  mfa=mfa)


async def _fetch_for_login(conn: psycopg.AsyncConnection, name: str) -> dict[str, Any] | None:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT id, name, roles, pii, commune_codes, status, locked_until, expires_at, "
        "password_hash, password_changed_at, must_change_password, totp_secret, totp_last_step, "
        "failed_logins, coalesce(last_seen_at, last_login_at, created_at) AS last_active, "
        "now() AS now FROM security.accounts WHERE name = %s", (name,))
    return await cur.fetchone()


async def _fail(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                account: dict[str, Any] | None, name: str, client: str | None,
                reason: str) -> Unauthorized:
    """Count the failure, lock at the threshold, log it; the caller learns nothing more."""
    details: dict[str, Any] = {"reason": reason}
    if account is not None and account["status"] == "active":
        cur = await conn.execute(
            "UPDATE security.accounts SET failed_logins = failed_logins + 1 WHERE id = %s "
            "RETURNING failed_logins", (account["id"],))
        (failures,) = await cur.fetchone()
        details["failures"] = failures
        if failures >= settings.lockout_threshold:
            until = (f"now() + make_interval(mins => {int(settings.lockout_minutes)})"
                     if settings.lockout_minutes else "NULL")
            await conn.execute(
                f"UPDATE security.accounts SET status = 'locked', locked_until = {until}, "
                "status_reason = %s WHERE id = %s",
                (f"{failures} failed logins", account["id"]))
            await audit.record(conn, actor=name, action="auth.lockout", outcome="denied",
                               target=name, client=client, details={"failures": failures})
    await audit.record(conn, actor=name[:64] if NAME_RE.match(name) else "?", action="auth.login",
                       outcome="failed", target=name[:64], client=client, details=details)
    return Unauthorized(REFUSED, where="login",
                        hint=REFUSED_HINT.format(n=settings.lockout_threshold))


async def authenticate(conn: psycopg.AsyncConnection, settings: SecuritySettings, *,
                       name: str, password: str, totp_code: str | None,
                       client: str | None) -> tuple[dict[str, Any], bool]:
    """The account and whether a second factor was used, or Unauthorized (logged).

    Autocommit statements, each atomic: a failure's count and its audit record must survive
    the refusal (a transaction would roll them back with it).
    """
    name = (name or "").strip().lower()
    if not NAME_RE.match(name) or not password or len(password) > 1024:
        await asyncio.to_thread(passwords.verify_password, None, (password or "x")[:1024])
        raise await _fail(conn, settings, None, name[:64], client, "malformed credentials")
    account = await _fetch_for_login(conn, name)
    if account is None:
        await asyncio.to_thread(passwords.verify_password, None, password)
        raise await _fail(conn, settings, None, name, client, "unknown account")
    if account["status"] == "locked" and account["locked_until"] is not None \
            and account["locked_until"] <= account["now"]:
        await conn.execute("UPDATE security.accounts SET status = 'active', failed_logins = 0, "
                           "locked_until = NULL, status_reason = NULL "
                           "WHERE id = %s AND status = 'locked'", (account["id"],))
        account = {**account, "status": "active", "failed_logins": 0}
    if account["status"] != "active":
        # No password check while locked: brute force gets no signal at all.
        raise await _fail(conn, settings, account, name, client, f"account {account['status']}")
    if account["expires_at"] is not None and account["expires_at"] <= account["now"]:
        raise await _fail(conn, settings, account, name, client, "account expired")
    if account["last_active"] < account["now"] - timedelta(days=settings.inactive_disable_days):
        await conn.execute("UPDATE security.accounts SET status = 'disabled', status_reason = %s "
                           "WHERE id = %s", (f"unused for {settings.inactive_disable_days} days",
                                             account["id"]))
        await audit.record(conn, actor="system", action="account.disable", target=name,
                           client=client, details={"reason": "unused"})
        raise await _fail(conn, settings, None, name, client, "account unused: disabled")
    ok = await asyncio.to_thread(passwords.verify_password, account["password_hash"], password)
    if not ok:
        raise await _fail(conn, settings, account, name, client, "wrong password")
    internal = settings.is_internal(client)
    mfa_needed = needs_totp(account["roles"], settings) or not internal
    used_mfa = False
    if account["totp_secret"] and totp_code:
        step = totp.verify(account["totp_secret"], totp_code, account["totp_last_step"])
        if step is not None:  # atomic: two logins racing with one code, one wins
            cur = await conn.execute(
                "UPDATE security.accounts SET totp_last_step = %s WHERE id = %s AND "
                "(totp_last_step IS NULL OR totp_last_step < %s) RETURNING id",
                (step, account["id"], step))
            step = step if await cur.fetchone() else None
        if step is None:
            raise await _fail(conn, settings, account, name, client, "wrong one-time code")
        used_mfa = True
    if mfa_needed and not used_mfa:
        await audit.record(conn, actor=name, action="auth.login", outcome="denied", target=name,
                           client=client, details={"reason": "one-time code required",
                                                   "outside_network": not internal})
        if not account["totp_secret"]:
            raise MfaRequired("a one-time code is required from outside the organisation's "
                              "networks, and this account has no TOTP enrolled", where="totp",
                              hint="enrol TOTP from inside the network (ask an administrator "
                                   "for `iocgis accounts reset NAME --totp`)")
        raise MfaRequired("a one-time code (TOTP) is required for this login", where="totp",
                          hint="send the 6-digit code of your authenticator app as 'totp'")
    await conn.execute("UPDATE security.accounts SET failed_logins = 0, last_login_at = now(), "
                       "last_seen_at = now() WHERE id = %s", (account["id"],))
    return account, used_mfa


def check_password_fresh(account: dict[str, Any], settings: SecuritySettings) -> None:
    """A temporary password, or an admin password older than the rotation, must be changed."""
    if account["must_change_password"]:
        raise PasswordChangeRequired("the password must be changed before the first use",
                                     where="password", hint="POST /auth/password with the new one "
                                                            "(or `iocgis accounts passwd`)")
    if "admin" in account["roles"] and account["password_changed_at"] is not None and \
            account["password_changed_at"] < account["now"] - timedelta(
                days=settings.admin_password_max_age_days):
        raise PasswordChangeRequired(
            f"admin passwords are rotated every {settings.admin_password_max_age_days} days; "
            "this one has expired", where="password", hint="POST /auth/password with a new one")


async def open_session(conn: psycopg.AsyncConnection, settings: SecuritySettings, key: bytes,
                       account: dict[str, Any], *, mfa: bool, client: str | None) -> TokenPair:
    session_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    await conn.execute("INSERT INTO security.sessions (id, account_id, expires_at, mfa, client) "
                       "VALUES (%s, %s, now() + make_interval(hours => %s), %s, %s)",
                       (session_id, account["id"], settings.session_max_hours, mfa, client))
    pair = await _tokens(conn, settings, key, account, session_id, mfa, now)
    await audit.record(conn, actor=account["name"], action="auth.login", target=account["name"],
                       client=client, details={"session": session_id, "mfa": mfa})
    return pair


async def _tokens(conn: psycopg.AsyncConnection, settings: SecuritySettings, key: bytes,
                  account: dict[str, Any], session_id: str, mfa: bool,
                  now: datetime) -> TokenPair:
    idle = settings.idle_timeout_for(set(account["roles"]))
    access_minutes = min(settings.access_token_minutes, idle)
    access, _ = tokens.issue(key, account=account["name"], session_id=session_id, kind="access",
                             minutes=access_minutes, mfa=mfa, now=now)
    refresh, claims = tokens.issue(key, account=account["name"], session_id=session_id,
                                   kind="refresh", minutes=idle, mfa=mfa, now=now)
    await conn.execute("UPDATE security.sessions SET refresh_jti = %s WHERE id = %s",
                       (claims.token_id, session_id))
    return TokenPair(access, refresh, access_minutes * 60, idle * 60, session_id)


_LIVE_SESSION = """
    SELECT a.id, a.name, a.roles, a.pii, a.commune_codes, a.status, s.refresh_jti,
           s.revoked_at, s.expires_at <= now() AS session_over,
           s.last_seen_at < now() - make_interval(mins => CASE WHEN 'admin' = ANY (a.roles)
                                                  THEN %s ELSE %s END) AS idle,
           (a.expires_at IS NOT NULL AND a.expires_at <= now()) AS account_expired,
           s.last_seen_at < now() - interval '10 seconds' AS stale
    FROM security.sessions s JOIN security.accounts a ON a.id = s.account_id
    WHERE s.id = %s AND a.name = %s
"""


async def _live_session(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                        claims: tokens.TokenClaims, client: str | None) -> dict[str, Any]:
    try:
        uuid.UUID(claims.session_id)
    except ValueError:
        raise Unauthorized("the token is not valid", where="Authorization") from None
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_LIVE_SESSION, (settings.admin_idle_timeout_minutes,
                                      settings.idle_timeout_minutes, claims.session_id,
                                      claims.account))
    row = await cur.fetchone()
    reason = None
    if row is None:
        reason = "unknown session"
    elif row["revoked_at"] is not None:
        reason = "session ended (logout, lock, revocation or reset)"
    elif row["status"] != "active" or row["account_expired"]:
        reason = f"account {row['status'] if row['status'] != 'active' else 'expired'}"
    elif row["session_over"]:
        reason = "session reached its maximum length"
    elif row["idle"]:
        reason = "session idle too long"
        await conn.execute("UPDATE security.sessions SET revoked_at = now(), revoked_reason = "
                           "'idle timeout' WHERE id = %s", (claims.session_id,))
    elif not claims.mfa and not settings.is_internal(client):
        reason = "a session opened without a one-time code used from outside the network"
    if reason:
        raise Unauthorized(f"not signed in: {reason}", where="Authorization",
                           hint="log in again at /auth/token")
    return row


async def caller_for_token(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                           key: bytes, token: str, client: str | None) -> Caller:
    """The caller an access token stands for; the session is checked (and kept alive) here."""
    claims = tokens.decode(key, token, kind="access")
    row = await _live_session(conn, settings, claims, client)
    if row["stale"]:  # one write per session every 10 s at most
        await conn.execute("UPDATE security.sessions SET last_seen_at = now() WHERE id = %s",
                           (claims.session_id,))
        await conn.execute("UPDATE security.accounts SET last_seen_at = now() WHERE id = %s",
                           (row["id"],))
    return caller_from(row, client, auth="bearer", session_id=claims.session_id, mfa=claims.mfa)


async def refresh(conn: psycopg.AsyncConnection, settings: SecuritySettings, key: bytes,
                  token: str, client: str | None) -> TokenPair:
    """New tokens for a live session; a refresh token works once (a replay ends the session)."""
    claims = tokens.decode(key, token, kind="refresh")
    row = await _live_session(conn, settings, claims, client)
    if str(row["refresh_jti"]) != claims.token_id:
        await conn.execute("UPDATE security.sessions SET revoked_at = now(), revoked_reason = "
                           "'refresh token replayed' WHERE id = %s", (claims.session_id,))
        await audit.record(conn, actor=claims.account, action="auth.refresh", outcome="denied",
                           target=claims.account, client=client,
                           details={"reason": "refresh token replayed; session ended",
                                    "session": claims.session_id})
        raise Unauthorized("this refresh token was already used; the session is ended",
                           where="refresh_token", hint="log in again at /auth/token")
    await conn.execute("UPDATE security.sessions SET last_seen_at = now() WHERE id = %s",
                       (claims.session_id,))
    account = {**row, "roles": row["roles"]}
    return await _tokens(conn, settings, key, account, claims.session_id, claims.mfa,
                         datetime.now(timezone.utc))


async def logout(conn: psycopg.AsyncConnection, caller: Caller) -> None:
    if caller.session_id:
        await conn.execute("UPDATE security.sessions SET revoked_at = now(), revoked_reason = "
                           "'logout' WHERE id = %s AND revoked_at IS NULL", (caller.session_id,))
    await audit.record(conn, actor=caller.name, action="auth.logout", target=caller.name,
                       client=caller.client, details={"session": caller.session_id})


# --- API keys ---------------------------------------------------------------------------------

async def create_api_key(conn: psycopg.AsyncConnection, actor: Actor, name: str, *,
                         label: str = "", days: int | None = None,
                         networks: list[str] | None = None) -> tuple[str, int]:
    """A new key for the account (shown once) and its id."""
    from iocgis.security.accounts import get

    account = await get(conn, name)
    expired = account["expires_at"] is not None and account["expires_at"] <= datetime.now(
        timezone.utc)
    if account["status"] != "active" or expired:
        raise Forbidden(f"account {name!r} is {'expired' if expired else account['status']}",
                        where="name", hint="unlock it, or extend its expiry, first")
    for cidr in networks or []:
        try:
            in_networks("127.0.0.1", [cidr])
        except ValueError:
            raise InvalidInput(f"{cidr!r} is not a network", where="networks",
                               hint="write networks as 10.0.0.0/8") from None
    key, prefix, key_hash = tokens.new_api_key()
    cur = await conn.execute(
        "INSERT INTO security.api_keys (account_id, prefix, key_hash, label, networks, "
        "expires_at) VALUES (%s, %s, %s, %s, %s, CASE WHEN %s::int IS NULL THEN NULL "
        "ELSE now() + make_interval(days => %s::int) END) RETURNING id",
        (account["id"], prefix, key_hash, label[:200], networks or [], days, days))
    (key_id,) = await cur.fetchone()
    await audit.record(conn, actor=actor.name, action="apikey.create", target=name,
                       client=actor.client, details={"key_id": key_id, "prefix": prefix,
                                                     "label": label, "days": days,
                                                     "networks": networks or []})
    return key, key_id


async def revoke_api_key(conn: psycopg.AsyncConnection, actor: Actor, key_id: int) -> str:
    cur = await conn.execute(
        "UPDATE security.api_keys k SET revoked_at = coalesce(k.revoked_at, now()) "
        "FROM security.accounts a WHERE k.id = %s AND a.id = k.account_id RETURNING a.name",
        (key_id,))
    row = await cur.fetchone()
    if row is None:
        from iocgis.errors import NotFound

        raise NotFound(f"no API key {key_id}", where="key_id",
                       hint="list them with `iocgis accounts apikey list NAME`")
    await audit.record(conn, actor=actor.name, action="apikey.revoke", target=row[0],
                       client=actor.client, details={"key_id": key_id})
    return row[0]


async def list_api_keys(conn: psycopg.AsyncConnection, name: str) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT k.id, k.prefix, k.label, k.networks, k.created_at, k.expires_at, "
                      "k.last_used_at, k.revoked_at FROM security.api_keys k JOIN "
                      "security.accounts a ON a.id = k.account_id WHERE a.name = %s "
                      "ORDER BY k.id", (name,))
    return await cur.fetchall()


async def caller_for_api_key(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                             key: str, client: str | None) -> Caller:
    prefix = tokens.api_key_prefix(key)
    refused = Unauthorized("the API key is not valid, revoked or expired", where="X-API-Key",
                           hint="ask an administrator for a new key")
    if prefix is None:
        raise refused
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT k.id AS key_id, k.key_hash, k.networks, k.revoked_at, "
        "(k.expires_at IS NOT NULL AND k.expires_at <= now()) AS key_expired, "
        "k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' AS stale, "
        "a.id, a.name, a.roles, a.pii, a.commune_codes, a.status, "
        "(a.expires_at IS NOT NULL AND a.expires_at <= now()) AS account_expired "
        "FROM security.api_keys k JOIN security.accounts a ON a.id = k.account_id "
        "WHERE k.prefix = %s", (prefix,))
    row = await cur.fetchone()
    if row is None or not hmac.compare_digest(row["key_hash"], tokens.hash_api_key(key)):
        raise refused
    if row["revoked_at"] is not None or row["key_expired"] or row["status"] != "active" \
            or row["account_expired"]:
        raise refused
    # A machine key is bound to networks: its own list, else the organisation's networks.
    allowed = row["networks"] or settings.internal_networks
    if not in_networks(client, allowed):
        raise Unauthorized("this API key may not be used from this network",
                           where="X-API-Key", hint="use it from an allowed network, or ask for "
                                                   "a key bound to yours")
    if row["stale"]:
        await conn.execute("UPDATE security.api_keys SET last_used_at = now() WHERE id = %s",
                           (row["key_id"],))
        await conn.execute("UPDATE security.accounts SET last_seen_at = now() WHERE id = %s",
                           (row["id"],))
    return caller_from(row, client, auth="api_key", mfa=False)

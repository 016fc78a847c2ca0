"""Logins, sessions and API keys: from credentials to a ``Caller``.

Failed logins locked per (account, address) and slowed down (``throttle``), TOTP where the
role or the network demands it, admin password rotation, inactivity disable, idle timeouts,
API keys held back until a temporary password is changed: all decided here, all written to the
audit trail. A ``Caller`` says how it signed in: ``auth="bearer"`` with ``mfa`` true only for a
session opened with a one-time code, ``auth="api_key"`` always with ``mfa=False``.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.access import Caller
from iocgis.db import expect_row
from iocgis.errors import Forbidden, InvalidInput, Unauthorized
from iocgis.security import audit, passwords, throttle, tokens, totp
from iocgis.security.accounts import NAME_RE, Actor, needs_totp
from iocgis.security.key_cache import LocalKeyCache
from iocgis.security.settings import SecuritySettings, in_networks
from iocgis.shared_state import SharedState
from iocgis.sharing.narrowing import IN_FORCE_SQL, TIME_ZONE, under_agreement

REFUSED = "wrong account name, password or one-time code, or the account is locked"
UNUSED = "account unused: disabled"
REFUSED_HINT = ("check them; after {n} failures logins from this address are locked - ask an "
                "administrator")


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
        "SELECT id, name, roles, pii, commune_codes, status, expires_at, password_hash, "
        "password_changed_at, must_change_password, totp_secret, totp_last_step, "
        "coalesce(last_seen_at, last_login_at, created_at) AS last_active, "
        "EXISTS (SELECT 1 FROM sharing.agreements g WHERE g.account_id = a.id) AS shares, "
        "now() AS now FROM security.accounts a WHERE name = %s", (name,))
    return await cur.fetchone()


async def _fail(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                account: dict[str, Any] | None, state: throttle.LoginFailures,
                reason: str) -> Unauthorized:
    """Record the failure, lock the (account, address) pair or slow down at the thresholds
    (``throttle``); the caller learns nothing more. The account's status never changes here."""
    details: dict[str, Any] = {"reason": reason}
    if account is not None and account["status"] == "active":
        cur = await conn.execute(  # shown to operators (accounts list, review); decides nothing
            "UPDATE security.accounts SET failed_logins = failed_logins + 1 WHERE id = %s "
            "RETURNING failed_logins", (account["id"],))
        (details["failures"],) = expect_row(await cur.fetchone())
    await audit.record(conn, actor=state.name if NAME_RE.match(state.name) else "?",
                       action="auth.login", outcome="failed", target=state.name,
                       client=state.source, details=details)
    await throttle.after_failure(conn, settings, state, account_exists=account is not None)
    return Unauthorized(REFUSED, where="login",
                        hint=REFUSED_HINT.format(n=settings.lockout_threshold))


def _refusal(account: dict[str, Any] | None, state: throttle.LoginFailures,
             settings: SecuritySettings, malformed: bool) -> str | None:
    """Why the login is refused whatever the password, or None when the password decides."""
    if malformed:
        return "malformed credentials"
    if state.pair_locked:
        return "locked: too many failed logins from this address"
    if account is None:
        return "unknown account"
    if account["status"] != "active":
        return f"account {account['status']}"
    if account["shares"]:
        return "a sharing agreement's account: it reads with its API keys only"
    if account["expires_at"] is not None and account["expires_at"] <= account["now"]:
        return "account expired"
    if account["last_active"] < account["now"] - timedelta(days=settings.inactive_disable_days):
        return UNUSED
    return None


async def authenticate(conn: psycopg.AsyncConnection, settings: SecuritySettings, *,
                       name: str, password: str, totp_code: str | None,
                       client: str | None) -> tuple[dict[str, Any], bool]:
    """The account and whether a second factor was used, or Unauthorized (logged), or
    LoginThrottled (429) when the attempt comes too soon after repeated failures.

    Every refusal costs one argon2 verification, against the account's hash or a dummy one
    with the same parameters, so the time of the answer does not tell an unknown, locked,
    disabled or expired account from a wrong password.
    Autocommit statements, each atomic: a failure's count and its audit record must survive
    the refusal (a transaction would roll them back with it).
    """
    name = (name or "").strip().lower()
    malformed = not NAME_RE.match(name) or not password or len(password) > 1024
    state = await throttle.failures(conn, settings, name, client)
    if not state.pair_locked:
        throttle.check(state, settings)
    account = None if malformed else await _fetch_for_login(conn, name)
    refusal = _refusal(account, state, settings, malformed)
    hashed = account["password_hash"] if account is not None and refusal is None else None
    ok = await asyncio.to_thread(passwords.verify_password, hashed, (password or "x")[:1024])
    if refusal == UNUSED and account is not None:
        await conn.execute("UPDATE security.accounts SET status = 'disabled', status_reason = %s "
                           "WHERE id = %s", (f"unused for {settings.inactive_disable_days} days",
                                             account["id"]))
        await audit.record(conn, actor="system", action="account.disable", target=name,
                           client=client, details={"reason": "unused"})
    if refusal is not None or not ok:
        raise await _fail(conn, settings, account, state, refusal or "wrong password")
    assert account is not None
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
            raise await _fail(conn, settings, account, state, "wrong one-time code")
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
    now = datetime.now(UTC)
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
           s.revoked_at, s.mfa, s.expires_at <= now() AS session_over,
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
    return expect_row(row)


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
    # The signed claim and the session row agree unless the signing key leaked: trust both.
    return caller_from(row, client, auth="bearer", session_id=claims.session_id,
                       mfa=claims.mfa and bool(row["mfa"]))


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
                         datetime.now(UTC))


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
        UTC)
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
    (key_id,) = expect_row(await cur.fetchone())
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


# Seconds until the row's answer could change by the clock alone (the key's or the account's
# expiry, the agreement's first or last day), for the shared key cache.
_VALID_S = (f"extract(epoch FROM least(k.expires_at, a.expires_at, CASE WHEN g.id IS NOT NULL THEN "
            f"(CASE WHEN (now() AT TIME ZONE '{TIME_ZONE}')::date < g.starts_on THEN g.starts_on "
            f"ELSE g.ends_on + 1 END)::timestamp AT TIME ZONE '{TIME_ZONE}' END) - now()) "
            "AS valid_s")


def _key_row_caller(row: dict[str, Any], settings: SecuritySettings, key: str,
                    client: str | None) -> Caller:
    """The caller a key's row gives (read now, or cached), or Unauthorized."""
    refused = Unauthorized("the API key is not valid, revoked or expired", where="X-API-Key",
                           hint="ask an administrator for a new key")
    if not hmac.compare_digest(row["key_hash"], tokens.hash_api_key(key)):
        raise refused
    if row["revoked_at"] is not None or row["key_expired"] or row["status"] != "active" \
            or row["account_expired"]:
        raise refused
    if row["must_change_password"]:
        # A temporary password (new account, reset) is known to whoever set it: the account's
        # keys wait until its owner has taken it over by choosing a password.
        raise Unauthorized(f"the API keys of account {row['name']!r} work once its temporary "
                           "password has been changed", where="X-API-Key",
                           hint="change it at POST /auth/password (or an administrator runs "
                                "`iocgis accounts passwd NAME`), then retry with this key")
    # A machine key is bound to networks: its own list, else the organisation's networks.
    allowed = row["networks"] or settings.internal_networks
    if not in_networks(client, allowed):
        raise Unauthorized("this API key may not be used from this network",
                           where="X-API-Key", hint="use it from an allowed network, or ask for "
                                                   "a key bound to yours")
    caller = caller_from(row, client, auth="api_key", mfa=False)
    if row["agreement_id"] is not None:  # an agency's key: what its agreement names, in force
        caller = under_agreement(caller, row["agreement_id"], row["layers"], row["communes"],
                                 row["in_force"])
    return caller


async def caller_for_cached_key(shared: SharedState | None, settings: SecuritySettings,
                                key: str, client: str | None,
                                local: LocalKeyCache | None = None) -> Caller | None:
    """The caller of a key from this worker's cache, else the workers' shared cache, or None
    (not cached, no cache)."""
    prefix = tokens.api_key_prefix(key)
    if prefix is None:
        return None
    row = local.get(prefix) if local is not None else None
    if row is not None:
        return _key_row_caller(row, settings, key, client)
    if shared is None:
        return None
    row = await shared.cached_key(prefix)
    if row is None:
        return None
    caller = _key_row_caller(row, settings, key, client)
    if local is not None:
        local.put(prefix, row["id"], row)
    return caller


async def caller_for_api_key(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                             key: str, client: str | None,
                             shared: SharedState | None = None,
                             local: LocalKeyCache | None = None) -> Caller:
    prefix = tokens.api_key_prefix(key)
    if prefix is None:
        raise Unauthorized("the API key is not valid, revoked or expired", where="X-API-Key",
                           hint="ask an administrator for a new key")
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "SELECT k.id AS key_id, k.key_hash, k.networks, k.revoked_at, "
        "(k.expires_at IS NOT NULL AND k.expires_at <= now()) AS key_expired, "
        "k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute' AS stale, "
        "a.id, a.name, a.roles, a.pii, a.commune_codes, a.status, a.must_change_password, "
        "(a.expires_at IS NOT NULL AND a.expires_at <= now()) AS account_expired, "
        f"g.id AS agreement_id, g.layers, g.communes, {IN_FORCE_SQL} AS in_force, {_VALID_S} "
        "FROM security.api_keys k JOIN security.accounts a ON a.id = k.account_id "
        "LEFT JOIN sharing.agreements g ON g.account_id = a.id "
        "WHERE k.prefix = %s", (prefix,))
    row = await cur.fetchone()
    if row is None:
        raise Unauthorized("the API key is not valid, revoked or expired", where="X-API-Key",
                           hint="ask an administrator for a new key")
    caller = _key_row_caller(row, settings, key, client)
    # Only a key that works is cached, never past its next expiry (``valid_until``).
    valid_s = float(row["valid_s"]) if row["valid_s"] is not None else float("inf")
    cached = {k: v for k, v in row.items() if k not in ("stale", "valid_s")}
    cached["valid_until"] = None if valid_s == float("inf") else time.time() + valid_s
    if local is not None:
        local.put(prefix, row["id"], cached)
    if shared is not None:
        await shared.cache_key(prefix, row["id"], cached, valid_s)
    if row["stale"]:
        await conn.execute("UPDATE security.api_keys SET last_used_at = now() WHERE id = %s",
                           (row["key_id"],))
        await conn.execute("UPDATE security.accounts SET last_seen_at = now() WHERE id = %s",
                           (row["id"],))
    return caller

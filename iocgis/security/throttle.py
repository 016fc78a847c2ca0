"""Failed logins, counted from the audit trail: lock an (account, address) pair, slow down the rest.

The rule (TCVN 14423:2026's 5 failures, without handing an attacker a switch):

* ``lockout_threshold`` failures of one account name from one address lock that *pair* for
  ``lockout_minutes`` (0: until an administrator unlocks or resets the account). The account
  itself stays active: its sessions, its API keys (machine clients, wall screens) and logins
  from other addresses keep working. Password failures never change an account's status.
* ``lockout_threshold`` failures of one account name over *all* addresses slow down further
  attempts from addresses that have not logged into it in the last ``login_known_source_days``
  (its users' usual workstations are not slowed): each must wait a delay doubling per failure,
  up to ``login_delay_max_seconds`` (429 with ``Retry-After``).
* ``login_source_threshold`` failures from one address over all names slow down that address
  the same way (password spraying), unless the address is in ``rate_limit_exempt``.
* A failure counts for ``login_failure_window_minutes``, and only until the account's next
  successful login (from that address, for the pair), unlock, reset or password change.

Names are counted as typed, whether an account exists or not, so the answers and delays
never tell one from the other. The counts come from ``audit.events`` (indexes of migration
0006): no second store to keep in step, shared by every worker process, and the serving role
cannot erase them (the trail is append-only). Lockouts and the start of a slow-down are
alerts: an audit record and a WARNING on the ``iocgis.security`` logger (syslog).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from iocgis.db import expect_row
from iocgis.errors import TooManyRequests
from iocgis.security import audit
from iocgis.security.settings import SecuritySettings, in_networks

log = logging.getLogger("iocgis.security")

# Actions are literals, never parameters: the partial indexes of migration 0006 then serve the
# statement also once psycopg prepares it (a generic plan cannot match ``action = ANY ($1)``).
_COUNTS = """
WITH marks AS (
    SELECT (SELECT max(at) FROM audit.events WHERE target = %(name)s
              AND action IN ('account.unlock', 'account.reset', 'account.password')) AS reset_at,
           (SELECT max(at) FROM audit.events WHERE target = %(name)s
              AND action = 'auth.lockout' AND client = %(source)s) AS locked_at,
           (SELECT max(at) FROM audit.events WHERE target = %(name)s
              AND action = 'auth.login' AND outcome = 'ok' AND client = %(source)s) AS pair_ok_at,
           (SELECT max(at) FROM audit.events WHERE target = %(name)s
              AND action = 'auth.login' AND outcome = 'ok') AS name_ok_at,
           now() - make_interval(mins => %(window)s) AS window_start
)
SELECT m.reset_at, m.locked_at, now() AS now,
       coalesce(m.pair_ok_at > now() - make_interval(days => %(known_days)s), false)
           AS known_source,
       p.failures AS pair_failures, n.failures AS name_failures, n.last_at AS name_last_at,
       s.failures AS source_failures, s.last_at AS source_last_at
FROM marks m,
LATERAL (SELECT count(*) AS failures FROM audit.events
          WHERE target = %(name)s AND action = 'auth.login' AND outcome = 'failed'
            AND client = %(source)s
            AND at > greatest(m.window_start, m.reset_at, m.pair_ok_at,
                              m.locked_at + make_interval(mins => %(lockout)s))) AS p,
LATERAL (SELECT count(*) AS failures, max(at) AS last_at FROM audit.events
          WHERE target = %(name)s AND action = 'auth.login' AND outcome = 'failed'
            AND at > greatest(m.window_start, m.reset_at, m.name_ok_at)) AS n,
LATERAL (SELECT count(*) AS failures, max(at) AS last_at FROM audit.events
          WHERE client = %(source)s AND action = 'auth.login' AND outcome = 'failed'
            AND at > m.window_start) AS s
"""


def name_key(name: str) -> str:
    """The account name as the audit trail holds it (``target`` of the login events)."""
    return name[:64].replace("\x00", "\u2400")


def source_key(client: str | None) -> str:
    return client or "unknown"


class LoginThrottled(TooManyRequests):
    def __init__(self, wait_s: float) -> None:
        seconds = max(1, int(wait_s + 0.999))
        super().__init__(f"too many failed logins: wait {seconds} s before the next attempt",
                         where="login", hint="the wait doubles with each failure; if you are "
                                             "locked out, ask an administrator")
        self.retry_after_s = seconds


@dataclass(frozen=True)
class LoginFailures:
    """The failures that matter to the next attempt of ``name`` from ``source``."""

    name: str
    source: str
    now: datetime
    pair_failures: int  # this name from this address (towards the lock)
    pair_locked: bool
    name_failures: int  # this name from every address
    name_last_at: datetime | None
    source_failures: int  # this address, every name
    source_last_at: datetime | None
    known_source: bool  # this address logged into this account recently


async def failures(conn: psycopg.AsyncConnection, settings: SecuritySettings, name: str,
                   client: str | None) -> LoginFailures:
    key, source = name_key(name), source_key(client)
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_COUNTS, {"name": key, "source": source,
                                "window": settings.login_failure_window_minutes,
                                "lockout": settings.lockout_minutes,
                                "known_days": settings.login_known_source_days})
    row = expect_row(await cur.fetchone())
    locked_at, reset_at = row["locked_at"], row["reset_at"]
    locked = locked_at is not None and (reset_at is None or locked_at > reset_at) and (
        settings.lockout_minutes == 0
        or locked_at + timedelta(minutes=settings.lockout_minutes) > row["now"])
    return LoginFailures(key, source, row["now"], row["pair_failures"], locked,
                         row["name_failures"], row["name_last_at"], row["source_failures"],
                         row["source_last_at"], row["known_source"])


def delay_s(failures_over: int, settings: SecuritySettings) -> float:
    """The wait after the last failure, ``failures_over`` failures past a threshold (0: first)."""
    return min(settings.login_delay_base_seconds * 2 ** min(failures_over, 30),
               float(settings.login_delay_max_seconds))


def _wait(count: int, threshold: int, last_at: datetime | None, now: datetime,
          settings: SecuritySettings) -> float:
    if count < threshold or last_at is None:
        return 0.0
    return max(0.0, delay_s(count - threshold, settings) - (now - last_at).total_seconds())


def wait_s(state: LoginFailures, settings: SecuritySettings) -> float:
    """Seconds the next attempt must still wait (0: it may be tried now)."""
    waits = [0.0]
    if not state.known_source:
        waits.append(_wait(state.name_failures, settings.lockout_threshold, state.name_last_at,
                           state.now, settings))
    if not in_networks(state.source, settings.rate_limit_exempt):
        waits.append(_wait(state.source_failures, settings.login_source_threshold,
                           state.source_last_at, state.now, settings))
    return max(waits)


def check(state: LoginFailures, settings: SecuritySettings) -> None:
    """LoginThrottled when the attempt comes too soon after the last failures."""
    wait = wait_s(state, settings)
    if wait > 0:
        raise LoginThrottled(wait)


async def after_failure(conn: psycopg.AsyncConnection, settings: SecuritySettings,
                        state: LoginFailures, *, account_exists: bool) -> None:
    """The failure just recorded crossed a threshold: lock the pair, or start a slow-down;
    either way alert the operator (audit record + WARNING)."""
    pair, name, source = (state.pair_failures + 1, state.name_failures + 1,
                          state.source_failures + 1)
    exists = "" if account_exists else " (no such account)"
    if not state.pair_locked and pair == settings.lockout_threshold:
        until = (f"for {settings.lockout_minutes} min" if settings.lockout_minutes
                 else "until an administrator unlocks or resets the account")
        await audit.record(conn, actor="system", action="auth.lockout", outcome="denied",
                           target=state.name, client=state.source,
                           details={"scope": "account and address", "failures": pair,
                                    "until": until, "account_exists": account_exists})
        log.warning("login lockout: account %r%s from %s after %d failed logins, %s; its "
                    "sessions, API keys and other addresses keep working", state.name, exists,
                    state.source, pair, until)
    if name == settings.lockout_threshold:
        await _slow_down(conn, state, "account", name, account_exists,
                         f"account {state.name!r}{exists}")
    if source == settings.login_source_threshold and not in_networks(
            state.source, settings.rate_limit_exempt):
        await _slow_down(conn, state, "address", source, account_exists,
                         f"address {state.source}")


async def _slow_down(conn: psycopg.AsyncConnection, state: LoginFailures, scope: str,
                     count: int, account_exists: bool, what: str) -> None:
    await audit.record(conn, actor="system", action="auth.throttle", outcome="denied",
                       target=state.name, client=state.source,
                       details={"scope": scope, "failures": count,
                                "account_exists": account_exists})
    log.warning("login slow-down: %s after %d failed logins (last from %s); further attempts "
                "wait a growing delay", what, count, state.source)

"""Failed logins lock an (account, address) pair and slow the rest down; they never switch off an
account, its live sessions or its machine clients' API keys. Real HTTP, real PostGIS; each
client address comes through a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import argon2
import httpx
import psycopg
import pytest

from iocgis.security import passwords, throttle
from iocgis.security.settings import SecuritySettings
from iocgis.settings import Settings

from ..conftest import LiveServer
from .security_helpers import Account, api_key_for, audit_actions, bearer, set_status, totp_now

WRONG = "Sai-mật-khẩu-2026!"


@pytest.fixture(scope="module")
def proxied(live_server, settings: Settings) -> Iterator[LiveServer]:  # noqa: ANN001
    """127.0.0.1 is a trusted proxy: X-Forwarded-For names the client. Rate limits are out of
    the way, so what answers is the login rule, not the token bucket; the first delay is long
    enough (30 s) that no slow machine sees it run out during a test."""
    security = SecuritySettings(trusted_proxies=["127.0.0.0/8"], rate_limit_exempt=[],
                                rate_limit_per_minute=100_000, rate_limit_burst=10_000,
                                login_rate_limit_per_minute=100_000,
                                login_delay_base_seconds=30, login_delay_max_seconds=600)
    server = LiveServer(settings.model_copy(update={"security": security})).start()
    yield server
    server.stop()


def attempt(server: LiveServer, name: str, password: str, source: str,
            totp: str | None = None) -> httpx.Response:
    data = {"username": name, "password": password} | ({"totp": totp} if totp else {})
    return httpx.post(server.url + "/auth/token", data=data,
                      headers={"X-Forwarded-For": source}, timeout=30)


def log_in(server: LiveServer, account: Account, source: str, db_url: str) -> dict:
    code = None
    if account.totp_secret:  # codes are single use; tests log in more often than every 30 s
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE security.accounts SET totp_last_step = NULL WHERE name = %s",
                         (account.name,))
        code = totp_now(account.totp_secret)
    response = attempt(server, account.name, account.password, source, code)
    assert response.status_code == 200, response.text
    return response.json()


def status_of(db_url: str, name: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute("SELECT status FROM security.accounts WHERE name = %s",
                            (name,)).fetchone()[0]


def test_anonymous_failures_never_switch_off_an_admin(proxied, make_account, db_url,
                                                      caplog) -> None:  # noqa: ANN001
    admin = make_account("admin", totp=True)
    office, attacker = "10.20.0.5", "198.51.100.7"
    token = log_in(proxied, admin, office, db_url)["access_token"]
    key = api_key_for(db_url, admin.name)
    with caplog.at_level(logging.WARNING, logger="iocgis.security"):
        answers = [attempt(proxied, admin.name, WRONG, attacker) for _ in range(7)]
    assert [a.status_code for a in answers] == [401] * 7
    # From the attacker's address even the right password is now refused, with the same answer.
    right = attempt(proxied, admin.name, admin.password, attacker, totp_now(admin.totp_secret))
    assert right.status_code == 401 and right.json() == answers[0].json()
    # The account, its live session and its API key (wall screens, machine clients) work on.
    assert status_of(db_url, admin.name) == "active"
    for headers in (bearer(token), {"X-API-Key": key}):
        assert httpx.get(proxied.url + "/auth/me", headers={
            **headers, "X-Forwarded-For": office}).status_code == 200
    log_in(proxied, admin, office, db_url)  # the administrator still logs in from the office
    # The lockout is an alert: an audit record naming the address, and a WARNING line.
    lockouts = [e for e in audit_actions(db_url, target=admin.name, action="auth.lockout")]
    assert len(lockouts) == 1 and lockouts[0][1] == "denied"
    with psycopg.connect(db_url, autocommit=True) as conn:
        client, = conn.execute("SELECT client FROM audit.events WHERE action = 'auth.lockout' "
                               "AND target = %s", (admin.name,)).fetchone()
    assert client == attacker
    warnings = [r.getMessage() for r in caplog.records if r.name == "iocgis.security"
                and r.levelno == logging.WARNING]
    assert any("lockout" in w and admin.name in w and attacker in w for w in warnings)


def test_failures_from_many_addresses_slow_down_new_ones_only(proxied, make_account,
                                                              db_url) -> None:  # noqa: ANN001
    account = make_account("analyst")
    usual = "10.21.0.9"
    log_in(proxied, account, usual, db_url)
    for n in range(5):  # one failure from each of five addresses: no pair reaches the lock
        assert attempt(proxied, account.name, WRONG, f"203.0.113.{10 + n}").status_code == 401
    slowed = attempt(proxied, account.name, account.password, "203.0.113.50")
    assert slowed.status_code == 429, slowed.text
    assert int(slowed.headers["retry-after"]) >= 1 and "wait" in slowed.json()["description"]
    # Its usual workstation is not slowed down, and nothing was locked.
    log_in(proxied, account, usual, db_url)
    assert status_of(db_url, account.name) == "active"
    throttled = audit_actions(db_url, target=account.name, action="auth.throttle")
    assert [e[5]["scope"] for e in throttled] == ["account"]


def test_an_address_spraying_many_names_is_slowed_down(proxied, make_account,
                                                       db_url) -> None:  # noqa: ANN001
    sprayer = "192.0.2.77"
    for n in range(10):  # ten names, most of them unknown, once each
        assert attempt(proxied, f"khong.co{n}", WRONG, sprayer).status_code == 401
    account = make_account("viewer")
    slowed = attempt(proxied, account.name, account.password, sprayer)
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
    # Another address is not slowed down by it.
    log_in(proxied, account, "10.22.0.3", db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        scopes = conn.execute("SELECT details->>'scope' FROM audit.events WHERE action = "
                              "'auth.throttle' AND client = %s", (sprayer,)).fetchall()
    assert scopes == [("address",)]


def test_unknown_and_existing_names_are_refused_alike(proxied, make_account,
                                                      db_url) -> None:  # noqa: ANN001
    account = make_account("viewer")
    real = [attempt(proxied, account.name, WRONG, "10.23.0.1") for _ in range(6)]
    ghost = [attempt(proxied, "khong.ton.tai", WRONG, "10.23.0.2") for _ in range(6)]
    assert [(r.status_code, r.json()) for r in real] == [(g.status_code, g.json()) for g in ghost]
    for name, source in ((account.name, "10.23.0.1"), ("khong.ton.tai", "10.23.0.2")):
        assert [e[0] for e in audit_actions(db_url, target=name, client=source)
                if e[0] == "auth.lockout"] == ["auth.lockout"]


def test_an_unlock_releases_the_locked_address(proxied, make_account, db_url) -> None:  # noqa: ANN001
    account = make_account("viewer")
    for _ in range(5):
        attempt(proxied, account.name, WRONG, "10.24.0.1")
    assert attempt(proxied, account.name, account.password, "10.24.0.1").status_code == 401
    set_status(db_url, account.name, "active")  # `iocgis accounts unlock NAME`
    log_in(proxied, account, "10.24.0.1", db_url)


class CountingHasher(argon2.PasswordHasher):
    """The real argon2id hasher, noting each hash it verifies against."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)


def test_every_refusal_costs_one_argon2_verification(proxied, make_account, db_url,
                                                     monkeypatch) -> None:  # noqa: ANN001
    """Timing cannot tell these apart: each answer verifies one argon2id hash of the same cost
    (the account's own, or a dummy one), whether the account exists, is locked or is not."""
    accounts = {state: make_account("viewer") for state in (
        "wrong password", "locked here", "locked by an administrator", "disabled", "expired")}
    for _ in range(5):
        attempt(proxied, accounts["locked here"].name, WRONG, "10.25.0.2")
    set_status(db_url, accounts["locked by an administrator"].name, "locked")
    set_status(db_url, accounts["disabled"].name, "disabled")
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE security.accounts SET expires_at = now() - interval '1 day' "
                     "WHERE name = %s", (accounts["expired"].name,))
        real_hash, = conn.execute("SELECT password_hash FROM security.accounts WHERE name = %s",
                                  (accounts["wrong password"].name,)).fetchone()
    cases = {"unknown account": ("khong.co.ai", WRONG), "malformed name": ("Tên Sai!", WRONG)}
    cases |= {state: (a.name, a.password if state != "wrong password" else WRONG)
              for state, a in accounts.items()}
    hasher = CountingHasher()
    monkeypatch.setattr(passwords, "_HASHER", hasher)
    answers = {}
    for n, (state, (name, password)) in enumerate(cases.items()):
        hasher.verified.clear()
        source = "10.25.0.2" if state == "locked here" else f"10.25.1.{n}"
        answers[state] = attempt(proxied, name, password, source)
        assert len(hasher.verified) == 1, state
        assert argon2.extract_parameters(hasher.verified[0]) == argon2.extract_parameters(
            real_hash), state
    assert {state: (r.status_code, r.json()["description"]) for state, r in answers.items()} \
        == {state: (401, answers["unknown account"].json()["description"]) for state in cases}


def test_the_delay_doubles_per_failure_up_to_its_cap() -> None:
    settings = SecuritySettings(login_delay_base_seconds=1, login_delay_max_seconds=60)
    assert [throttle.delay_s(n, settings) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    now = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)

    def state(name_failures: int, seconds_ago: float, *, known: bool = False,
              source: str = "203.0.113.1", source_failures: int = 0) -> throttle.LoginFailures:
        last = now - timedelta(seconds=seconds_ago)
        return throttle.LoginFailures("an.nguyen", source, now, 0, False, name_failures, last,
                                      source_failures, last, known)

    assert throttle.wait_s(state(4, 0), settings) == 0  # under the threshold
    assert throttle.wait_s(state(5, 0), settings) == 1
    assert throttle.wait_s(state(7, 1), settings) == 3  # 4 s after the 7th failure, 1 s gone
    assert throttle.wait_s(state(7, 5), settings) == 0
    assert throttle.wait_s(state(9, 0, known=True), settings) == 0  # its usual workstation
    assert throttle.wait_s(state(0, 0, source_failures=11), settings) == 2
    # An exempt address (loopback by default) is never slowed down for its own failures.
    assert throttle.wait_s(state(0, 0, source="127.0.0.1", source_failures=50), settings) == 0

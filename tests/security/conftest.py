"""Fixtures of the security tests: accounts of every role, logins, a database to tamper with."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from iocgis import migrate
from iocgis.settings import Settings

from .security_helpers import ROLES, Account, _create, api_key_for, bearer, login, run_async


@pytest.fixture(scope="session")
def make_account(db_url: str, settings: Settings):  # noqa: ANN201
    """Create an account (password already changed) with a name unique to this session."""
    counter = iter(range(1, 10_000))

    def make(role: str = "viewer", *, pii: bool = False, communes: tuple[str, ...] = (),
             totp: bool = False, prefix: str | None = None) -> Account:
        name = f"{prefix or role.replace('_', '')}{os.getpid()}x{next(counter)}"
        return run_async(_create(db_url, settings, name, [role], pii=pii, communes=communes,
                                 totp=totp))

    return make


@pytest.fixture(scope="session")
def role_accounts(make_account) -> dict[str, Account]:  # noqa: ANN001
    return {role: make_account(role, totp=(role == "admin")) for role in ROLES}


@pytest.fixture(scope="session")
def role_headers(live_server, role_accounts, db_url) -> dict[str, dict[str, str]]:  # noqa: ANN001
    """Request headers per role ('anonymous' has none). API keys: they do not time out
    while a long test runs, and they exercise the key path; admin uses a TOTP session."""
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, account in role_accounts.items():
        if role == "admin":
            token = login(live_server.url, account, db_url)["access_token"]
            headers[role] = bearer(token)
        else:
            headers[role] = {"X-API-Key": api_key_for(db_url, account.name)}
    return headers


@pytest.fixture(scope="module")
def fresh_db_url(db_url: str) -> Iterator[str]:
    """A database of its own (for tests that must tamper with the append-only trail)."""
    head, _, _ = db_url.rpartition("/")
    name = f"iocgis_test_{os.getpid()}_sec"
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
            sql.Identifier(name)))
    url = f"{head}/{name}"
    migrate.upgrade(url)
    yield url
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

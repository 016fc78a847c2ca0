"""Helpers of the security tests (imported by name: tests/ is not a package)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import httpx
import psycopg
import pyotp

from iocgis.security import accounts
from iocgis.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Đồng-Nai-2026-an-toàn!"  # meets the 14-character, 4-class policy
ROLES = ("viewer", "analyst", "gis_officer", "admin")

@dataclass
class Account:
    name: str
    role: str
    password: str
    totp_secret: str | None


def run_async(coro):  # noqa: ANN001, ANN201 - any coroutine
    return asyncio.run(coro)


async def _create(db_url: str, settings: Settings, name: str, roles: list[str], *,
                  pii: bool = False, communes: tuple[str, ...] = (), totp: bool = False,
                  password: str = PASSWORD) -> Account:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        secret = await accounts.create(conn, settings.security, accounts.Actor("test"),
                                       name=name, roles=roles, password=password, pii=pii,
                                       communes=communes, with_totp=totp)
        await conn.execute("UPDATE security.accounts SET must_change_password = false "
                           "WHERE name = %s", (name,))
    return Account(name, roles[0], password, secret.totp_secret)


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def login(base_url: str, account: Account, db_url: str | None = None) -> dict:
    """Log in over HTTP; a TOTP account's last used step is cleared first (codes are single
    use, and tests log in more often than every 30 s)."""
    data = {"username": account.name, "password": account.password}
    if account.totp_secret:
        if db_url:
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute("UPDATE security.accounts SET totp_last_step = NULL WHERE name = %s",
                             (account.name,))
        data["totp"] = totp_now(account.totp_secret)
    response = httpx.post(base_url + "/auth/token", data=data, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_key_for(db_url: str, name: str, networks: list[str] | None = None) -> str:
    from iocgis.security import login as login_module

    async def make() -> str:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            key, _ = await login_module.create_api_key(conn, accounts.Actor("test"), name,
                                                       label="test", networks=networks)
            return key

    return run_async(make())


def cli(db_url: str, *args: str, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real ``iocgis`` command against the test database."""
    return subprocess.run([str(Path(sys.executable).parent / "iocgis"), *args], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "DATABASE_URL": db_url, "COLUMNS": "200",
                               **(env or {})})


def audit_actions(db_url: str, **where: str) -> list[tuple]:
    clauses = " AND ".join(f"{k} = %s" for k in where) or "true"
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(f"SELECT action, outcome, actor, target, layer, details "
                            f"FROM audit.events WHERE {clauses} ORDER BY seq",
                            tuple(where.values())).fetchall()



SAMPLE_WKT = {
    "Point": "POINT(106.8243 10.9447)",
    "MultiPoint": "MULTIPOINT((106.8243 10.9447))",
    "MultiLineString": "MULTILINESTRING((106.82 10.94, 106.83 10.95))",
    "MultiPolygon": "MULTIPOLYGON(((106.82 10.94, 106.83 10.94, 106.83 10.95, 106.82 10.95, "
                    "106.82 10.94)))",
}


def insert_sample(conn: psycopg.Connection, layer_id: str, **values: object) -> int:
    """One row of any registry layer with every required field filled by type; returns fid."""
    from datetime import date, datetime

    from psycopg import sql as psql

    from iocgis.layers import get_registry

    registry = get_registry()
    layer = registry.get(layer_id)
    serial = next(_SAMPLE_COUNTER)
    row: dict[str, object] = {}
    for field in layer.fields:
        if field.name in values:
            row[field.name] = values[field.name]
            continue
        codes = registry.domain_codes(field)
        if field.type == "text":
            five_digits = field.pattern == r"^\d{5}$"
            if codes:
                row[field.name] = codes[0]
            elif five_digits:  # a code; unique when it is (part of) the key
                row[field.name] = f"{90000 + serial % 10000:05d}" if field.name in layer.key \
                    else "26041"
            else:
                row[field.name] = f"mẫu-{os.getpid()}-{serial}"
        elif field.type in ("integer", "bigint"):
            low = int(field.min) if field.min is not None else 1
            value = int(codes[0]) if codes else low + serial % 7
            row[field.name] = min(value, int(field.max)) if field.max is not None else value
        elif field.type == "numeric":
            row[field.name] = float(field.min or 0) + 1.0
        elif field.type == "boolean":
            row[field.name] = True
        elif field.type == "date":
            row[field.name] = date(2026, 1, 1)
        elif field.type == "timestamptz":
            row[field.name] = datetime(2026, 1, 1, tzinfo=UTC)
    columns = list(row)
    params = [row[c] for c in columns]
    parts = [psql.Placeholder()] * len(columns)
    if layer.footprint and "footprint" in values:  # the position: its point on surface
        columns += ["footprint", "geom"]
        parts += [psql.SQL("ST_GeomFromText({}, 4326)").format(psql.Placeholder()),
                  psql.SQL("ST_PointOnSurface(ST_GeomFromText({}, 4326))").format(
                      psql.Placeholder())]
        params += [values["footprint"]] * 2
    elif layer.geometry:
        columns.append("geom")
        parts.append(psql.SQL("ST_GeomFromText({}, 4326)").format(psql.Placeholder()))
        params.append(values.get("geom", SAMPLE_WKT[layer.geometry]))
    statement = psql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING fid").format(
        psql.Identifier(layer.schema_name, layer.table_name),
        psql.SQL(", ").join(map(psql.Identifier, columns)), psql.SQL(", ").join(parts))
    return conn.execute(statement, params).fetchone()[0]


_SAMPLE_COUNTER = iter(range(1000, 10**9))


def set_status(db_url: str, name: str, status: str) -> None:
    """What `iocgis accounts lock|unlock|revoke NAME` does, without a process start: the
    account's state, then its database login (tests of the CLI itself call the command)."""
    from iocgis.roles import dbroles
    from iocgis.security.settings import SecuritySettings

    async def change() -> None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            await accounts.set_status(conn, accounts.Actor("test"), name, status, "test")

    run_async(change())
    with psycopg.connect(db_url, autocommit=True) as conn:
        dbroles.sync_logins(conn, SecuritySettings(), only=name)

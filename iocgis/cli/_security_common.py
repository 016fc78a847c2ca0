"""Shared by the security commands: the operator as audit actor, async connections, dates."""

from __future__ import annotations

import asyncio
import getpass
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import psycopg

from iocgis.db import database_url
from iocgis.errors import DatabaseError, InvalidInput
from iocgis.security.accounts import Actor

RELATIVE = re.compile(r"^(\d+)\s*([hdwm])$")


def operator() -> Actor:
    """The person at the console, as the audit trail names them."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", "local")


@contextmanager
def database_errors() -> Iterator[None]:
    """Schema missing or privileges short: a clear message instead of a traceback."""
    try:
        yield
    except psycopg.errors.UndefinedTable as exc:
        raise DatabaseError("the database is not migrated to the security schema",
                            where=str(exc).splitlines()[0][:200],
                            hint="run `iocgis db migrate`") from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DatabaseError("the database role lacks a privilege",
                            where=str(exc).splitlines()[0][:200],
                            hint="run the command as the platform's owner role") from exc


def run[T](work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
    async def main() -> T:
        url = database_url()
        try:
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise DatabaseError("cannot connect to PostgreSQL", where="DATABASE_URL",
                                hint=f"{str(exc).strip()[:200]}; start it with "
                                     "`iocgis db start`") from exc
        async with conn:
            with database_errors():
                return await work(conn)

    return asyncio.run(main())


def parse_when(text: str | None, *, option: str) -> datetime | None:
    """An ISO date/time, or a span back from now: 72h, 30d, 2w, 6m."""
    if not text:
        return None
    match = RELATIVE.match(text.strip())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        days = {"h": amount / 24, "d": amount, "w": 7 * amount, "m": 30 * amount}[unit]
        return datetime.now(UTC) - timedelta(days=days)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{text!r} is not a date", where=option,
                           hint="write 2026-11-01, 2026-11-01T08:00+07:00 or 72h / 30d") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)

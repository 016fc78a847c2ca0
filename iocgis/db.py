"""Database URLs and connections: psycopg 3 for the project's SQL, SQLAlchemy for migrations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row

from iocgis import cluster
from iocgis.errors import DatabaseError, InternalError
from iocgis.settings import Settings, get_settings


def expect_row[Row](row: Row | None) -> Row:
    """The row a statement always returns (``RETURNING``, an aggregate): none is a defect."""
    if row is None:
        raise InternalError()
    return row


def database_url(settings: Settings | None = None) -> str:
    """``DATABASE_URL`` when set, else the local cluster's URL."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return cluster.local_url(settings)


def sqlalchemy_url(url: str) -> str:
    """The same URL in SQLAlchemy's spelling, with the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise DatabaseError("DATABASE_URL is not a PostgreSQL URL", where="DATABASE_URL",
                        hint="use postgresql://user:password@host:port/dbname")


def with_role(url: str, role: str) -> str:
    """The URL whose sessions start as ``role`` (``SET ROLE`` through the ``options`` parameter);
    the connecting user must be a member of it."""
    if not role:
        return url
    from urllib.parse import quote

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-c role={role}')}"


@contextmanager
def connect(url: str | None = None, *, autocommit: bool = False,
            dict_rows: bool = False) -> Iterator[psycopg.Connection]:
    """One connection, with a clear error when the database is not reachable."""
    url = url or database_url()
    try:
        conn = psycopg.connect(url, autocommit=autocommit,
                               row_factory=dict_row if dict_rows else psycopg.rows.tuple_row)
    except psycopg.OperationalError as exc:
        raise DatabaseError("cannot connect to PostgreSQL", where=_redact(url),
                            hint=f"{str(exc).strip()[:300]}; start it with `iocgis db start` "
                                 "or fix DATABASE_URL") from exc
    with conn:
        yield conn


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url

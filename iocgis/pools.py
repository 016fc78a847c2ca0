"""Connection pools, made one way: the request path's async pool, pygeoapi's synchronous one
(its core runs in worker threads), the tile renderer's outside a server. Every connection gets
the same session settings from one configure hook."""

from __future__ import annotations

import time
import weakref

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

# UTC timestamps in answers; a runaway statement is cancelled (each data statement also gets
# its own limit from ``iocgis.access.database``); a page or tile is a small query among many
# concurrent ones: starting parallel workers or JIT costs more (tens of ms) than it saves,
# measured on the province demo.
SESSION_SETTINGS = (
    ("statement_timeout", "30000"),
    ("TimeZone", "UTC"),
    ("max_parallel_workers_per_gather", "0"),
    ("jit", "off"),
)
# Statements are prepared from their second run on a connection: the pool hands its
# connections out in turn, so with psycopg's default (the fifth run) a statement run across 16
# connections was parsed and planned again for its first 80 runs (milliseconds for a query
# statement; the query API reuses a few texts, see api/query/sql.py).
PREPARE_AFTER = 1
# How long a caller waits for a pooled connection (a database outage: then a 503 + Retry-After).
POOL_TIMEOUT_S = 5.0
_SET = "SELECT " + ", ".join(f"set_config('{name}', '{value}', false)"
                             for name, value in SESSION_SETTINGS)


def configure(conn: psycopg.Connection) -> None:
    conn.execute(_SET)


async def configure_async(conn: psycopg.AsyncConnection) -> None:
    await conn.execute(_SET)


# A connection back in the pool within this many seconds is handed out unchecked: a database
# restart breaks the connections idle in the pool, which are checked (one empty round trip)
# before use; a busy server's connections skip the round trip.
CHECK_IDLE_S = 1.0
_RETURNED: weakref.WeakKeyDictionary[object, float] = weakref.WeakKeyDictionary()


async def _returned_async(conn: psycopg.AsyncConnection) -> None:
    _RETURNED[conn] = time.monotonic()


def _returned(conn: psycopg.Connection) -> None:
    _RETURNED[conn] = time.monotonic()


async def _check_async(conn: psycopg.AsyncConnection) -> None:
    if time.monotonic() - _RETURNED.get(conn, 0.0) > CHECK_IDLE_S:
        await AsyncConnectionPool.check_connection(conn)


def _check(conn: psycopg.Connection) -> None:
    if time.monotonic() - _RETURNED.get(conn, 0.0) > CHECK_IDLE_S:
        ConnectionPool.check_connection(conn)


def async_pool(url: str, *, min_size: int = 1, max_size: int = 16,
               name: str = "iocgis", timeout_s: float = POOL_TIMEOUT_S) -> AsyncConnectionPool:
    """An unopened async pool (``await pool.open(wait=True)``) of autocommit connections.
    A connection idle for over ``CHECK_IDLE_S`` is checked as it is handed out, so one left
    broken by a database restart is replaced instead of failing a request; a request waits
    ``timeout_s`` at most for one (then PoolTimeout, a 503 with Retry-After)."""
    return AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                               kwargs={"autocommit": True, "prepare_threshold": PREPARE_AFTER},
                               configure=configure_async, name=name,
                               check=_check_async, reset=_returned_async, timeout=timeout_s)


def sync_pool(url: str, *, min_size: int = 1, max_size: int = 8,
              name: str = "iocgis-sync", timeout_s: float = POOL_TIMEOUT_S) -> ConnectionPool:
    """An unopened synchronous pool (``pool.open(wait=True)``) of autocommit connections,
    checked and bounded like ``async_pool``."""
    return ConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                          kwargs={"autocommit": True}, configure=configure, name=name,
                          check=_check, reset=_returned, timeout=timeout_s)

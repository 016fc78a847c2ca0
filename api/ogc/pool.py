"""Synchronous psycopg pools for the pygeoapi providers (pygeoapi's core is synchronous).

pygeoapi builds a provider object per request, so providers find their pool here by a key
named in their configuration; the database URL (with its password) never enters the config.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg_pool import ConnectionPool

from iocgis.access.database import SyncReader
from iocgis.errors import DatabaseError

_POOLS: dict[str, ConnectionPool] = {}
_READERS: dict[str, SyncReader] = {}
_USERS: dict[str, int] = {}  # several apps in one process (tests) may share a database
STATEMENT_TIMEOUT_MS = 30_000


def pool_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _configure(conn: psycopg.Connection) -> None:
    # UTC timestamps in responses; a runaway filter is cancelled instead of holding a worker.
    conn.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
    conn.execute("SET TimeZone = 'UTC'")
    # A page is a small query among many concurrent ones: starting parallel workers or JIT
    # costs more (tens of ms) than it saves, measured on the province demo.
    conn.execute("SET max_parallel_workers_per_gather = 0")
    conn.execute("SET jit = off")


def open_pool(url: str, *, role_prefix: str, max_size: int = 8) -> str:
    key = pool_key(url)
    _USERS[key] = _USERS.get(key, 0) + 1
    if key not in _POOLS:
        pool = ConnectionPool(url, min_size=1, max_size=max_size, open=False,
                              kwargs={"autocommit": True}, configure=_configure,
                              name=f"iocgis-ogc-{key[:6]}")
        pool.open(wait=True, timeout=30)
        _POOLS[key] = pool
        _READERS[key] = SyncReader(pool, role_prefix)
    return key


def get_pool(key: str) -> ConnectionPool:
    try:
        return _POOLS[key]
    except KeyError:
        raise DatabaseError("the OGC API's database pool is not open", where=key,
                            hint="the server is starting or stopping; retry in a moment") from None


def get_reader(key: str) -> SyncReader:
    """Data statements on the pool ``key``, each under the caller's access plan."""
    get_pool(key)
    return _READERS[key]


def close_pool(key: str) -> None:
    _USERS[key] = _USERS.get(key, 1) - 1
    if _USERS[key] > 0:
        return
    _USERS.pop(key, None)
    pool = _POOLS.pop(key, None)
    _READERS.pop(key, None)
    if pool is not None:
        pool.close()

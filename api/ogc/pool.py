"""Synchronous psycopg pools for the pygeoapi providers (pygeoapi's core is synchronous).

pygeoapi builds a provider object per request, so providers find their pool here by a key
named in their configuration; the database URL (with its password) never enters the config.
"""

from __future__ import annotations

import hashlib

from psycopg_pool import ConnectionPool

from iocgis.access.database import SyncReader
from iocgis.errors import DatabaseError
from iocgis.pools import sync_pool

_POOLS: dict[str, ConnectionPool] = {}
_READERS: dict[str, SyncReader] = {}
_USERS: dict[str, int] = {}  # several apps in one process (tests) may share a database


def pool_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def open_pool(url: str, *, role_prefix: str, max_size: int = 8) -> str:
    key = pool_key(url)
    _USERS[key] = _USERS.get(key, 0) + 1
    if key not in _POOLS:
        pool = sync_pool(url, max_size=max_size, name=f"iocgis-ogc-{key[:6]}")
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

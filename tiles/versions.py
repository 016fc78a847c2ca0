"""Data versions of the layers (``meta.layers.data_version``): the tile cache keys on them.

Every import or rollback bumps a layer's version, so the keys of exactly that layer's tiles
change and the stale tiles are never served again. The versions are read at most once per
``ttl`` seconds per process (one small query), so a change shows within that time. The same
query says which layers have a tile-ready copy built for their live version
(``iocgis.tiles.generalised``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from psycopg_pool import AsyncConnectionPool

from iocgis.tiles.generalised import GeneralisedTable, current_tables

QUERY = ("SELECT l.id, l.data_version, b.table_name, b.floors FROM meta.layers l "
         "LEFT JOIN generalised.built b ON b.layer_id = l.id AND b.data_version = l.data_version")


class LayerVersions:
    """A cached copy of ``meta.layers.data_version`` by layer id."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._versions: dict[str, int] = {}
        # layers whose tile-ready copy matches the versions read with it
        self.copies: dict[str, GeneralisedTable] = {}
        self._read_at = -float("inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """Forget the copy: the next tile reads the versions again (after a local import)."""
        self._read_at = -float("inf")

    async def current(self, pool: AsyncConnectionPool) -> Mapping[str, int]:
        if time.monotonic() - self._read_at <= self.ttl:
            return self._versions
        async with self._lock:  # one reader refreshes; the others wait for its answer
            if time.monotonic() - self._read_at <= self.ttl:
                return self._versions
            async with pool.connection() as conn:
                cur = await conn.execute(QUERY)
                rows = await cur.fetchall()
            self._versions = {row[0]: int(row[1]) for row in rows}
            self.copies = current_tables([(row[0], row[2], row[3]) for row in rows
                                          if row[2] is not None])
            self._read_at = time.monotonic()
            return self._versions

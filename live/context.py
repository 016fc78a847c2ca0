"""What the live routes hold per application, made on first use: the ingestor (the owner's
connection, as imports use), a small owner pool for the live tables, the SSE hub."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

from iocgis.api.kit.parts import app_part
from iocgis.api.state import AppState
from iocgis.live.hub import Hub
from iocgis.live.pipeline import Ingestor
from iocgis.live.settings import LiveSettings
from iocgis.pools import async_pool


@dataclass
class LiveContext:
    state: AppState
    live: LiveSettings
    ingestor: Ingestor
    pool: AsyncConnectionPool
    hub: Hub
    _opened: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def owner(self) -> AsyncConnectionPool:
        if not self._opened:
            async with self._lock:
                if not self._opened:
                    await self.pool.open(wait=True, timeout=30)
                    self._opened = True
        return self.pool


def _build(state: AppState) -> LiveContext:
    live = state.settings.live
    return LiveContext(state=state, live=live, ingestor=Ingestor(state.database_url, live),
                       pool=async_pool(state.database_url, min_size=1, max_size=4,
                                       name="iocgis-live"),
                       hub=Hub(state.database_url))


def live_context(request: Request) -> LiveContext:
    return app_part(request, "live", _build)

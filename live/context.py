"""What the live routes hold per application, made on first use: the ingestor (the owner's
connection, as imports use), a small owner pool for the live tables, the SSE hub."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request

from iocgis.api.state import AppState
from iocgis.live.hub import Hub
from iocgis.live.pipeline import Ingestor
from iocgis.live.settings import LiveSettings


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


def live_context(request: Request) -> LiveContext:
    app = request.app
    found = getattr(app.state, "live", None)
    if found is None:
        state: AppState = app.state.iocgis
        live = LiveSettings()
        found = LiveContext(state=state, live=live, ingestor=Ingestor(state.database_url, live),
                            pool=AsyncConnectionPool(state.database_url, min_size=1, max_size=4,
                                                     open=False, kwargs={"autocommit": True}),
                            hub=Hub(state.database_url))
        app.state.live = found
    return found

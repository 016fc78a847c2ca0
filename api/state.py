"""What the application holds for its lifetime: settings, registry, database pool."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from iocgis import replica
from iocgis.access.database import Reader
from iocgis.db import database_url, with_role
from iocgis.layers import Registry, get_registry
from iocgis.pools import async_pool
from iocgis.read_routing import ReadRouter
from iocgis.settings import Settings
from iocgis.shared_state import SharedState


@dataclass
class AppState:
    settings: Settings
    registry: Registry
    database_url: str  # the connecting user: imports, which replace tables, use it
    serving_url: str  # requests: the same server, as ``settings.serving_role`` when set
    pool: AsyncConnectionPool
    reader: Reader  # data statements: each under the caller's access plan
    shared: SharedState | None = None  # what the workers share (Redis), when REDIS_URL is set
    router: ReadRouter | None = None  # reads to the replica (REPLICA_URL, IOCGIS_REPLICA_LOCAL)

    @classmethod
    def build(cls, settings: Settings) -> AppState:
        url = database_url(settings)
        serving_url = with_role(url, settings.serving_role)
        pool = async_pool(serving_url, min_size=2, max_size=16, name="iocgis-requests",
                          timeout_s=settings.pool_timeout_s)
        shared = SharedState(settings.redis_url) if settings.redis_url else None
        replica_url = replica.configured_url(settings)
        router = None
        if replica_url:  # the replica has the primary's roles: the same serving role
            router = ReadRouter(settings.replica, with_role(replica_url, settings.serving_role),
                                pool, shared)
        return cls(settings=settings, registry=get_registry(), database_url=url,
                   serving_url=serving_url, pool=pool,
                   reader=Reader(pool, settings.security.db_role_prefix),
                   shared=shared, router=router)

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)
        if self.router is not None:
            await self.router.open()

    async def close(self) -> None:
        if self.router is not None:
            await self.router.close()
        await self.pool.close()
        if self.shared is not None:
            await self.shared.close()

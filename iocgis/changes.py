"""Changes pushed to every worker process: one PostgreSQL connection per worker LISTENs to the
notices of migration 0018.

* ``iocgis_security`` (payload: an account id): a key, an account or a sharing agreement
  changed, by the API, the CLI or plain SQL; the account's cached API keys are dropped from
  this worker's own cache (``iocgis.security.key_cache``) and from Redis before the worker's
  next request.
* ``iocgis_catalog``: ``meta.layers`` changed (an import, a rollback, a migration); the OGC
  configuration and OpenAPI are rebuilt on the next request instead of after the poll.

While the listener is not connected, notices could be missed: the worker then does not read
the key cache (keys are checked in PostgreSQL), and when it connects again it drops every
cached key and rebuilds the catalog's view.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from iocgis.security.key_cache import LocalKeyCache
from iocgis.shared_state import SharedState, SharedUnavailable

log = logging.getLogger("iocgis.shared")

SECURITY = "iocgis_security"
CATALOG = "iocgis_catalog"


class ChangeListener:
    def __init__(self, url: str, shared: SharedState | None,
                 catalog_changed: Callable[[], None]) -> None:
        self.url = url
        self.shared = shared
        self.keys = LocalKeyCache()  # this worker's verified keys, trusted while connected
        self.catalog_changed = catalog_changed
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="iocgis-changes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _drop(self, account: int | None) -> None:
        self.keys.drop_account(account)
        if self.shared is None:
            return
        try:
            await self.shared.drop_account(account)
        except SharedUnavailable:
            # Redis is down: the entry may outlive the change; trust no entry until a flush
            self.shared.flush_pending = True

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.url, autocommit=True, connect_timeout=5) as conn:
                    await conn.execute(f"LISTEN {SECURITY}")
                    await conn.execute(f"LISTEN {CATALOG}")
                    await self._drop(None)  # whatever changed while no one listened
                    self.keys.open()
                    self.catalog_changed()
                    if self.shared is not None:
                        self.shared.listening = True
                    self.connected.set()
                    delay = 0.5
                    async for notice in conn.notifies():
                        if notice.channel == CATALOG:
                            self.catalog_changed()
                        elif notice.payload.isdigit():
                            await self._drop(int(notice.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database away: retry, keys in PG
                if self.connected.is_set():
                    log.warning("change notices: lost the database (%s); API keys are checked "
                                "in PostgreSQL until it is back", exc)
            self.connected.clear()
            self.keys.close()
            if self.shared is not None:
                self.shared.listening = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

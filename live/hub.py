"""The push: one LISTEN connection per process fans PostgreSQL's NOTIFY (every ingest, in any
process, notifies at commit) out to the Server-Sent-Events subscribers of this process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import psycopg

from iocgis.live.store import NOTIFY_CHANNEL

log = logging.getLogger("iocgis.live.hub")
QUEUE_SIZE = 10_000  # a subscriber this far behind is dropped (it reconnects)


class Hub:
    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.subscribers: set[asyncio.Queue] = set()
        self._task: asyncio.Task | None = None
        self.listening = asyncio.Event()

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.subscribers.add(queue)
        if self._task is None or self._task.done():
            self.listening = asyncio.Event()
            self._task = asyncio.create_task(self._listen())
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.subscribers.discard(queue)

    async def _listen(self) -> None:
        while self.subscribers:
            try:
                conn = await psycopg.AsyncConnection.connect(self.db_url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    while self.subscribers:  # each round ends after a second of quiet
                        async for note in conn.notifies(timeout=1.0):
                            self._fan_out(json.loads(note.payload))
            except (psycopg.Error, OSError):
                log.exception("the live hub lost the database; reconnecting")
                await asyncio.sleep(1.0)

    def _fan_out(self, events: list[dict[str, Any]]) -> None:
        for queue in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(events)

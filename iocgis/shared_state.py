"""What the worker processes share, in Redis: the rate-limit buckets and the API-key cache.

Every call is short (250 ms socket limits) and a failure opens a breaker for a second, so a
Redis outage costs one slow request per second per worker, never a hang. The callers decide
what an outage means (``iocgis.api.security.http``): logins fail closed, other requests keep
a per-process limit, API keys are checked in PostgreSQL.

The API-key cache holds the row a key resolves to (account, roles, communes, agreement), never
the key: a hit still compares the key's hash. An entry lives ``KEY_CACHE_TTL_S`` at most and
never past the key's, the account's or the agreement's next expiry; a change to a key, an
account or an agreement drops the account's entries at once (``iocgis.changes``: PostgreSQL
NOTIFY to every worker). While a worker's NOTIFY listener is down it does not read the cache.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log = logging.getLogger("iocgis.shared")

KEY_CACHE_TTL_S = 30
PREFIX = "iocgis:"
BREAKER_S = 1.0

# A token bucket per key (``tokens``, ``stamp``) on Redis' own clock: every worker sees one.
_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 't', 's')
local tokens = tonumber(b[1])
local stamp = tonumber(b[2])
if tokens == nil then tokens = burst; stamp = now end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 's', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class SharedUnavailable(Exception):
    """Redis did not answer (or answered recently that it is down)."""


class SharedState:
    """One Redis client per worker process (``AppState.shared``); ``None`` URL: no sharing."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.url = url
        self.client = redis.Redis.from_url(url, socket_timeout=0.25,
                                           socket_connect_timeout=0.25,
                                           retry_on_timeout=False)
        self._bucket = self.client.register_script(_BUCKET)
        self._down_until = 0.0
        self.listening = False  # set by the NOTIFY listener while it is connected
        self.flush_pending = False  # a change came while Redis was down: flush before use

    async def _run(self, call: Any) -> Any:
        if time.monotonic() < self._down_until:
            raise SharedUnavailable
        try:
            result = await call
        except Exception as exc:  # noqa: BLE001 - any Redis or socket failure
            if self._down_until == 0.0 or time.monotonic() - self._down_until > BREAKER_S:
                log.warning("shared state: Redis unavailable (%s): logins refused, other "
                            "limits per process, API keys checked in PostgreSQL", exc)
            self._down_until = time.monotonic() + BREAKER_S
            raise SharedUnavailable from exc
        if self._down_until:
            log.warning("shared state: Redis answers again")
            self._down_until = 0.0
        return result

    # --- rate limits ------------------------------------------------------------------
    async def take(self, bucket: str, per_minute: int, burst: int) -> float:
        """0 when a token was taken, else the seconds to wait; SharedUnavailable when down."""
        wait = await self._run(self._bucket(keys=[PREFIX + "rate:" + bucket],
                                            args=[per_minute / 60.0, burst]))
        return float(wait)

    # --- the API-key cache --------------------------------------------------------------
    async def cached_key(self, prefix: str) -> dict[str, Any] | None:
        if self.flush_pending:
            try:
                await self.drop_account(None)
            except SharedUnavailable:
                return None
            self.flush_pending = False
        if not self.listening:
            return None
        try:
            raw = await self._run(self.client.get(PREFIX + "apikey:" + prefix))
        except SharedUnavailable:
            return None
        return json.loads(raw) if raw else None

    async def cache_key(self, prefix: str, account_id: int, row: dict[str, Any],
                        ttl_s: float) -> None:
        if not self.listening or self.flush_pending or ttl_s < 1:
            return
        ttl = int(min(KEY_CACHE_TTL_S, ttl_s))
        members = PREFIX + f"apikeys:{account_id}"
        pipe = self.client.pipeline(transaction=False)
        pipe.set(PREFIX + "apikey:" + prefix, json.dumps(row, default=str), ex=ttl)
        pipe.sadd(members, prefix)
        pipe.expire(members, KEY_CACHE_TTL_S + 5)
        try:
            await self._run(pipe.execute())
        except SharedUnavailable:
            pass

    async def drop_account(self, account_id: int | None) -> None:
        """Forget the cached keys of an account (``None``: of every account)."""
        if account_id is None:
            names = await self._run(self._names(PREFIX + "apikey*"))
            if names:
                await self._run(self.client.delete(*names))
            return
        members = PREFIX + f"apikeys:{account_id}"
        prefixes = await self._run(self.client.smembers(members))
        names = [PREFIX + "apikey:" + p.decode() for p in prefixes] + [members]
        await self._run(self.client.delete(*names))

    async def ping(self) -> bool:
        """Does Redis answer now (for ``/ready``)?"""
        try:
            await self._run(self.client.ping())
        except SharedUnavailable:
            return False
        return True

    # --- read-your-own-writes pins (iocgis.read_routing) ----------------------------------
    async def pin_reads(self, name: str, lsn: int, ttl_s: float) -> None:
        """Keep the newest WAL position a caller wrote at, for every worker (lost if Redis is
        down: the worker's own pin still holds)."""
        key = PREFIX + "readpin:" + name
        try:
            current = await self._run(self.client.get(key))
            if current is None or int(current) < lsn:
                await self._run(self.client.set(key, str(lsn), ex=max(1, int(ttl_s))))
        except SharedUnavailable:
            pass

    async def read_pin(self, name: str) -> int | None:
        try:
            raw = await self._run(self.client.get(PREFIX + "readpin:" + name))
        except SharedUnavailable:
            return None
        return int(raw) if raw else None

    async def _names(self, pattern: str) -> list[bytes]:
        return [name async for name in self.client.scan_iter(pattern)]

    async def close(self) -> None:
        await self.client.aclose()

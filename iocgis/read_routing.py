"""Read routing: tiles, features, queries and reports read from the streaming replica while it
keeps up; everything else, and a caller's reads after their own write, go to the primary.

- **Which requests.** ``ReadRouting`` (an ASGI middleware) marks GET and HEAD requests of the
  route kinds in ``REPLICA_KINDS`` (``iocgis.ops.metrics.route_kind`` of the path: tiles, OGC
  features, queries, reports), and the POSTs that only read (``READING_POSTS``), as allowed
  to read from the replica; every data statement of those requests still runs through
  ``iocgis.access.database.Reader`` under the caller's access plan (the replica is a physical
  copy: the same roles, grants and row-level security).
- **Lag.** A background task measures the replica every ``IOCGIS_REPLICA_CHECK_S`` (never per
  request): the primary's ``pg_current_wal_lsn()`` then the replica's
  ``pg_last_wal_replay_lsn()``; caught up is lag 0, else the age of the newest primary position
  the replica has passed (``pg_last_xact_replay_timestamp()`` before any). Over
  ``IOCGIS_REPLICA_MAX_LAG_S``, unreachable, or promoted: reads go to the primary until a
  check finds it good again.
- **Read your own writes.** A signed-in caller's successful write request, and the end of their
  import job, pin the caller to the primary until the replica has replayed the primary's WAL
  position of that moment (``pin``): in this process, and in Redis for every worker when the
  workers share one.
- **Faults.** A replica connection that fails before the caller's statements (the replica was
  killed between two checks) marks it down and the read is served by the primary, no error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iocgis.ops import metrics
from iocgis.ops.settings import ReplicaSettings
from iocgis.pools import async_pool, sync_pool

log = logging.getLogger("iocgis.read_routing")

REPLICA_KINDS = frozenset({"tiles", "ogc", "query", "reports"})
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Kinds whose POSTs read as well: the query API never writes (POST /query/region carries its
# region in the body), a report job (POST /reports/jobs, run as a task of that request) reads
# its sections and stores its file through the primary's pool, never through the reader.
READING_POSTS = frozenset({"query", "reports"})
NOT_A_WRITE = frozenset({"query"})  # no pin after these POSTs
REPLICA_OK: ContextVar[bool] = ContextVar("iocgis_replica_ok", default=False)
PRIMARY_LSN = "SELECT pg_current_wal_lsn()::text"
REPLICA_PROBE = ("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                 "extract(epoch FROM now() - pg_last_xact_replay_timestamp())")


def lsn_int(text: str | None) -> int | None:
    """A WAL position ``XXXXXXXX/YYYYYYYY`` as a number (None stays None)."""
    if not text:
        return None
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


@dataclass
class Health:
    """The last check of the replica."""

    reachable: bool = False
    in_recovery: bool = False
    lag_s: float | None = None
    lag_bytes: int | None = None
    replay_lsn: int | None = None
    checked_at: float = 0.0  # time.time() of the check; 0: never checked
    error: str | None = None

    def usable(self, max_lag_s: float) -> bool:
        return (self.reachable and self.in_recovery and self.lag_s is not None
                and self.lag_s <= max_lag_s)


class Pins:
    """Callers whose reads stay on the primary until the replica reaches a WAL position: one
    set per router (a worker's request path and its import jobs share it; other workers
    learn of a pin through Redis)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_name: dict[str, tuple[int, float]] = {}  # name -> (lsn, expires monotonic)

    def add(self, name: str, lsn: int, ttl_s: float) -> None:
        with self.lock:
            old = self.by_name.get(name)
            self.by_name[name] = (max(lsn, old[0] if old else 0), time.monotonic() + ttl_s)

    def held(self, name: str, replay_lsn: int | None) -> bool:
        """Is ``name`` still pinned given the replica's replayed position (dropped if not)?"""
        with self.lock:
            pin = self.by_name.get(name)
            if pin is None:
                return False
            if time.monotonic() > pin[1] or (replay_lsn is not None and replay_lsn >= pin[0]):
                del self.by_name[name]
                return False
            return True


# The routers of this process (one per application: a worker has one; tests may run two),
# for the import jobs' pins.
_ROUTERS: weakref.WeakSet[ReadRouter] = weakref.WeakSet()
# The router of the request being served (set by ``ReadRouting``; copied into the threads
# pygeoapi's providers run in and into the tasks a request starts). A ``Reader`` asks it where
# each read goes when the reader's pool is that router's primary (the request pool, or
# pygeoapi's, which applications on one database in one process share).
CURRENT_ROUTER: ContextVar[ReadRouter | None] = ContextVar("iocgis_read_router", default=None)
_PIN_HOOKS: list[Callable[[str, int], None]] = []


def router_of(pool: object) -> ReadRouter | None:
    """The request's router when ``pool`` is one of its primary pools, else None."""
    router = CURRENT_ROUTER.get()
    if router is not None and (pool is router.primary or any(pool is p for p in router.attached)):
        return router
    return None


def replica_allowed() -> bool:
    return REPLICA_OK.get()


class ReadRouter:
    """The replica's pools, its last check, and the choice of pool for each read."""

    def __init__(self, settings: ReplicaSettings, replica_url: str,
                 primary: AsyncConnectionPool, shared: Any = None) -> None:
        self.settings = settings
        self.replica_url = replica_url
        self.primary = primary
        self.shared = shared  # iocgis.shared_state.SharedState (Redis) or None
        self.replica = async_pool(replica_url, min_size=0, max_size=settings.pool_max,
                                  name="iocgis-replica", timeout_s=settings.pool_timeout_s)
        self.sync_replica: ConnectionPool | None = None
        self.attached: list[ConnectionPool] = []  # pygeoapi's pools routed here
        self.health = Health()
        self.pins = Pins()
        # (monotonic time, primary LSN) of recent checks: the lag is the age of the newest
        # one the replica has replayed past
        self.samples: deque[tuple[float, int]] = deque(maxlen=max(8, int(
            4 * settings.max_lag_s / settings.check_s) + 2))
        self.task: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        _ROUTERS.add(self)

    # --- lifetime -------------------------------------------------------------------------
    async def open(self) -> None:
        await self.replica.open(wait=False)
        await self.check()
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.create_task(self._checking(), name="iocgis-replica-check")

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.replica.close()
        if self.sync_replica is not None:
            self.sync_replica.close()
        self.attached.clear()
        _ROUTERS.discard(self)

    def attach_sync(self, primary: ConnectionPool) -> None:
        """Route the synchronous pool's reads too (pygeoapi's providers): a sync replica pool."""
        if self.sync_replica is None:
            self.sync_replica = sync_pool(self.replica_url, min_size=0,
                                          max_size=max(2, self.settings.pool_max // 2),
                                          name="iocgis-replica-sync",
                                          timeout_s=self.settings.pool_timeout_s)
            self.sync_replica.open(wait=False)
        self.attached.append(primary)

    async def _checking(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_s)
            try:
                await self.check()
            except Exception:  # noqa: BLE001 - a check never stops the checking
                log.exception("replica check failed")

    # --- the check --------------------------------------------------------------------------
    async def check(self) -> Health:
        """Measure the replica once (the primary's position first, then the replica's)."""
        now = time.monotonic()
        primary_lsn: int | None = None
        try:
            async with self.primary.connection(timeout=self.settings.pool_timeout_s) as conn:
                row = await (await conn.execute(PRIMARY_LSN)).fetchone()
                primary_lsn = lsn_int(row[0]) if row else None
        except Exception:  # noqa: BLE001 - the primary away: judged from the replica alone
            primary_lsn = None
        if primary_lsn is not None:
            self.samples.append((now, primary_lsn))
        try:
            async with asyncio.timeout(self.settings.pool_timeout_s + 1):
                async with self.replica.connection(timeout=self.settings.pool_timeout_s) as conn:
                    row = await (await conn.execute(REPLICA_PROBE)).fetchone()
        except Exception as exc:  # noqa: BLE001 - any failure: the replica is not usable
            self._set(Health(reachable=False, checked_at=time.time(),
                             error=(str(exc).strip() or type(exc).__name__)[:200]))
            return self.health
        in_recovery, replay_text, replay_age = row if row else (False, None, None)
        replay = lsn_int(replay_text)
        lag_s, lag_bytes = self._lag(now, primary_lsn, replay, replay_age)
        self._set(Health(reachable=True, in_recovery=bool(in_recovery), lag_s=lag_s,
                         lag_bytes=lag_bytes, replay_lsn=replay, checked_at=time.time(),
                         error=None if in_recovery else "the replica is not in recovery "
                                                        "(promoted?): reads stay on the primary"))
        return self.health

    def _lag(self, now: float, primary_lsn: int | None, replay: int | None,
             replay_age: float | None) -> tuple[float | None, int | None]:
        if replay is None:
            return None, None
        if primary_lsn is None:  # the primary did not answer: the replay's age is all we know
            return (float(replay_age) if replay_age is not None else None), None
        behind = max(primary_lsn - replay, 0)
        if behind == 0:
            return 0.0, 0
        passed = [at for at, lsn in self.samples if lsn <= replay]
        if passed:
            return now - max(passed), behind
        return (max(float(replay_age), now - self.samples[0][0]) if replay_age is not None
                else now - self.samples[0][0]), behind

    def _set(self, health: Health) -> None:
        was = self.health.usable(self.settings.max_lag_s)
        self.health = health
        usable = health.usable(self.settings.max_lag_s)
        if health.lag_s is not None:
            metrics.REPLICA_LAG.set(health.lag_s)
        metrics.REPLICA_USABLE.set(1 if usable else 0)
        if was != usable and health.checked_at:
            log.warning("read replica %s: %s", "in use" if usable else "not used",
                        health.error or f"lag {health.lag_s} s")

    def mark_down(self, exc: BaseException) -> None:
        """A replica connection failed between checks: reads go to the primary until the next
        check finds it good."""
        self._set(Health(reachable=False, checked_at=time.time(),
                         error=(str(exc).strip() or type(exc).__name__)[:200]))

    # --- the choice ---------------------------------------------------------------------------
    def use_replica(self, caller_name: str | None, anonymous: bool) -> str:
        """Where this read goes: ``replica``, or why not (``primary`` reasons)."""
        if not replica_allowed():
            return "write-path"
        if not self.health.usable(self.settings.max_lag_s):
            return "replica-down" if not self.health.reachable else "replica-lagging"
        if not anonymous and caller_name and self.pins.held(caller_name, self.health.replay_lsn):
            return "own-write"
        return "replica"

    def pool_for(self, caller_name: str | None, anonymous: bool) -> AsyncConnectionPool | None:
        return self.replica if self.use_replica(caller_name, anonymous) == "replica" else None

    def sync_pool_for(self, caller_name: str | None, anonymous: bool) -> ConnectionPool | None:
        if self.sync_replica is None:
            return None
        return self.sync_replica if self.use_replica(caller_name, anonymous) == "replica" else None

    def describe(self) -> dict[str, Any]:
        """For ``/ready``: where reads go now and the last check."""
        h = self.health
        return {
            "reads_to": "replica" if h.usable(self.settings.max_lag_s) else "primary",
            "reachable": h.reachable, "in_recovery": h.in_recovery,
            "lag_s": None if h.lag_s is None else round(h.lag_s, 3), "lag_bytes": h.lag_bytes,
            "max_lag_s": self.settings.max_lag_s,
            "checked_s_ago": round(time.time() - h.checked_at, 1) if h.checked_at else None,
            "state": self.state(), "routed": metrics.reads_routed_snapshot(),
        }

    def state(self) -> str:
        """The last check in a word (``/ready`` is public: the error itself goes to the log)."""
        h = self.health
        if not h.checked_at:
            return "not checked"
        if not h.reachable:
            return "unreachable"
        if not h.in_recovery:
            return "promoted"
        return "in use" if h.usable(self.settings.max_lag_s) else "lagging"

    # --- pins ---------------------------------------------------------------------------------
    async def pin_after_write(self, caller_name: str) -> None:
        """Keep ``caller_name``'s reads on the primary until the replica has replayed all the
        primary has written so far (their write included)."""
        async with self.primary.connection(timeout=self.settings.pool_timeout_s) as conn:
            row = await (await conn.execute(PRIMARY_LSN)).fetchone()
        lsn = lsn_int(row[0]) if row else None
        if lsn is not None:
            await self.pin(caller_name, lsn)

    async def pin(self, caller_name: str, lsn: int) -> None:
        self.pins.add(caller_name, lsn, self.settings.pin_max_s)
        if self.shared is not None:
            await self.shared.pin_reads(caller_name, lsn, self.settings.pin_max_s)


def pin_from_thread(caller_name: str, primary_url: str) -> None:
    """After an import job (a worker thread, its own connection): pin its caller to the primary
    until the replica has replayed it, in every router of this process."""
    if not _ROUTERS:
        return
    try:
        with psycopg.connect(primary_url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(PRIMARY_LSN).fetchone()
    except psycopg.OperationalError:
        return
    lsn = lsn_int(row[0]) if row else None
    if lsn is None:
        return
    for router in list(_ROUTERS):
        if router.loop is not None and router.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(router.pin(caller_name, lsn), router.loop)
            with contextlib.suppress(Exception):
                future.result(5)
        else:
            router.pins.add(caller_name, lsn, router.settings.pin_max_s)


class ReadRouting:
    """Marks the requests whose reads may go to the replica, and pins a signed-in caller to the
    primary after their successful write (before the answer leaves, so their next request
    already reads their write). It sits inside the authentication middleware (it needs the
    caller)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        router = _router_of_app(scope.get("app"))
        if router is None:
            await self.app(scope, receive, send)
            return
        safe = scope["method"] in SAFE_METHODS
        kind = metrics.route_kind(scope.get("path", ""))
        token = REPLICA_OK.set(kind in REPLICA_KINDS and (safe or kind in READING_POSTS))
        router_token = CURRENT_ROUTER.set(router)
        if not safe and kind not in NOT_A_WRITE:
            send = _pinning(scope, send, router)
        try:
            if safe:
                await self._pinned_by_other_workers(scope, router)
            await self.app(scope, receive, send)
        finally:
            REPLICA_OK.reset(token)
            CURRENT_ROUTER.reset(router_token)

    async def _pinned_by_other_workers(self, scope: Scope, router: ReadRouter) -> None:
        """With Redis: a write this caller made through another worker pins them here too
        (asked only for signed-in callers whose read could go to the replica)."""
        if router.shared is None or not REPLICA_OK.get():
            return
        name = _caller_name(scope)
        if name is None:
            return
        lsn = await router.shared.read_pin(name)
        if lsn is not None:
            router.pins.add(name, lsn, router.settings.pin_max_s)


def _caller_name(scope: Scope) -> str | None:
    """The signed-in caller of the request (``ReadRouting`` sits inside authentication)."""
    from iocgis.access import current_caller  # iocgis.access imports this module

    caller = current_caller()
    return None if caller.is_anonymous else str(caller.name)


def _pinning(scope: Scope, send: Send, router: ReadRouter) -> Callable[[Message], Awaitable[None]]:
    async def pinning_send(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] < 400:
            name = _caller_name(scope)
            if name is not None:
                try:
                    await router.pin_after_write(name)
                except Exception:  # noqa: BLE001 - no pin: the next check still bounds the lag
                    log.warning("could not pin %s to the primary after a write", name)
        await send(message)
    return pinning_send


def _router_of_app(app: Any) -> ReadRouter | None:
    state = getattr(getattr(app, "state", None), "iocgis", None)
    return getattr(state, "router", None) if state is not None else None

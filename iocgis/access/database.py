"""PostgreSQL enforces the access plan: every data statement of a request runs in a
transaction that takes the caller's group role and communes (``SET LOCAL`` semantics).

The serving role (``iocgis_api``) holds SELECT on the layer tables but no row-level security
policy: a statement run outside ``Reader.reading`` returns no row, instead of every row. Inside,
the group role's column grants refuse personal-data columns to callers without that right, and
its policy keeps a commune-limited caller to their communes (``security.visible_communes()``).

One round trip opens the scope (BEGIN, role, communes, time limit in one simple query); the
statement(s) follow; COMMIT (or ROLLBACK) ends it. ``Reader.reading_from`` sends the first
statement with the scope (one pipeline, one round trip fewer), and ``Reader.first_rows`` sends
all of it in one pipeline when the statements are known up front (the query API): one round
trip in all.
A statement over its time limit is a 503 with Retry-After on every path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.abc import Params
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from iocgis import read_routing
from iocgis.access.plan import AccessPlan, DbScope, db_scope, note_read
from iocgis.access.rules import Caller
from iocgis.errors import DatabaseError, TemporarilyUnavailable
from iocgis.ops import metrics

DEFAULT_TIMEOUT_MS = 30_000
RETRY_AFTER_S = 5

# A statement psycopg's execute takes (its abc.Query also names t-string templates, which
# execute's signature does not).
Statement = str | bytes | sql.SQL | sql.Composed


@lru_cache(maxsize=256)
def scope_select(prefix: str, scope: DbScope, timeout_ms: int) -> str:
    """The caller's scope as one statement, for a transaction already begun (a pipeline)."""
    return sql.SQL(
        "SELECT set_config('role', {role}, true), set_config('iocgis.communes', {c}, true),"
        " set_config('statement_timeout', {t}, true)"
    ).format(role=sql.Literal(scope.group_role(prefix)), c=sql.Literal(scope.communes),
             t=sql.Literal(str(int(timeout_ms)))).as_string(None)


@lru_cache(maxsize=256)
def scope_sql(prefix: str, scope: DbScope, timeout_ms: int, snapshot: bool = False) -> str:
    """BEGIN and the caller's scope as one simple-protocol query (one round trip);
    ``snapshot``: every statement of the transaction sees one state (REPEATABLE READ)."""
    return sql.SQL(
        "BEGIN{iso}; SELECT set_config('role', {role}, true), "
        "set_config('iocgis.communes', {c}, true), set_config('statement_timeout', {t}, true)"
    ).format(iso=sql.SQL(" ISOLATION LEVEL REPEATABLE READ" if snapshot else ""),
             role=sql.Literal(scope.group_role(prefix)), c=sql.Literal(scope.communes),
             t=sql.Literal(str(int(timeout_ms)))).as_string(None)


def _one_caller(plans: AccessPlan | Sequence[AccessPlan]) -> tuple[Caller, tuple[AccessPlan, ...]]:
    found = (plans,) if isinstance(plans, AccessPlan) else tuple(plans)
    if not found:
        raise ValueError("a data statement needs at least one access plan")
    caller = found[0].caller
    if any(p.caller is not caller and p.caller != caller for p in found[1:]):
        raise ValueError("the plans of one statement must belong to one caller")
    return caller, found


def _timeout(what: str, timeout_ms: int, hint: str,
             retry_after_s: int = RETRY_AFTER_S) -> TemporarilyUnavailable:
    return TemporarilyUnavailable(
        f"the {what} ran longer than {timeout_ms / 1000:g} s and was stopped", where=what,
        hint=f"{hint}; or retry in {retry_after_s} s if the server is busy",
        retry_after_s=retry_after_s)


def _unreachable(exc: Exception) -> DatabaseError:
    return DatabaseError("the database is not reachable", where="database",
                         hint=str(exc).strip()[:200] or "retry in a moment")


@dataclass(frozen=True)
class Opening:
    """How a reader's transaction begins: BEGIN and the caller's scope in one simple query,
    or, with a ``first`` statement, BEGIN, the scope and that statement in one pipeline."""

    role_prefix: str
    scope: DbScope
    timeout_ms: int
    snapshot: bool = False
    first: tuple[Statement, Params] | None = None

    async def send(self, conn: psycopg.AsyncConnection) -> tuple[Any, ...] | None:
        """Begins the transaction on ``conn``; the first statement's first row, if any."""
        if self.first is None:
            await conn.execute(scope_sql(self.role_prefix, self.scope, self.timeout_ms,
                                         self.snapshot))
            return None
        try:
            async with conn.pipeline():
                await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ" if self.snapshot
                                   else "BEGIN")
                await conn.execute(scope_select(self.role_prefix, self.scope, self.timeout_ms))
                cur = await conn.execute(*self.first)
            return await cur.fetchone()
        except BaseException:
            if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                await conn.execute("ROLLBACK")
            raise


class Reader:
    """Data statements under the caller's plan, on an async pool (HTTP routes, tiles)."""

    def __init__(self, pool: AsyncConnectionPool, role_prefix: str) -> None:
        self.pool = pool
        self.role_prefix = role_prefix

    @asynccontextmanager
    async def reading(self, plans: AccessPlan | Sequence[AccessPlan], *,
                      timeout_ms: int = DEFAULT_TIMEOUT_MS, what: str = "query",
                      hint: str = "narrow the request", retry_after_s: int = RETRY_AFTER_S,
                      note: bool = True, snapshot: bool = False
                      ) -> AsyncIterator[psycopg.AsyncConnection]:
        """A connection in a transaction under the plans' caller. ``note=False`` for paths
        that note their reads for the audit trail themselves (tiles, once per window);
        ``snapshot=True`` for reads that must see one state throughout (exports)."""
        async with self._scoped(plans, None, timeout_ms=timeout_ms, what=what, hint=hint,
                                retry_after_s=retry_after_s, note=note,
                                snapshot=snapshot) as (conn, _):
            yield conn

    @asynccontextmanager
    async def reading_from(self, plans: AccessPlan | Sequence[AccessPlan],
                           first: tuple[Statement, Params], *,
                           timeout_ms: int = DEFAULT_TIMEOUT_MS, what: str = "query",
                           hint: str = "narrow the request",
                           retry_after_s: int = RETRY_AFTER_S
                           ) -> AsyncIterator[tuple[psycopg.AsyncConnection,
                                                    tuple[Any, ...] | None]]:
        """``reading`` whose first statement is sent with the scope (BEGIN, the scope and the
        statement in one pipeline: one round trip), with that statement's first row."""
        async with self._scoped(plans, first, timeout_ms=timeout_ms, what=what, hint=hint,
                                retry_after_s=retry_after_s) as opened:
            yield opened

    @asynccontextmanager
    async def _scoped(self, plans: AccessPlan | Sequence[AccessPlan],
                      first: tuple[Statement, Params] | None, *, timeout_ms: int, what: str,
                      hint: str, retry_after_s: int, note: bool = True, snapshot: bool = False
                      ) -> AsyncIterator[tuple[psycopg.AsyncConnection, tuple[Any, ...] | None]]:
        caller, found = _one_caller(plans)
        opening = Opening(self.role_prefix, db_scope(caller), timeout_ms, snapshot, first)
        try:
            pool, conn, row = await self._opened(caller, opening)
            try:
                try:
                    yield conn, row
                except BaseException:
                    if not conn.closed:
                        await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
            finally:
                await pool.putconn(conn)
        except psycopg.errors.QueryCanceled:
            raise _timeout(what, timeout_ms, hint, retry_after_s) from None
        except psycopg.OperationalError as exc:
            raise _unreachable(exc) from None
        if note:
            for plan in found:
                note_read(plan)

    async def _opened(self, caller: Caller, opening: Opening
                      ) -> tuple[AsyncConnectionPool, psycopg.AsyncConnection,
                                 tuple[Any, ...] | None]:
        """A connection with the caller's scope opened: on the read replica when the request
        may read there and it keeps up (``iocgis.read_routing``), else on the primary; a
        replica that fails here is marked down and the primary serves the read."""
        router = read_routing.router_of(self.pool)
        if router is not None:
            reason = router.use_replica(caller.name, caller.is_anonymous)
            if reason == "replica":
                conn = None
                try:
                    conn = await router.replica.getconn()
                    row = await opening.send(conn)
                    metrics.read_routed("replica")
                    return router.replica, conn, row
                except psycopg.errors.QueryCanceled:  # the first statement's time limit
                    if conn is not None:
                        await router.replica.putconn(conn)
                    raise
                except psycopg.OperationalError as exc:  # PoolTimeout included
                    if conn is not None:
                        await router.replica.putconn(conn)
                    router.mark_down(exc)
                    reason = "replica-failed"
            metrics.read_routed(reason)
        conn = await self.pool.getconn()
        try:
            row = await opening.send(conn)
        except BaseException:
            await self.pool.putconn(conn)
            raise
        return self.pool, conn, row

    async def first_rows(self, plans: AccessPlan | Sequence[AccessPlan],
                         statements: Sequence[tuple[Statement, Params]], *,
                         timeout_ms: int = DEFAULT_TIMEOUT_MS, what: str = "query",
                         hint: str = "narrow the request", retry_after_s: int = RETRY_AFTER_S,
                         ) -> list[tuple[Any, ...] | None]:
        """The first row of each statement, run as ``reading`` runs them, with BEGIN, the
        scope, the statements and COMMIT sent in one pipeline: one round trip in all."""
        caller, found = _one_caller(plans)
        opening = scope_select(self.role_prefix, db_scope(caller), timeout_ms)
        router = read_routing.router_of(self.pool)
        pool = self.pool
        if router is not None:
            reason = router.use_replica(caller.name, caller.is_anonymous)
            if reason == "replica":
                try:
                    rows = await self._first_rows_on(router.replica, opening, statements)
                except psycopg.errors.QueryCanceled:
                    raise _timeout(what, timeout_ms, hint, retry_after_s) from None
                except psycopg.OperationalError as exc:  # the replica went away: the primary
                    router.mark_down(exc)
                    reason = "replica-failed"
                else:
                    metrics.read_routed("replica")
                    for plan in found:
                        note_read(plan)
                    return rows
            metrics.read_routed(reason)
        try:
            rows = await self._first_rows_on(pool, opening, statements)
        except psycopg.errors.QueryCanceled:
            raise _timeout(what, timeout_ms, hint, retry_after_s) from None
        except psycopg.OperationalError as exc:
            raise _unreachable(exc) from None
        for plan in found:
            note_read(plan)
        return rows

    @staticmethod
    async def _first_rows_on(pool: AsyncConnectionPool, opening: str,
                             statements: Sequence[tuple[Statement, Params]]
                             ) -> list[tuple[Any, ...] | None]:
        """BEGIN, the scope, the statements and COMMIT in one pipeline on ``pool``."""
        async with pool.connection() as conn:
            try:
                async with conn.pipeline():
                    await conn.execute("BEGIN")
                    await conn.execute(opening)
                    cursors = [await conn.execute(q, p) for q, p in statements]
                    await conn.execute("COMMIT")
                rows = [await cur.fetchone() for cur in cursors]
            except BaseException:
                if not conn.closed and conn.info.transaction_status != TransactionStatus.IDLE:
                    await conn.execute("ROLLBACK")
                raise
        return rows


class SyncReader:
    """The same on a synchronous pool (pygeoapi's providers run in worker threads)."""

    def __init__(self, pool: ConnectionPool, role_prefix: str) -> None:
        self.pool = pool
        self.role_prefix = role_prefix

    @contextmanager
    def reading(self, plans: AccessPlan | Sequence[AccessPlan], *,
                timeout_ms: int = DEFAULT_TIMEOUT_MS, what: str = "query",
                hint: str = "narrow the request") -> Iterator[psycopg.Connection]:
        caller, _ = _one_caller(plans)
        router = read_routing.router_of(self.pool)
        if router is not None:
            reason = router.use_replica(caller.name, caller.is_anonymous)
            replica = router.sync_replica if reason == "replica" else None
            if replica is not None:
                conn = None
                try:  # the replica answers, or the primary serves the read
                    conn = replica.getconn()
                    conn.execute(scope_sql(self.role_prefix, db_scope(caller), timeout_ms))
                except psycopg.OperationalError as exc:
                    if conn is not None:
                        replica.putconn(conn)
                    router.mark_down(exc)
                    reason = "replica-failed"
                else:
                    metrics.read_routed("replica")
                    try:
                        with reading_on(conn, plans, self.role_prefix, timeout_ms=timeout_ms,
                                        what=what, hint=hint, opened=True):
                            yield conn
                    finally:
                        replica.putconn(conn)
                    return
            metrics.read_routed(reason)
        with self.pool.connection() as conn:
            with reading_on(conn, plans, self.role_prefix, timeout_ms=timeout_ms, what=what,
                            hint=hint):
                yield conn


@contextmanager
def reading_on(conn: psycopg.Connection, plans: AccessPlan | Sequence[AccessPlan],
               role_prefix: str, *, timeout_ms: int = DEFAULT_TIMEOUT_MS, what: str = "query",
               hint: str = "narrow the request", opened: bool = False
               ) -> Iterator[psycopg.Connection]:
    """Statements on an open autocommit connection under the plans' caller, then COMMIT
    (``opened``: the caller's scope was begun on it already)."""
    caller, found = _one_caller(plans)
    try:
        if not opened:
            conn.execute(scope_sql(role_prefix, db_scope(caller), timeout_ms))
        try:
            yield conn
        except BaseException:
            if not conn.closed:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except psycopg.errors.QueryCanceled:
        raise _timeout(what, timeout_ms, hint) from None
    except psycopg.OperationalError as exc:
        raise _unreachable(exc) from None
    for plan in found:
        note_read(plan)

"""Planning lookup of a parcel: our endpoint against the same SQL straight through psycopg, in
one run.

    .venv/bin/python bench/planning_bench.py [--url postgresql://...] [--repeat 200]

On the ``province`` demo (``common.ensure_province_db()``: about 1M parcels and the demo's
planning zones), or any loaded database (``--url``, e.g. ``bench/queries_data.py``'s generated
one: 1M parcels, 2,000 zones): ``GET /planning/lookup?parcel=<commune/sheet/parcel>`` as an
analyst's API key (uvicorn in its own process, one worker; asked over one kept-alive socket,
``common.LeanHttp``, and again through httpx for comparison) for parcels drawn at random inside
planned zones, against the very statements the endpoint runs (built by the same code:
``asof``, ``places``, ``lookup_sql``, the dossier statements), executed on a warm psycopg 3
connection, by turns. The SQL sends the endpoint's steps one after another on one connection:
the day's dossier facts; BEGIN, the caller's scope and the parcel (one pipeline); the zones and
the plans (one pipeline); COMMIT; the two dossier statements (one pipeline). The endpoint also
overlaps the facts with opening the scope, and its dossier reads with the COMMIT, on a second
connection.

Two servers, one after the other: as deployed (``iocgis serve`` with a Redis, here a
project-local one of the benchmark's own on a free port: the workers' shared key cache behind
each worker's own) and without Redis. Either way a key seen before is answered from the
worker's own cache of verified keys (``iocgis/security/key_cache.py``, dropped by NOTIFY), so
the key floor should equal the floor without a key; before that cache, without Redis, every
request checked its key in PostgreSQL. Each server with its HTTP floors (``GET /health`` with
the key and without any). The floor ratio ``(floor + SQL) / SQL`` is what the endpoint would
reach if the lookup cost nothing beyond its statements. Prints the ratios (goal: within 1.5×
of the SQL, p50 under 50 ms) and rewrites the ``planning`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts the checkout on sys.path)
import httpx
import psycopg
from common import LeanHttp, Timing, measure, write_results_section
from queries_bench import Server

from iocgis import redis_local
from iocgis.access import Caller, db_scope, plan_for
from iocgis.access.database import DEFAULT_TIMEOUT_MS, scope_select
from iocgis.layers import get_registry
from iocgis.planning_docs import asof, codes
from iocgis.planning_docs.lookup import PENDING_SQL, PLAN_DOSSIERS_SQL, dossier_params
from iocgis.planning_docs.lookup_sql import (
    MIN_OVERLAP_M2,
    projects_statement,
    zones_statement,
)
from iocgis.planning_docs.places import PARCEL_FIELDS, PARCELS, parcel_statement
from iocgis.security.settings import SecuritySettings
from iocgis.settings import Settings

ANALYST = Caller(name="bench", roles=frozenset({"analyst"}))
GOAL_MS, GOAL_RATIO = 50.0, 1.5
SAMPLE = 40


def sample_parcels(conn: psycopg.Connection, n: int) -> list[str]:
    """Keys of parcels that lie in planning zones (the lookups worth timing)."""
    rows = conn.execute(
        "SELECT p.commune_code || '/' || p.sheet_no || '/' || p.parcel_no FROM planning.zones z "
        "CROSS JOIN LATERAL (SELECT commune_code, sheet_no, parcel_no FROM land.parcels p "
        "WHERE ST_Intersects(p.geom, z.geom) LIMIT 3) p LIMIT %s", (n * 5,)).fetchall()
    keys = [r[0] for r in rows]
    random.Random(20250701).shuffle(keys)
    return keys[:n]


@contextmanager
def served_as_deployed() -> Iterator[None]:
    """The server as ``iocgis serve`` runs it: with a Redis of its own (a project-local one on
    a free port, under a scratch folder) holding the workers' shared key cache and limits."""
    folder = Path(tempfile.mkdtemp(prefix="iocgis-planning-bench-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(var_dir=folder / "var", redis_port=port, redis_url="")
    redis_local.start(settings)
    before = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = redis_local.local_url(settings)  # the server's environment
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("REDIS_URL", None)
        else:
            os.environ["REDIS_URL"] = before
        redis_local.stop(settings)
        shutil.rmtree(folder, ignore_errors=True)


# One step of the lookup's statements: (query, params) sent alone, or a list of them sent in
# one pipeline; the driver sends back the rows.
Step = tuple[Any, Any] | list[tuple[Any, Any]]


class SameSql:
    """The endpoint's statements for one parcel, one after another on one connection, under
    the same scope: a generator of steps, run by a synchronous driver (the peer) or an
    asynchronous one (the same driver the server uses, without the server around it)."""

    def __init__(self) -> None:
        registry = get_registry()
        self.registry = registry
        self.parcels = plan_for(ANALYST, PARCELS, registry).with_fields(PARCEL_FIELDS)
        self.zones = plan_for(ANALYST, codes.ZONES, registry)
        self.projects = plan_for(ANALYST, codes.PROJECTS, registry)
        self.scope = scope_select(SecuritySettings().db_role_prefix, db_scope(ANALYST),
                                  DEFAULT_TIMEOUT_MS)

    def steps(self, key: str) -> Generator[Step, list[Any], int]:
        today = date.today()
        facts = asof.in_force_of(today, (yield (asof.IN_FORCE_SQL,
                                                 asof.in_force_params(today)))[0])
        statement, values = parcel_statement(self.parcels, self.registry, key, None)
        # as the reader opens the scope: BEGIN, the caller's role and the parcel in one pipeline
        parcel = (yield [("BEGIN", None), (self.scope, None), (statement, values)])[2][0]
        target = bytes(parcel[-2])
        zq = zones_statement(self.zones, self.projects, facts, target, area=True, shapes=False)
        pq = projects_statement(self.projects, self.zones, facts, target)
        zones, plans = yield [(zq.query, zq.params), (pq.query, pq.params)]
        yield ("COMMIT", None)
        found = {z[1] for z in zones if (z[-2] or 0) >= MIN_OVERLAP_M2}
        found |= {p[0] for p in plans if p[-1] or p[0] in found}
        params = dossier_params(ANALYST, sorted(found), today)
        # as the endpoint: both dossier statements in one round trip
        yield [(PLAN_DOSSIERS_SQL, params), (PENDING_SQL, params)]
        return len(zones)


def _rows(cur: Any) -> list[Any]:
    return cur.fetchall() if cur.pgresult is not None and cur.pgresult.ntuples else []


def run_sync(conn: psycopg.Connection, steps: Generator[Step, list[Any], int]) -> int:
    sent: list[Any] | None = None
    try:
        while True:
            step = steps.send(sent)  # type: ignore[arg-type]
            if isinstance(step, list):
                with conn.pipeline():
                    cursors = [conn.execute(q, v) for q, v in step]
                sent = [_rows(c) for c in cursors]
            else:
                sent = _rows(conn.execute(*step))
    except StopIteration as done:
        return int(done.value)


async def run_async(conn: psycopg.AsyncConnection,
                    steps: Generator[Step, list[Any], int]) -> int:
    sent: list[Any] | None = None
    try:
        while True:
            step = steps.send(sent)  # type: ignore[arg-type]
            if isinstance(step, list):
                async with conn.pipeline():
                    cursors = [await conn.execute(q, v) for q, v in step]
                sent = [await c.fetchall() if c.pgresult and c.pgresult.ntuples else []
                        for c in cursors]
            else:
                cur = await conn.execute(*step)
                sent = await cur.fetchall() if cur.pgresult and cur.pgresult.ntuples else []
    except StopIteration as done:
        return int(done.value)


def by_turns(cases: tuple[Callable[[], object], ...], repeat: int) -> list[Timing]:
    """Each case once a round, in turn: a load spike on this shared machine hits all alike."""
    timings = [Timing() for _ in cases]
    for round_ in range(repeat + 2):  # two rounds of warm-up
        for case, timing in zip(cases, timings, strict=True):
            started = time.perf_counter()
            case()
            if round_ >= 2:
                timing.samples.append(time.perf_counter() - started)
    return timings


@dataclass
class Run:
    """One server's figures, measured by turns with the SQL on the same machine load."""

    label: str
    ours: Timing
    sql: Timing
    floor: Timing  # GET /health with the API key: HTTP, middlewares and the key check
    bare: Timing  # GET /health without a key: HTTP and middlewares alone
    sql_async: Timing  # the same statements through psycopg's async driver, no server
    ours_httpx: Timing  # the endpoint again through httpx (its client's ~1 ms of Python)

    @property
    def ratio(self) -> float:
        return self.ours.median / self.sql.median

    def floor_ratio(self, floor: Timing) -> float:
        """The ratio if the lookup cost nothing beyond its statements and the HTTP floor."""
        return (floor.median + self.sql.median) / self.sql.median


def measure_server(label: str, url: str, key: str, keys: list[str], repeat: int) -> Run:
    server = Server(url)
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120) as client, \
                psycopg.connect(url, autocommit=True) as raw_conn:
            lean, anonymous = LeanHttp(server.url, {"X-API-Key": key}), LeanHttp(server.url)
            same = SameSql()
            loop = asyncio.new_event_loop()
            async_conn = loop.run_until_complete(
                psycopg.AsyncConnection.connect(url, autocommit=True))
            turn, httpx_turn = iter(range(10**9)), iter(range(10**9))
            first = keys[0]
            sent = client.get("/planning/lookup", params={"parcel": first})
            if lean.get("/planning/lookup", {"parcel": first})[1] != sent.content:
                raise RuntimeError("the lean client's answer differs from httpx's")

            def ours() -> None:
                status, body = lean.get("/planning/lookup",
                                        {"parcel": keys[next(turn) % len(keys)]})
                if status != 200:
                    raise RuntimeError(f"HTTP {status}: {body[:200]!r}")

            def ours_httpx() -> None:
                response = client.get("/planning/lookup",
                                      params={"parcel": keys[next(httpx_turn) % len(keys)]})
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

            raw_turn, async_turn = iter(range(10**9)), iter(range(10**9))

            def raw() -> int:
                return run_sync(raw_conn, same.steps(keys[next(raw_turn) % len(keys)]))

            def raw_async() -> int:
                return loop.run_until_complete(
                    run_async(async_conn, same.steps(keys[next(async_turn) % len(keys)])))

            floor = measure(lambda: lean.get("/health"), repeat=repeat)
            bare = measure(lambda: anonymous.get("/health"), repeat=repeat)
            ours_t, raw_t, async_t, httpx_t = by_turns((ours, raw, raw_async, ours_httpx),
                                                       repeat)
            lean.close()
            anonymous.close()
            loop.run_until_complete(async_conn.close())
            loop.close()
    finally:
        server.stop()
    run = Run(label, ours_t, raw_t, floor, bare, async_t, httpx_t)
    print(f"{label}: ours p50 {ours_t.median * 1e3:.2f} ms p95 {ours_t.p95 * 1e3:.2f} | same "
          f"SQL p50 {raw_t.median * 1e3:.2f} ms p95 {raw_t.p95 * 1e3:.2f} | ratio "
          f"{run.ratio:.2f}× | HTTP floor with key {floor.median * 1e3:.2f} ms, without "
          f"{bare.median * 1e3:.2f} ms; floor ratios {run.floor_ratio(floor):.2f}× (key), "
          f"{run.floor_ratio(bare):.2f}× (no key); the SQL through the async driver "
          f"{async_t.median * 1e3:.2f} ms; ours through httpx {httpx_t.median * 1e3:.2f} ms",
          flush=True)
    return run


def ms(timing: Timing) -> str:
    return f"{timing.median * 1e3:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a loaded database (default: the province demo)")
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    url = args.url or common.ensure_province_db()
    with psycopg.connect(url) as conn:
        parcels, zones = conn.execute("SELECT (SELECT count(*) FROM land.parcels), "
                                      "(SELECT count(*) FROM planning.zones)").fetchone()
        keys = sample_parcels(conn, SAMPLE)
    if not keys:
        sys.exit("no parcel of the database lies in a planning zone: load the demo first")
    key = common.api_key(url, "bench_analyst", "analyst", "bench")
    load = os.getloadavg()
    with served_as_deployed():
        deployed = measure_server("with Redis (as iocgis serve runs)", url, key, keys,
                                  args.repeat)
    without = measure_server("without Redis (one worker alone)", url, key, keys,
                             args.repeat)
    load_after = os.getloadavg()
    fast = deployed.ours.median * 1e3 < GOAL_MS
    verdict = (f"p50 < {GOAL_MS:g} ms: {'met' if fast else 'missed'}; ≤ {GOAL_RATIO}× the "
               f"SQL: {'met' if deployed.ratio <= GOAL_RATIO else 'missed'}")
    print(verdict)
    print(f"load average {load[0]:.1f} before, {load_after[0]:.1f} after")
    if not args.no_write:
        rows = [f"| {run.label} | {ms(run.ours)} | {run.ours.p95 * 1e3:.2f} ms | {ms(run.sql)} | "
                f"{run.sql.p95 * 1e3:.2f} ms | {run.ratio:.2f}× | {ms(run.floor)} | "
                f"{ms(run.bare)} | {run.floor_ratio(run.floor):.2f}× / "
                f"{run.floor_ratio(run.bare):.2f}× | {ms(run.sql_async)} | "
                f"{ms(run.ours_httpx)} |"
                for run in (deployed, without)]
        write_results_section("planning", "\n".join([
            f"Planning lookup of a parcel (`bench/planning_bench.py`, {args.repeat} calls a "
            f"case): `GET /planning/lookup?parcel=` as an analyst ({parcels:,} parcels, "
            f"{zones:,} zones) against the same statements through psycopg, by turns, the "
            f"endpoint asked over a kept-alive socket (`common.LeanHttp`, as wrk or ab would) "
            f"and again through httpx; load average {load[0]:.1f} → {load_after[0]:.1f}. "
            f"Goal: {verdict}.", "",
            "| server | ours p50 | ours p95 | same SQL p50 | same SQL p95 | ratio | HTTP floor "
            "(key) | HTTP floor (no key) | floor ratio (key / no key) | same SQL, async "
            "driver p50 | ours through httpx p50 |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *rows]))


if __name__ == "__main__":
    main()

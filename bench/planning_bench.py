"""Planning lookup of a parcel: our endpoint against the same SQL straight through psycopg, in
one run.

    .venv/bin/python bench/planning_bench.py [--url postgresql://...] [--repeat 50]

On the ``province`` demo (``common.ensure_province_db()``: about 1M parcels and the demo's
planning zones): ``GET /planning/lookup?parcel=<commune/sheet/parcel>`` as an analyst (uvicorn
in its own process, one worker) for parcels drawn at random inside planned zones, against the
very statements the endpoint runs (built by the same code: ``asof``, ``places``,
``lookup_sql``, the dossier statements), executed on a warm psycopg 3 connection. Prints the
ratio (goal: within 1.5× of the SQL, and p50 under 50 ms) and rewrites the ``planning``
section of bench/RESULTS.md. The SQL runs on one connection, one statement after another (the
dossier statements pipelined, as the endpoint sends them); the endpoint also overlaps the day's
dossier facts with opening the caller's scope, and its dossier reads with the COMMIT, on a
second connection.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import date

import common  # noqa: F401  (puts the checkout on sys.path)
import httpx
import psycopg
from common import measure, write_results_section
from queries_bench import Server, interleaved

from iocgis.access import Caller, db_scope, plan_for
from iocgis.access.database import DEFAULT_TIMEOUT_MS, scope_sql
from iocgis.layers import get_registry
from iocgis.planning_docs import asof, codes
from iocgis.planning_docs.lookup import PENDING_SQL, PLAN_DOSSIERS_SQL, dossier_params
from iocgis.planning_docs.lookup_sql import projects_statement, zones_statement
from iocgis.planning_docs.places import PARCEL_FIELDS, PARCELS, parcel_statement
from iocgis.security.settings import SecuritySettings

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


class SameSql:
    """The endpoint's statements for one parcel, on one connection, under the same scope."""

    def __init__(self, conn: psycopg.Connection) -> None:
        registry = get_registry()
        self.conn, self.registry = conn, registry
        self.parcels = plan_for(ANALYST, PARCELS, registry).with_fields(PARCEL_FIELDS)
        self.zones = plan_for(ANALYST, codes.ZONES, registry)
        self.projects = plan_for(ANALYST, codes.PROJECTS, registry)
        self.scope = scope_sql(SecuritySettings().db_role_prefix, db_scope(ANALYST),
                               DEFAULT_TIMEOUT_MS)

    def __call__(self, key: str) -> int:
        today = date.today()
        facts = asof.in_force_sync(self.conn, today)
        statement, values = parcel_statement(self.parcels, self.registry, key, None)
        self.conn.execute(self.scope)  # BEGIN + the caller's role, as the reader does
        row = self.conn.execute(statement, values).fetchone()
        assert row is not None, key
        target = bytes(row[-2])
        zq = zones_statement(self.zones, self.projects, facts, target, area=True, shapes=False)
        zones = self.conn.execute(zq.query, zq.params).fetchall()
        pq = projects_statement(self.projects, facts, target, sorted({z[1] for z in zones}))
        plans = self.conn.execute(pq.query, pq.params).fetchall()
        self.conn.execute("COMMIT")
        params = dossier_params(ANALYST, sorted({p[0] for p in plans} | {z[1] for z in zones}),
                                today)
        with self.conn.pipeline():  # as the endpoint: both statements in one round trip
            dossiers = self.conn.execute(PLAN_DOSSIERS_SQL, params)
            pending = self.conn.execute(PENDING_SQL, params)
        dossiers.fetchall()
        pending.fetchall()
        return len(zones)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a loaded database (default: the province demo)")
    parser.add_argument("--repeat", type=int, default=50)
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
    server = Server(url)
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120) as client, \
                psycopg.connect(url, autocommit=True) as raw_conn:
            raw = SameSql(raw_conn)
            cycle = iter(range(10**9))

            def ours() -> None:
                response = client.get("/planning/lookup",
                                      params={"parcel": keys[next(cycle) % len(keys)]})
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

            raw_cycle = iter(range(10**9))
            floor = measure(lambda: client.get("/health"), repeat=args.repeat)
            ours_t, raw_t = interleaved(ours, lambda: raw(keys[next(raw_cycle) % len(keys)]),
                                        args.repeat)
    finally:
        server.stop()
    ratio = ours_t.median / raw_t.median
    line = (f"parcel lookup ({len(keys)} parcels in zones; {parcels:,} parcels, {zones:,} "
            f"zones): ours p50 {ours_t.median * 1e3:.1f} ms p95 {ours_t.p95 * 1e3:.1f} | same "
            f"SQL p50 {raw_t.median * 1e3:.1f} ms p95 {raw_t.p95 * 1e3:.1f} | ratio {ratio:.2f}× "
            f"| HTTP floor {floor.median * 1e3:.1f} ms")
    print(line)
    verdict = (f"p50 < {GOAL_MS:g} ms: {'met' if ours_t.median * 1e3 < GOAL_MS else 'missed'}; "
               f"≤ {GOAL_RATIO}× the SQL: {'met' if ratio <= GOAL_RATIO else 'missed'}")
    print(verdict)
    if not args.no_write:
        write_results_section("planning", "\n".join([
            "Planning lookup of a parcel (`bench/planning_bench.py`): `GET /planning/lookup?parcel=`"
            " as an analyst against the same statements through psycopg, interleaved.", "",
            "| question | ours p50 | ours p95 | same SQL p50 | same SQL p95 | ratio | HTTP floor "
            "| goal |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
            f"| parcel lookup ({parcels:,} parcels, {zones:,} zones) | "
            f"{ours_t.median * 1e3:.1f} ms | {ours_t.p95 * 1e3:.1f} ms | "
            f"{raw_t.median * 1e3:.1f} ms | {raw_t.p95 * 1e3:.1f} ms | {ratio:.2f}× | "
            f"{floor.median * 1e3:.1f} ms | {verdict} |"]))


if __name__ == "__main__":
    main()

"""The cost of PostgreSQL enforcing the access plan, against the same statements without it.

    .venv/bin/python bench/access_bench.py [--url postgresql://...] [--per-zoom 12] [--no-write]

On the ``province`` demo (``common.ensure_province_db()``: about 1M parcels), in one run and
alternating per round so a busy machine weighs on both alike:

  tiles (z13-z16 over the parcels, the list of ``tiles_bench``), one client:
    (a) the tile statement as the owner, no scope (the floor of the first wave),
    (b) the same through ``Reader.reading`` as an analyst: BEGIN + role + communes in one
        round trip, row-level security by ``security.visible_communes()``, COMMIT,
    (c) the same for an analyst limited to one commune (policy and statement filter);
  items (a first page of 100 parcels in a 2 km box, ``features_sql.page_sql``):
    (a) as the owner, (b) through the reader as an analyst;
  (cached tiles run no statement: the plan is built on a cache miss only, so they pay nothing.)

Prints medians and the overhead in per cent, and rewrites the ``access`` section of
bench/RESULTS.md. Goal: under 5 % on cached and uncached tiles.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import common
from common import write_results_section
from psycopg_pool import AsyncConnectionPool
from tiles_bench import tile_list

from iocgis.access import Caller, plan_for
from iocgis.access.database import Reader
from iocgis.api.ogc.crs import CRS84
from iocgis.api.ogc.features_sql import page_sql
from iocgis.api.ogc.params import Bbox, ItemsQuery
from iocgis.layers import get_registry
from iocgis.settings import get_settings
from iocgis.tiles.sql import build_statement

ROUNDS = 5
NOTE = (" The absolute cost is the scope's round trips (BEGIN with the role, communes and"
        " time limit in one simple query, then COMMIT): about 0.3 ms per statement, which is"
        " the whole of the items row (an items request over HTTP takes 20-40 ms); a"
        " commune-limited caller's tiles are faster than the unscoped floor because the"
        " policy and the statement both narrow to one commune's rows.")
ANALYST = Caller(name="bench", roles=frozenset({"analyst"}))
PREFIX = get_settings().security.db_role_prefix


async def _timed(fn) -> float:  # noqa: ANN001
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


async def main_async(url: str, per_zoom: int) -> dict[str, list[float]]:
    registry = get_registry()
    layer = registry.get("land.parcels")
    tiles = [t for t in tile_list(url, per_zoom) if 13 <= t.z <= 16]
    pool = AsyncConnectionPool(url, min_size=2, max_size=4, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True)
    reader = Reader(pool, PREFIX)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT commune_code FROM land.parcels GROUP BY 1 "
                                 "ORDER BY count(*) DESC LIMIT 1")
        (commune,) = await cur.fetchone()
    scoped = Caller(name="bench-scoped", roles=frozenset({"analyst"}),
                    commune_codes=frozenset({commune}))
    plain_plan = plan_for(ANALYST, layer).with_fields(())
    scoped_plan = plan_for(scoped, layer).with_fields(())
    statements = {z: build_statement((layer,), z) for z in range(13, 17)}
    scoped_statements = {z: build_statement((layer,), z, scoped=True) for z in range(13, 17)}

    async def tiles_owner() -> None:
        for t in tiles:
            st = statements[t.z]
            async with pool.connection() as conn:
                await (await conn.execute(st.text, st.params_for(t, 0.5), binary=True)).fetchone()

    async def tiles_reader(plan, table) -> None:  # noqa: ANN001
        for t in tiles:
            st = table[t.z]
            async with reader.reading(plan, note=False) as conn:
                await (await conn.execute(st.text, st.params_for(t, 0.5, None, plan.communes),
                                          binary=True)).fetchone()

    lon, lat = 106.84, 10.96
    box = Bbox(lon - 0.009, lat - 0.009, lon + 0.009, lat + 0.009, CRS84)
    items_plan = plan_for(ANALYST, layer)
    query = ItemsQuery(layer_id=layer.id, visible_fields=items_plan.fields, limit=100, bbox=box)
    statement, params = page_sql(items_plan, query)

    async def items_owner() -> None:
        for _ in range(20):
            async with pool.connection() as conn:
                await (await conn.execute(statement, params)).fetchall()

    async def items_reader() -> None:
        for _ in range(20):
            async with reader.reading(items_plan, note=False) as conn:
                await (await conn.execute(statement, params)).fetchall()

    results: dict[str, list[float]] = {k: [] for k in (
        "tiles owner", "tiles reader", "tiles reader scoped", "items owner", "items reader")}
    for _ in range(ROUNDS):
        results["tiles owner"].append(await _timed(tiles_owner))
        results["tiles reader"].append(await _timed(lambda: tiles_reader(plain_plan,
                                                                         statements)))
        results["tiles reader scoped"].append(await _timed(
            lambda: tiles_reader(scoped_plan, scoped_statements)))
        results["items owner"].append(await _timed(items_owner))
        results["items reader"].append(await _timed(items_reader))
    await pool.close()
    results["_n"] = [len(tiles)]
    return results


def report(results: dict[str, list[float]]) -> str:
    (n_tiles,) = results.pop("_n")
    med = {k: statistics.median(v) for k, v in results.items()}

    def over(ours: str, floor: str) -> str:
        return f"{(med[ours] / med[floor] - 1) * 100:+.1f} %"

    rows = [
        ("uncached tiles z13-16, analyst", med["tiles reader"] / n_tiles,
         med["tiles owner"] / n_tiles, over("tiles reader", "tiles owner")),
        ("uncached tiles z13-16, one commune", med["tiles reader scoped"] / n_tiles,
         med["tiles owner"] / n_tiles, over("tiles reader scoped", "tiles owner")),
        ("items page (100 in 2 km)", med["items reader"] / 20, med["items owner"] / 20,
         over("items reader", "items owner")),
    ]
    lines = ["## Access plan enforced by PostgreSQL (`bench/access_bench.py`)", "",
             "| path | under the plan (ms) | without (ms) | overhead |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {a * 1000:.2f} | {b * 1000:.2f} | {pct} |" for name, a, b, pct in rows]
    text = "\n".join(lines)
    text += (f"\n\n{n_tiles} tiles, {ROUNDS} alternating rounds, medians per request. "
             "\"Without\" is the same statement as the owner, no role and no row-level "
             "security. Cached tiles run no statement (the plan is built on a miss only)."
             + NOTE)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a database with the province demo (default: built)")
    parser.add_argument("--per-zoom", type=int, default=12)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    url = args.url or common.ensure_province_db()
    text = report(asyncio.run(main_async(url, args.per_zoom)))
    print(text)
    if not args.no_write:
        write_results_section("access", text)


if __name__ == "__main__":
    main()

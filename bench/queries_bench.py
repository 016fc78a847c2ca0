"""Spatial query API against the same SQL straight through psycopg, in one run.

    .venv/bin/python bench/queries_bench.py [--url postgresql://... | --scale large] [--repeat 30]
                                            [--workers 2] [--only 'point,radius 500 m']

On the ``province`` demo (``common.ensure_province_db()``: about 1M parcels, 500k houses):
a point, a 500 m and a 5 km radius, one commune, all communes (choropleth) and a drawn polygon.
For each, our HTTP endpoint (uvicorn in its own process, an analyst's API key) and the very
statements the endpoint runs (built once by the same code, ``iocgis.api.query.sql``), executed
with psycopg 3 on a warm connection: sequential p50/p95, then 16 concurrent clients. Prints
ratios and rewrites the ``queries`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import common  # noqa: F401  (puts the checkout on sys.path)
import httpx
import psycopg
import psycopg.sql
import queries_data
from common import Timing, measure, write_results_section

from iocgis.access import Caller
from iocgis.api.query import allowlist
from iocgis.api.query.choropleth import choropleth_statement, parse_aggregates, unit_field
from iocgis.api.query.context import QueryContext
from iocgis.api.query.handlers import build_queries
from iocgis.api.query.params import Params
from iocgis.api.query.spec import Around, AtPoint, Inside, Nearest
from iocgis.api.query.sql import layer_statement
from iocgis.layers import get_registry
from iocgis.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 16
ANALYST = Caller(name="bench", roles=frozenset({"analyst"}))
GOALS_MS = {"point": 20, "radius 500 m": 20, "one commune": 100, "all communes": 1000}


@dataclass
class Case:
    name: str
    method: str
    path: str
    params: dict[str, Any]
    body: Any
    raw: Callable[[psycopg.Connection], None]  # the same statements, through psycopg


def _params(values: dict[str, Any]) -> Params:
    """The request's query string as the endpoint reads it."""
    return Params({k: str(v) for k, v in values.items()}, values.keys())


def _ctx() -> QueryContext:
    state = SimpleNamespace(registry=get_registry(), settings=get_settings(), pool=None)
    return QueryContext(state, ANALYST)  # type: ignore[arg-type]


def _prebuilt(queries: list) -> Callable[[psycopg.Connection], None]:  # noqa: ANN001
    """The layers' statements, built once (the SQL floor: no Python composes them per call),
    run one after the other."""
    statements = [layer_statement(query) for query in queries]

    def run(conn: psycopg.Connection) -> None:
        for statement in statements:
            conn.execute(statement.query, statement.params).fetchone()
    return run


def _layers(ctx: QueryContext, ids: str) -> tuple:
    """The caller's plans for the layers, as the endpoint builds them."""
    return allowlist.spatial_plans(ctx.caller, ctx.registry, ids.split(","))


def build_cases(conn: psycopg.Connection) -> list[Case]:
    """Six questions on real places of the loaded data (picked with a fixed seed)."""
    ctx = _ctx()
    rnd = random.Random(7)
    # A typical commune (the median by parcels) and the densest one (the worst case).
    by_size = [r[0] for r in conn.execute(
        "SELECT commune_code FROM land.parcels GROUP BY 1 ORDER BY count(*), 1").fetchall()]
    typical, densest = by_size[len(by_size) // 2], by_size[-1]
    points = conn.execute(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) AS c FROM housing.houses"
        " TABLESAMPLE SYSTEM (1) REPEATABLE (7) LIMIT 200) s").fetchall()
    lon, lat = points[rnd.randrange(len(points))]
    cases: list[Case] = []

    point_layers = "admin.communes,land.parcels,planning.zones,emergency.flood_zones," \
                   "emergency.shelters"
    point_params = {"lon": lon, "lat": lat, "layers": point_layers, "nearest": 5}

    point_raw = _prebuilt(build_queries(
        ctx, _params(point_params), _layers(ctx, point_layers), lambda layer: (
            AtPoint(lon, lat) if "Polygon" in (layer.geometry or "") else Nearest(lon, lat, 5))))

    cases.append(Case("point", "GET", "/query/point", point_params, None, point_raw))

    for radius, label in ((500, "radius 500 m"), (5000, "radius 5 km")):
        params = {"lon": lon, "lat": lat, "radius_m": radius,
                  "layers": "housing.houses,infra.schools", "group_by": "commune_code",
                  "limit": 100}

        radius_raw = _prebuilt(build_queries(ctx, _params(params), _layers(ctx, params["layers"]),
                                             lambda _l, radius=radius: Around(lon, lat, radius)))

        cases.append(Case(label, "GET", "/query/radius", params, None, radius_raw))

    commune_params = {"layers": "land.parcels,housing.houses", "group_by": "commune_code",
                      "limit": 100}
    unit_layer = ctx.registry.admin_layer("commune")

    boundary = psycopg.sql.SQL("SELECT ST_AsBinary(ST_Union(geom)), min(name) FROM {}"
                               " WHERE code = %s HAVING count(*) > 0").format(
        psycopg.sql.Identifier(unit_layer.schema_name, unit_layer.table_name))

    def commune_raw(commune: str) -> Callable[[psycopg.Connection], None]:
        """The boundary's statement (the endpoint reads it per call too), then the layers'."""
        wkb, _ = conn.execute(boundary, (commune,)).fetchone()
        layers = _prebuilt(build_queries(ctx, _params(commune_params),
                                         _layers(ctx, commune_params["layers"]),
                                         lambda _l: Inside(bytes(wkb))))

        def run(c: psycopg.Connection) -> None:
            c.execute(boundary, (commune,)).fetchone()
            layers(c)
        return run

    for label, commune in (("one commune", typical), ("densest commune", densest)):
        cases.append(Case(label, "GET", f"/query/admin/{commune}", commune_params, None,
                          commune_raw(commune)))

    all_params = {"level": "commune", "layer": "housing.houses",
                  "agg": "count,sum:household_size,true:is_poor"}
    houses = ctx.registry.get("housing.houses")

    aggregates = parse_aggregates(ctx.plan(houses), all_params["agg"].split(","))

    def all_raw(c: psycopg.Connection) -> None:
        statement, values = choropleth_statement(
            unit_layer, houses, aggregates, (),
            get_settings().province_code, with_geometry=False,
            by_field=unit_field(houses, unit_layer))  # the endpoint's default for houses
        c.execute(statement, values).fetchall()

    cases.append(Case("all communes", "GET", "/query/admin", all_params, None, all_raw))

    d = 0.01  # a drawn square of about 2.2 km
    polygon = {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d],
                                                   [lon + d, lat + d], [lon - d, lat + d],
                                                   [lon - d, lat - d]]]}
    region_params = {"layers": "housing.houses,land.parcels", "group_by": "commune_code",
                     "limit": 100}

    import shapely
    from shapely.geometry import shape
    wkb = shapely.to_wkb(shape(polygon))
    region_raw = _prebuilt(build_queries(ctx, _params(region_params),
                                         _layers(ctx, region_params["layers"]),
                                         lambda _l: Inside(wkb)))

    cases.append(Case("drawn polygon", "POST", "/query/region", region_params, polygon,
                      region_raw))
    return cases


class Server:
    """Our API under uvicorn in its own process (one worker unless asked), on the benchmark
    database."""

    def __init__(self, url: str, workers: int = 1) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": url}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "iocgis.api.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
             "--workers", str(workers)],
            cwd=ROOT, env=env)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the API server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def _http_call(client: httpx.Client, case: Case) -> int:
    if case.method == "POST":
        response = client.post(case.path, params=case.params, json=case.body)
    else:
        response = client.get(case.path, params=case.params)
    return response.status_code


def interleaved(ours: Callable[[], object], peer: Callable[[], object],
                repeat: int) -> tuple[Timing, Timing]:
    """Ours and the peer one after the other in each round, so both see the same machine load
    (this machine is shared; a burst of other work then hits both, not one)."""
    for _ in range(2):
        ours()
        peer()
    timings = (Timing(), Timing())
    for _ in range(repeat):
        for fn, timing in zip((ours, peer), timings):
            started = time.perf_counter()
            fn()
            timing.samples.append(time.perf_counter() - started)
    return timings


def concurrent(make_worker: Callable[[], Callable[[], bool]], per_client: int) -> tuple[Timing, int]:
    """``CONCURRENCY`` clients, each running ``per_client`` calls; latencies and error count."""
    timing, errors = Timing(), 0

    def client() -> tuple[list[float], int]:
        call = make_worker()
        samples, failed = [], 0
        for _ in range(per_client):
            started = time.perf_counter()
            ok = call()
            samples.append(time.perf_counter() - started)
            failed += 0 if ok else 1
        return samples, failed

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for samples, failed in pool.map(lambda _: client(), range(CONCURRENCY)):
            timing.samples += samples
            errors += failed
    return timing, errors


NEEDED = ("admin.communes", "housing.houses", "land.parcels", "emergency.shelters",
          "emergency.flood_zones", "planning.zones", "infra.schools")


def missing_layers(url: str) -> list[str]:
    """The layers the questions read that hold no rows in this database."""
    missing = []
    with psycopg.connect(url) as conn:
        for layer_id in NEEDED:
            schema, table = layer_id.split(".")
            statement = psycopg.sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
                psycopg.sql.Identifier(schema, table))
            if not conn.execute(statement).fetchone()[0]:
                missing.append(layer_id)
    return missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a loaded database (default: the province demo)")
    parser.add_argument("--scale", choices=sorted(queries_data.SCALES),
                        help="the data bench/queries_data.py generates at that scale "
                             "(large: 5M parcels, 2.5M houses)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--per-client", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn workers serving ours (default 1; more implies --no-write)")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--only", help="comma-separated questions, e.g. 'point,radius 500 m'"
                                       " (implies --no-write)")
    args = parser.parse_args()
    url, source = args.url, "the database given with --url"
    if args.scale:
        url = queries_data.ensure_generated_db(args.scale)
        source = f"data generated by bench/queries_data.py --scale {args.scale}"
    elif url is None:
        url, source = common.ensure_province_db(), "the province demo (bench/common.py)"
        missing = missing_layers(url)
        if missing:
            print(f"the province demo lacks {', '.join(missing)}; using generated data "
                  "(bench/queries_data.py)", file=sys.stderr)
            url = queries_data.ensure_generated_db()
            source = (f"data generated by bench/queries_data.py (the province demo lacked "
                      f"{', '.join(missing)} when this ran)")
    with psycopg.connect(url) as conn:
        counts = dict(conn.execute("SELECT layer, n FROM (VALUES ('land.parcels',"
                                   " (SELECT count(*) FROM land.parcels)), ('housing.houses',"
                                   " (SELECT count(*) FROM housing.houses))) v(layer, n)"
                                   ).fetchall())
        cases = build_cases(conn)
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        cases = [case for case in cases if case.name in wanted]
        args.no_write = True
    key = common.api_key(url, "bench_analyst", "analyst", "bench")
    if args.workers != 1:
        args.no_write = True
    server = Server(url, args.workers)
    rows, lines = [], []
    floor = Timing([0.0])
    try:
        headers = {"X-API-Key": key}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client, \
                psycopg.connect(url, autocommit=True) as raw_conn:
            floor = measure(lambda: client.get("/health"), repeat=args.repeat)
            print(f"HTTP + authentication floor (/health with the API key): p50 "
                  f"{floor.median * 1e3:.1f} ms", flush=True)
            for case in cases:
                status = _http_call(client, case)
                if status != 200:
                    raise RuntimeError(f"{case.name}: HTTP {status}")
                ours, raw = interleaved(lambda case=case: _http_call(client, case),
                                        lambda case=case: case.raw(raw_conn), args.repeat)

                def http_worker(case: Case = case) -> Callable[[], bool]:
                    c = httpx.Client(base_url=server.url, headers=headers, timeout=120)
                    return lambda: _http_call(c, case) == 200

                def raw_worker(case: Case = case) -> Callable[[], bool]:
                    c = psycopg.connect(url, autocommit=True)

                    def call() -> bool:
                        case.raw(c)
                        return True
                    return call

                ours_c, errors = concurrent(http_worker, args.per_client)
                raw_c, _ = concurrent(raw_worker, args.per_client)
                row = (case.name, ours, raw, ours_c, raw_c, errors)
                rows.append(row)
                line = (f"{case.name:14s} ours p50 {ours.median * 1e3:7.1f} ms p95 "
                        f"{ours.p95 * 1e3:7.1f} | SQL p50 {raw.median * 1e3:7.1f} ms p95 "
                        f"{raw.p95 * 1e3:7.1f} | ratio {ours.median / raw.median:4.2f}× | "
                        f"16 clients p50 {ours_c.median * 1e3:7.1f} / "
                        f"{raw_c.median * 1e3:7.1f} ms ({ours_c.median / raw_c.median:4.2f}×),"
                        f" errors {errors}")
                lines.append(line)
                print(line, flush=True)
    finally:
        server.stop()
    table = ["| question | ours p50 | ours p95 | same SQL p50 | same SQL p95 | ratio p50 | "
             "16 clients: ours p50 / p95 | 16 clients: SQL p50 / p95 | ratio | errors | goal |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for name, ours, raw, ours_c, raw_c, errors in rows:
        goal = GOALS_MS.get(name)
        verdict = "" if goal is None else (f"p50 < {goal} ms: "
                                           + ("met" if ours.median * 1e3 < goal else "missed"))
        ratio_goal = "≤ 1.5×: " + ("met" if ours.median / raw.median <= 1.5 else "missed")
        table.append(
            f"| {name} | {ours.median * 1e3:.1f} ms | {ours.p95 * 1e3:.1f} ms | "
            f"{raw.median * 1e3:.1f} ms | {raw.p95 * 1e3:.1f} ms | "
            f"{ours.median / raw.median:.2f}× | {ours_c.median * 1e3:.0f} / "
            f"{ours_c.p95 * 1e3:.0f} ms | {raw_c.median * 1e3:.0f} / {raw_c.p95 * 1e3:.0f} ms | "
            f"{ours_c.median / raw_c.median:.2f}× | {errors} | {ratio_goal}"
            + (f"; {verdict}" if verdict else "") + " |")
    data = ", ".join(f"{n:,} {k}" for k, n in counts.items())
    markdown = "\n".join([
        "## Spatial queries (`bench/queries_bench.py`)",
        f"{time.strftime('%Y-%m-%d')}, {source}: {data}; {args.repeat} sequential rounds per "
        "question (ours and the same SQL alternating, so both meet the same load), then "
        f"{CONCURRENCY} concurrent clients × {args.per_client} calls. \"Same SQL\" runs the "
        "statements the endpoint runs (built once by the same code: the SQL floor, no Python "
        "composing them per call) through psycopg 3 on a warm connection, one layer after "
        "the other (the endpoint pipelines cheap layers on one "
        "connection and runs heavier ones side by side). \"One commune\": the median commune "
        "by parcels; \"densest\": the one with the most. "
        "Ours: one uvicorn worker, an analyst's API key (authentication included); the floor "
        f"of that stack, `/health` with the key, is {floor.median * 1e3:.1f} ms p50. "
        f"Load average when the run ended: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(other work shares the machine; compare ratios, not absolute times).", "",
        *table])
    if not args.no_write:
        write_results_section("queries", markdown)
    print("\n" + markdown)


if __name__ == "__main__":
    main()

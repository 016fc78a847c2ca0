"""Primary alone against replica + primary on the query mix, in one run, on a cluster of the
bench's own (never the shared 55432; its replica by ``iocgis.replica``, as ``iocgis replica
start`` makes it).

    .venv/bin/python bench/replica_bench.py [--turns 4] [--per-client 6] [--keep DIR]
                                            [--no-write]

Data: ``bench/queries_data.py``'s province (100 communes, 500k houses, 1M parcels), generated
into the bench's own primary. The questions: queries_bench.py's point, 500 m radius and one
commune, as an analyst (API key). Two servers (one uvicorn worker each) on the same primary:
A reads from the primary alone, B with ``REPLICA_URL`` set, its reads routed to the replica.
By turns (A then B, then B then A, ...): 16 clients × --per-client calls cycling through the
three questions; requests/s, p50/p95, errors, and the ratio B / A; B's /ready proves where its
reads went. Rewrites the ``replica`` section of bench/RESULTS.md.

Both clusters and both servers share this machine's 2 cores: the ratio measures what the
routing costs or gains here, not what a replica on its own machine would add (docs/SCALE.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import common  # noqa: F401  (puts the checkout on sys.path)
import httpx
import psycopg
import queries_data
from common import Timing, write_results_section
from queries_bench import CONCURRENCY, Case, Server, _http_call, build_cases, concurrent

from iocgis import cluster, replica
from iocgis.ops.settings import BackupSettings, ReplicaSettings
from iocgis.settings import Settings, get_settings

MIX = ("point", "radius 500 m", "one commune")


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Environment variables for a server started inside (queries_bench.Server reads them)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def own_clusters(root: Path) -> tuple[Settings, str]:
    """The bench's primary (created or reused in ``root``) with the generated data, and its
    streaming replica; the data's URL on the primary."""
    settings = Settings(pg_port=int(os.environ.get("BENCH_PG_PORT", "56532")),
                        pg_data_dir=root / "pgdata", var_dir=root / "var", database_url="",
                        replica=ReplicaSettings(port=int(os.environ.get("BENCH_REPLICA_PORT",
                                                                        "56533"))))
    cluster.start(settings, BackupSettings(archive=False))
    os.environ["DATABASE_URL"] = cluster.local_url(settings)
    get_settings.cache_clear()
    began = time.monotonic()
    url = queries_data.ensure_generated_db("province")
    print(f"data ready in {time.monotonic() - began:.0f} s", file=sys.stderr)
    began = time.monotonic()
    print(replica.start(settings).describe(), f"({time.monotonic() - began:.0f} s)",
          file=sys.stderr)
    return settings, url


def run_mix(server: Server, key: str, cases: list[Case], per_client: int
            ) -> tuple[Timing, int, float]:
    """16 clients, each cycling through the mix; latencies, errors, requests per second."""
    def worker() -> object:
        client = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=120)
        turn = iter(range(10**9))
        return lambda: _http_call(client, cases[next(turn) % len(cases)]) == 200

    began = time.perf_counter()
    timing, errors = concurrent(worker, per_client)  # type: ignore[arg-type]
    return timing, errors, len(timing.samples) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=4)
    parser.add_argument("--per-client", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="reuse/keep the clusters in this folder")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="iocgis-replica-bench-", dir="/tmp"))
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # the server's user traverses it
    settings, url = own_clusters(root)
    servers: list[Server] = []
    try:
        with psycopg.connect(url) as conn:
            cases = [c for c in build_cases(conn) if c.name in MIX]
            parcels = conn.execute("SELECT count(*) FROM land.parcels").fetchone()[0]  # type: ignore[index]
        key = common.api_key(url, "bench_analyst", "analyst", "replica bench")
        dbname = url.rsplit("/", 1)[1]
        alone = Server(url)
        servers.append(alone)
        with environment(REPLICA_URL=replica.url(settings, dbname)):
            routed = Server(url)
        servers.append(routed)
        for server in servers:  # warm both: statements prepared, caches of both clusters
            run_mix(server, key, cases, 2)
        results: dict[str, list[tuple[Timing, int, float]]] = {"alone": [], "routed": []}
        for turn in range(args.turns):
            order = (("alone", alone), ("routed", routed))
            for name, server in order if turn % 2 == 0 else order[::-1]:
                results[name].append(run_mix(server, key, cases, args.per_client))
                print(f"turn {turn + 1} {name}: {results[name][-1][2]:.1f} req/s", flush=True)
        ready = httpx.get(routed.url + "/ready", timeout=30).json()["replica"]
    finally:
        for server in servers:
            server.stop()
        if args.keep is None:
            replica.stop(settings, "immediate")
            cluster.stop(settings)
            shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()
    rows = []
    for name in ("alone", "routed"):
        timing = Timing([s for t, _, _ in results[name] for s in t.samples])
        rate = sum(r for _, _, r in results[name]) / len(results[name])
        errors = sum(e for _, e, _ in results[name])
        rows.append((name, timing, rate, errors))
    (_, a, rate_a, _), (_, b, rate_b, _) = rows
    line = (f"replica + primary / primary alone: {rate_b / rate_a:.2f}x requests/s, p50 "
            f"{b.median * 1e3:.0f} vs {a.median * 1e3:.0f} ms; B's reads: {ready['routed']}")
    print(line)
    label = {"alone": "primary alone", "routed": "replica + primary (reads on the replica)"}
    table = ["| server | requests/s | p50 | p95 | errors |", "| --- | ---: | ---: | ---: | ---: |"]
    table += [f"| {label[n]} | {r:.1f} | {t.median * 1e3:.0f} ms | {t.p95 * 1e3:.0f} ms | {e} |"
              for n, t, r, e in rows]
    markdown = "\n".join([
        "## Read replica (`bench/replica_bench.py`)",
        f"{time.strftime('%Y-%m-%d')}, a primary of the bench's own with bench/queries_data.py's "
        f"province ({parcels:,} parcels) and its streaming replica on the same machine; the "
        "mix point / 500 m radius / one commune (queries_bench.py's questions) as an analyst, "
        f"{CONCURRENCY} clients × {args.per_client} calls per turn, {args.turns} turns, the two "
        "servers by turns (one uvicorn worker each). "
        f"**Ratio replica + primary / primary alone: {rate_b / rate_a:.2f}× requests/s** "
        f"(p50 {b.median * 1e3:.0f} vs {a.median * 1e3:.0f} ms). The routed server's reads: "
        f"{ready['routed']} (lag at the end {ready['lag_s']} s). Load average at the end "
        f"{load[0]:.1f} / {load[1]:.1f} on {os.cpu_count()} cores: both clusters, both servers "
        "and the clients share these 2 cores, so the replica adds no CPU here; on its own "
        "machine it takes the reads off the primary's cores (docs/SCALE.md).", "", *table])
    if not args.no_write:
        write_results_section("replica", markdown)
    print("\n" + markdown)


if __name__ == "__main__":
    main()

"""OGC API – Features items pages: our server vs stock pygeoapi (PostgreSQL provider) vs TiPG.

    .venv/bin/python bench/features_bench.py [--url postgresql://...] [--repeat 20] [--requests 60]

On the ``province`` demo (``common.ensure_province_db()``: 1M land parcels) the three servers
run side by side in one run, each as one uvicorn worker in its own process on the same
database: ours (the whole iocgis app, an analyst's API key: authentication included), pygeoapi
0.24 with its stock PostgreSQL provider, and TiPG (both from ``bench/.venv-peers``, made by
``bench/peers.sh``). Cases: a first page (limit 100), a bbox page, a CQL2 filter page and a deep
offset (900,000). For each: sequential p50/p95 and the throughput of 8 concurrent clients,
measured by turns (request by request, burst by burst) so that the load of this shared machine
falls on every server alike. Prints ratios and rewrites the ``features`` section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import common  # noqa: F401  (puts the checkout on sys.path)
import httpx
import psycopg
import yaml
from common import Timing, percentile, write_results_section

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "features"
CONCURRENCY = 8
LAYER = "land.parcels"
GOAL = "≥ 2× stock pygeoapi's throughput and ≥ 3× TiPG's on every case (issue 20)"


@dataclass
class Peer:
    name: str
    url: str
    collection: str
    headers: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, path: str = "/") -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url + path, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not start")


def _uvicorn(python: Path, app: str, env: dict[str, str], *,
             factory: bool = False) -> tuple[str, subprocess.Popen]:
    port = _free_port()
    args = [str(python), "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]
    if factory:
        args.append("--factory")
    process = subprocess.Popen(args, cwd=OUT, env={**os.environ, **env})
    return f"http://127.0.0.1:{port}", process


def start_ours(url: str) -> Peer:
    key = common.api_key(url, "bench_analyst", "analyst", "bench-features")
    server, process = _uvicorn(Path(sys.executable), "iocgis.api.app:create_app",
                               {"DATABASE_URL": url}, factory=True)
    peer = Peer("iocgis", server, LAYER, {"X-API-Key": key}, process)
    _wait(server, process, "/health")
    return peer


def start_pygeoapi(url: str, peers: Path) -> Peer:
    parts = urlparse(url)
    schema, table = LAYER.split(".")
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": 5000}, "url": "http://127.0.0.1:5000",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8",
                   "languages": ["en-US"], "limits": {"default_items": 10, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                           "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": "bench", "description": "bench", "keywords": ["b"],
                                        "keywords_type": "theme", "terms_of_service": "x",
                                        "url": "http://example.org"},
                     "license": {"name": "x", "url": "http://example.org"},
                     "provider": {"name": "x", "url": "http://example.org"},
                     "contact": {"name": "x", "position": "x", "address": "x", "city": "x",
                                 "stateorprovince": "x", "postalcode": "x", "country": "x",
                                 "phone": "x", "fax": "x", "email": "x@example.org",
                                 "url": "http://example.org", "hours": "x",
                                 "instructions": "x", "role": "pointOfContact"}},
        "resources": {LAYER: {
            "type": "collection", "title": "parcels", "description": "parcels",
            "keywords": ["parcels"],
            "extents": {"spatial": {"bbox": [106.4, 10.6, 107.6, 12.2],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "PostgreSQL",
                           "data": {"host": parts.hostname, "port": parts.port or 5432,
                                    "dbname": parts.path.lstrip("/"), "user": parts.username,
                                    "password": parts.password or "",
                                    "search_path": [schema, "public"]},
                           "id_field": "fid", "table": table, "geom_field": "geom"}]}},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    config_path = OUT / "pygeoapi-config.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    config_path.chmod(0o600)  # it holds the database password
    openapi_path = OUT / "pygeoapi-openapi.yml"
    subprocess.run([str(peers / "bin" / "pygeoapi"), "openapi", "generate", str(config_path),
                    "--output-file", str(openapi_path)], check=True, capture_output=True)
    server, process = _uvicorn(peers / "bin" / "python", "pygeoapi.starlette_app:APP",
                               {"PYGEOAPI_CONFIG": str(config_path),
                                "PYGEOAPI_OPENAPI": str(openapi_path)})
    _wait(server, process, "/conformance")
    return Peer("pygeoapi (stock PostgreSQL)", server, LAYER, process=process)


def start_tipg(url: str, peers: Path) -> Peer:
    schema = LAYER.split(".")[0]
    server, process = _uvicorn(peers / "bin" / "python", "tipg.main:app",
                               {"DATABASE_URL": url, "TIPG_DB_SCHEMAS": f'["{schema}"]',
                                "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public", "pg_catalog"]',
                                "TIPG_MAX_FEATURES_PER_QUERY": "10000"})
    _wait(server, process, "/collections")
    return Peer("TiPG", server, LAYER, process=process)


def cases(url: str) -> dict[str, dict[str, str]]:
    with psycopg.connect(url) as conn:
        x, y = conn.execute(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) AS c FROM land.parcels "
            "ORDER BY fid OFFSET 500000 LIMIT 1) AS p").fetchone()
        total = conn.execute("SELECT row_count FROM meta.layers WHERE id = %s", (LAYER,)).fetchone()[0]
    box = f"{x - 0.01:.5f},{y - 0.01:.5f},{x + 0.01:.5f},{y + 0.01:.5f}"
    return {
        "page (limit 100)": {"limit": "100"},
        "bbox (2 km box)": {"limit": "100", "bbox": box},
        "CQL2 filter": {"limit": "100", "filter": "land_use = 'ONT' AND area_m2 > 500",
                        "filter-lang": "cql2-text"},
        "deep offset (900,000)": {"limit": "100", "offset": str(int(total * 0.9))},
    }


def _items(peer: Peer) -> str:
    return f"{peer.url}/collections/{peer.collection}/items"


def check(peer: Peer, params: dict[str, str]) -> str:
    """Does the server answer this case with a full page? ('ok' or what went wrong)."""
    try:
        response = httpx.get(_items(peer), params=params, headers=peer.headers,
                             timeout=120)
    except httpx.HTTPError as exc:
        return f"error: {type(exc).__name__}"
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    returned = len(response.json().get("features", []))
    return "ok" if returned == 100 else f"{returned} features"


def _rotated(servers: list[Peer], shift: int) -> list[Peer]:
    shift %= len(servers)
    return servers[shift:] + servers[:shift]


def sequential(servers: list[Peer], params: dict[str, str], repeat: int,
               budget_s: float) -> dict[str, Timing]:
    """Latencies, one request per server in turn: a load spike on this shared machine hits
    every server alike instead of whichever happened to be measured then."""
    timings = {peer.name: Timing() for peer in servers}
    clients = {peer.name: httpx.Client(headers=peer.headers, timeout=300) for peer in servers}
    try:
        for peer in servers:
            clients[peer.name].get(_items(peer), params=params)  # warm up
        started = time.monotonic()
        for i in range(repeat):
            for peer in _rotated(servers, i):
                t0 = time.perf_counter()
                clients[peer.name].get(_items(peer), params=params).raise_for_status()
                timings[peer.name].samples.append(time.perf_counter() - t0)
            if time.monotonic() - started > budget_s * len(servers) and i >= 2:
                break
    finally:
        for client in clients.values():
            client.close()
    return timings


def _burst(peer: Peer, params: dict[str, str], requests: int, budget_s: float) -> tuple[int, float]:
    """CONCURRENCY clients sharing ``requests`` calls (time-boxed): (done, seconds)."""
    deadline = time.monotonic() + budget_s

    def client(n: int) -> int:
        count = 0
        with httpx.Client(headers=peer.headers, timeout=300) as http:
            for _ in range(n):
                if time.monotonic() > deadline:
                    break
                http.get(_items(peer), params=params).raise_for_status()
                count += 1
        return count

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        done = sum(pool.map(client, [max(1, requests // CONCURRENCY)] * CONCURRENCY))
    return done, time.perf_counter() - started


def throughput(servers: list[Peer], params: dict[str, str], requests: int, budget_s: float,
               rounds: int = 3) -> dict[str, float]:
    """Requests per second under CONCURRENCY clients, in rounds that alternate the servers."""
    totals = {peer.name: [0, 0.0] for peer in servers}
    for r in range(rounds):
        for peer in _rotated(servers, r):
            done, seconds = _burst(peer, params, requests // rounds, budget_s / rounds)
            totals[peer.name][0] += done
            totals[peer.name][1] += seconds
    return {name: done / seconds for name, (done, seconds) in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: the province demo)")
    parser.add_argument("--repeat", type=int, default=20, help="sequential requests per case")
    # Enough calls that each client's first (connection set-up) weighs little: 64 made
    # bursts of two calls per client and measured mostly the set-up.
    parser.add_argument("--requests", type=int, default=480, help="concurrent requests per case")
    parser.add_argument("--budget", type=float, default=25.0, help="seconds per measurement, at most")
    args = parser.parse_args()
    url = args.url or common.ensure_province_db()
    peers_dir = Path(subprocess.run([str(ROOT / "bench" / "peers.sh")], check=True,
                                    capture_output=True, text=True).stdout.strip().splitlines()[-1])
    OUT.mkdir(parents=True, exist_ok=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) land.parcels")  # same visibility map for every server
    the_cases = cases(url)
    servers: list[Peer] = []
    try:
        servers = [start_ours(url), start_pygeoapi(url, peers_dir), start_tipg(url, peers_dir)]
        table: dict[str, dict[str, tuple[str, Timing | None, float]]] = {}
        for case, params in the_cases.items():
            table[case] = {}
            working = []
            for peer in servers:
                status = check(peer, params)
                if status == "ok":
                    working.append(peer)
                else:
                    table[case][peer.name] = (status, None, 0.0)
                    print(f"{case:24} {peer.name:28} {status}", flush=True)
            if not working:
                continue
            timings = sequential(working, params, args.repeat, args.budget)
            rates = throughput(working, params, args.requests, args.budget)
            for peer in working:
                timing, rate = timings[peer.name], rates[peer.name]
                table[case][peer.name] = ("ok", timing, rate)
                print(f"{case:24} {peer.name:28} p50 {timing.median * 1000:8.1f} ms  "
                      f"p95 {percentile(timing.samples, 95) * 1000:8.1f} ms  {rate:7.1f} req/s",
                      flush=True)
    finally:
        for peer in servers:
            peer.stop()
    report(table, [p.name for p in servers] or ["iocgis"])


def _ratio(ours: float, peer: float) -> str:
    return f"{ours / peer:.1f}×" if ours and peer else "n/a"


def report(table: dict, names: list[str]) -> None:
    ours, pygeoapi, tipg = names[0], names[1], names[2]
    lines = [
        "## OGC API – Features (`bench/features_bench.py`)", "",
        f"Items pages of `{LAYER}` (1M rows, the `province` demo), limit 100, one uvicorn worker "
        f"per server on the same database; sequential p50/p95 and the throughput of "
        f"{CONCURRENCY} concurrent clients, the servers measured by turns. "
        "Ours is the whole iocgis app through pygeoapi's core "
        f"with an analyst's API key (authentication, access checks, UTF-8 JSON included). "
        f"Goal: {GOAL}.", "",
        "| case | server | p50 ms | p95 ms | req/s | ours ÷ this |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    summary = []
    for case, results in table.items():
        ours_rate = results.get(ours, ("", None, 0.0))[2]
        for name in names:
            status, timing, rate = results.get(name, ("not run", None, 0.0))
            if timing is None:
                lines.append(f"| {case} | {name} | {status} | | | |")
                continue
            lines.append(f"| {case} | {name} | {timing.median * 1000:.1f} | "
                         f"{percentile(timing.samples, 95) * 1000:.1f} | {rate:.1f} | "
                         f"{'—' if name == ours else _ratio(ours_rate, rate)} |")
        vs_py = _ratio(ours_rate, results.get(pygeoapi, ("", None, 0.0))[2])
        vs_tipg = _ratio(ours_rate, results.get(tipg, ("", None, 0.0))[2])
        summary.append(f"- {case}: {vs_py} stock pygeoapi, {vs_tipg} TiPG")
    lines += ["", "Throughput ratios (ours ÷ peer; n/a: the peer failed the case):", *summary, "",
              f"Measured {time.strftime('%Y-%m-%d %H:%M')} on this 2-core machine (shared; "
              f"load average {os.getloadavg()[0]:.1f} when the run ended: figures are noisy, "
              "ratios matter)."]
    markdown = "\n".join(lines)
    print("\n" + markdown)
    write_results_section("features", markdown)


if __name__ == "__main__":
    main()

"""Vector tiles: our endpoint against the raw SQL floor, TiPG and stock pygeoapi, in one run.

    .venv/bin/python bench/tiles_bench.py [--url postgresql://...] [--per-zoom 12]
                                          [--pygeoapi-limit 10] [--no-write]

On the ``province`` demo (``common.ensure_province_db()``: about 1M parcels), one fixed list of
tiles across z6-z16 over the parcels (the same list for every target), for the layer
``land.parcels``:

  (a) raw floor: our ST_AsMVT statement over the layer's own table (``build_statement``
      without the tile-ready copy: transform, simplify, clip and encode every row the
      index finds) through psycopg 3,
  (b) ours, uncached: ``/tiles/land.parcels/{z}/{x}/{y}.mvt`` with IOCGIS_TILES_CACHE=none
      (reading the layer's tile-ready copy, ``iocgis.tiles.generalised``, built once here
      when the database has none for the live version),
  (c) ours, cached: the same with the disk cache, after one warm-up pass,
  (d) TiPG (``tipg.main:app``) on the same table, asked for the same attributes per zoom,
  (e) pygeoapi's stock MVT-postgresql provider, each tile limited to --pygeoapi-limit seconds
      (statement_timeout on its connections, the same as the client timeout).

Each target runs sequentially (one client) and with 16 concurrent clients (each walks the list
from its own starting point, so clients seldom ask for the same tile at the same moment);
(a), (b) and (d), the goal ratios, are measured by turns in --turns rounds.
Servers run one uvicorn worker each, in their own processes; peers come from bench/peers.sh.
Prints tiles/s, p50/p95 latency, bytes per tile (uncompressed MVT), errors, and the ratios of
the goals, and rewrites the ``tiles`` section of bench/RESULTS.md.

Below zoom 13 the registry does not draw parcels: our endpoint answers 204 at once while TiPG
renders up to 10,000 parcels a tile. Those zooms are reported in their own band and the goal
ratios use z13-z16, where every target draws the same parcels.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import common
import psycopg
import yaml
from common import percentile, write_results_section

from iocgis.layers import get_registry
from iocgis.tiles.grid import TileAddress, lonlat_to_tile
from iocgis.tiles.sql import build_statement, tile_attributes

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / ".venv-peers"
LAYER = "land.parcels"
ZOOMS = range(6, 17)
DRAWN_FROM = 13  # the registry's minzoom of the parcels
CONCURRENCY = 16
BUDGET = 500_000
# issue 20: uncached z13-16 >= 1.5x the raw floor and >= 2x TiPG sequentially, >= 3x TiPG at
# 16 clients
GOAL_FLOOR, GOAL_TIPG, GOAL_TIPG_16, GOAL_CACHED = 1.5, 2.0, 3.0, 1500.0


# -- the tile list -------------------------------------------------------------------------

def tile_list(url: str, per_zoom: int) -> list[TileAddress]:
    """A fixed, repeatable list: tiles under parcels sampled with a fixed seed, per zoom."""
    with psycopg.connect(url) as conn:
        points = conn.execute(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
            "FROM land.parcels TABLESAMPLE SYSTEM (0.5) REPEATABLE (42) ORDER BY fid LIMIT 4000"
        ).fetchall()
    if not points:
        raise SystemExit("no parcels in the bench database: is the province demo loaded?")
    rng = random.Random(7)
    tiles: list[TileAddress] = []
    for z in ZOOMS:
        chosen: list[TileAddress] = []
        for lon, lat in rng.sample(points, min(len(points), per_zoom * 20)):
            t = lonlat_to_tile(lon, lat, z)
            if t not in chosen:
                chosen.append(t)
            if len(chosen) == per_zoom:
                break
        tiles += chosen
    return tiles


# -- a small keep-alive HTTP client (the load generator must not be the bottleneck) --------

class Connection:
    def __init__(self, host: str, port: int, timeout: float, headers: str = "") -> None:
        self.host, self.port, self.timeout, self.headers = host, port, timeout, headers
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def get(self, path: str) -> tuple[int, bytes]:
        """(status, body with any gzip removed); reconnects after a timeout or close."""
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                          f"Accept-Encoding: gzip\r\n{self.headers}\r\n".encode())
        try:
            return await asyncio.wait_for(self._read(), self.timeout)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            await self.close()
            raise

    async def _read(self) -> tuple[int, bytes]:
        assert self.reader is not None
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            await self.close()
        if headers.get("content-encoding") == "gzip" and body:
            body = gzip.decompress(body)
        return status, body


# -- measuring -----------------------------------------------------------------------------

@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    errors: int = 0
    timeouts: int = 0
    wall: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies) + self.errors + self.timeouts

    def row(self, name: str) -> list[str]:
        if not self.latencies:
            return [name, "-", "-", "-", "-", "-", str(self.errors + self.timeouts)]
        rate = len(self.latencies) / self.wall if self.wall else 0.0
        mean_kb = sum(self.sizes) / len(self.sizes) / 1000
        return [name, f"{rate:.1f}", f"{percentile(self.latencies, 50) * 1000:.1f}",
                f"{percentile(self.latencies, 95) * 1000:.1f}", f"{mean_kb:.1f}",
                f"{max(self.sizes) / 1000:.1f}",
                f"{self.errors + self.timeouts}" + (f" ({self.timeouts} timeouts)" if self.timeouts else "")]

    def merged(self, other: Run) -> Run:
        """This run and another of the same target: samples pooled, walls added."""
        return Run(self.latencies + other.latencies, self.sizes + other.sizes,
                   self.errors + other.errors, self.timeouts + other.timeouts,
                   self.wall + other.wall)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall and self.latencies else 0.0


async def drive(make_path, tiles: list[TileAddress], clients: int, host: str, port: int,
                timeout: float, rounds: int = 1, headers: str = "") -> Run:
    run = Run()

    async def client(index: int) -> None:
        conn = Connection(host, port, timeout, headers)
        start = index * len(tiles) // clients
        order = (tiles[start:] + tiles[:start]) * rounds
        for tile in order:
            t0 = time.perf_counter()
            try:
                status, body = await conn.get(make_path(tile))
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                run.timeouts += 1
                continue
            if status in (200, 204):
                run.latencies.append(time.perf_counter() - t0)
                run.sizes.append(len(body))
            else:
                run.errors += 1
        await conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    run.wall = time.perf_counter() - started
    return run


async def raw_floor(url: str, tiles: list[TileAddress], clients: int) -> Run:
    """Our statement straight through psycopg: no HTTP, no cache, no thinning pass."""
    from psycopg_pool import AsyncConnectionPool

    layer = get_registry().get(LAYER)
    statements = {z: build_statement((layer,), z) for z in ZOOMS
                  if layer.tiles and layer.tiles.minzoom <= z <= layer.tiles.maxzoom}
    run = Run()
    pool = AsyncConnectionPool(url, min_size=clients, max_size=clients, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True)

    async def client(index: int) -> None:
        start = index * len(tiles) // clients
        for tile in tiles[start:] + tiles[:start]:
            t0 = time.perf_counter()
            statement = statements.get(tile.z)
            size = 0
            if statement is not None:
                async with pool.connection() as conn:
                    cur = await conn.execute(statement.text, statement.params_for(tile, 0.5),
                                             binary=True)
                    row = await cur.fetchone()
                size = sum(len(row[i] or b"") for i in range(0, len(row), 2))
            run.latencies.append(time.perf_counter() - t0)
            run.sizes.append(size)

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    run.wall = time.perf_counter() - started
    await pool.close()
    return run


# -- servers -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready_path: str,
                 log: Path) -> None:
        self.name, self.port = name, free_port()
        self.log = log.open("w")
        self.process = subprocess.Popen([*argv, "--host", "127.0.0.1", "--port", str(self.port),
                                         "--log-level", "warning", "--no-access-log"],
                                        env={**os.environ, **env}, cwd=ROOT,
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 180
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(f"GET {ready_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                              .encode())
                    if s.recv(12).startswith(b"HTTP/1.1 2"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start; see {log}")
            time.sleep(0.3)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def ours(url: str, cache: str, cache_dir: Path, log: Path) -> Server:
    env = {"DATABASE_URL": url, "IOCGIS_TILES_CACHE": cache, "IOCGIS_CACHE_DIR": str(cache_dir)}
    return Server(f"iocgis ({cache})", [sys.executable, "-m", "uvicorn", "iocgis.api.app:create_app",
                                        "--factory", "--workers", "1"], env, "/health", log)


def tipg(url: str, log: Path) -> Server:
    env = {"DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["land"]', "TIPG_DB_TABLES": '["land.parcels"]',
           "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": '["public", "land", "pg_temp"]'}
    return Server("TiPG", [str(PEERS / "bin" / "uvicorn"), "tipg.main:app", "--workers", "1"],
                  env, "/collections", log)


def pygeoapi(url: str, limit_s: float, workdir: Path, log: Path) -> Server:
    parts = urlsplit(url)
    data = {"host": parts.hostname, "port": parts.port or 5432, "dbname": parts.path.lstrip("/"),
            "user": parts.username, "password": parts.password, "search_path": ["land", "public"]}
    text = "x"
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": 0}, "url": "http://127.0.0.1",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8",
                   "language": "en-US", "cors": False, "pretty_print": False,
                   "limits": {"default_items": 10, "max_items": 50},
                   "map": {"url": "http://127.0.0.1/{z}/{x}/{y}.png", "attribution": text}},
        "logging": {"level": "ERROR"},
        "metadata": {"identification": {"title": text, "description": text, "keywords": [text],
                                        "keywords_type": "theme", "terms_of_service": text,
                                        "url": "http://127.0.0.1"},
                     "license": {"name": text, "url": "http://127.0.0.1"},
                     "provider": {"name": text, "url": "http://127.0.0.1"},
                     "contact": {"name": text, "position": text, "address": text, "city": text,
                                 "stateorprovince": text, "postalcode": text, "country": text,
                                 "phone": text, "fax": text, "email": "x@example.org",
                                 "url": "http://127.0.0.1", "hours": text, "instructions": text,
                                 "role": "pointOfContact"}},
        "resources": {"parcels": {
            "type": "collection", "title": "parcels", "description": "parcels",
            "keywords": ["parcels"],
            "extents": {"spatial": {"bbox": [106.4, 10.6, 107.6, 12.2],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [
                {"type": "feature", "name": "PostgreSQL", "data": data, "id_field": "fid",
                 "table": "parcels", "geom_field": "geom"},
                {"type": "tile", "name": "MVT-postgresql", "data": data, "id_field": "fid",
                 "table": "parcels", "geom_field": "geom",
                 "options": {"zoom": {"min": 0, "max": 22}},
                 "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"}},
            ]}},
    }
    cfg, openapi = workdir / "pygeoapi.yml", workdir / "pygeoapi-openapi.yml"
    cfg.write_text(yaml.safe_dump(config), encoding="utf-8")
    subprocess.run([str(PEERS / "bin" / "pygeoapi"), "openapi", "generate", str(cfg),
                    "--output-file", str(openapi)], check=True, capture_output=True,
                   env={**os.environ, "PYGEOAPI_CONFIG": str(cfg)})
    env = {"PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(openapi),
           # the per-tile time limit, enforced by PostgreSQL on pygeoapi's own connections
           "PGOPTIONS": f"-c statement_timeout={int(limit_s * 1000)}"}
    return Server("pygeoapi", [str(PEERS / "bin" / "uvicorn"), "pygeoapi.starlette_app:APP",
                               "--workers", "1"], env, "/conformance?f=json", log)


# -- the run -------------------------------------------------------------------------------

def ensure_tile_copy(url: str) -> None:
    """The parcels' tile-ready copy for the live version (an import builds it; a database
    loaded before copies existed gets it here, once)."""
    from iocgis.tiles import generalised

    with psycopg.connect(url, autocommit=True) as conn:
        current = conn.execute(generalised.CURRENT_SQL + " WHERE b.layer_id = %s",
                               (LAYER,)).fetchone()
        if current is None:
            print("building the tile-ready copy of the parcels (once)")
            generalised.rebuild(conn, get_registry().get(LAYER))


def bands(tiles: list[TileAddress]) -> dict[str, list[TileAddress]]:
    return {"z13-z16": [t for t in tiles if t.z >= DRAWN_FROM],
            "z6-z12": [t for t in tiles if t.z < DRAWN_FROM]}


def table(rows: list[list[str]]) -> str:
    head = ["target", "tiles/s", "p50 ms", "p95 ms", "KB/tile", "max KB", "errors"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database with the province demo (default: ensure it)")
    parser.add_argument("--per-zoom", type=int, default=12, help="tiles per zoom (z6-z16)")
    parser.add_argument("--pygeoapi-limit", type=float, default=10.0,
                        help="seconds allowed per pygeoapi tile")
    parser.add_argument("--pygeoapi-tiles", type=int, default=3,
                        help="tiles per zoom asked of pygeoapi (it is slow)")
    parser.add_argument("--turns", type=int, default=3,
                        help="rounds of the floor, ours uncached and TiPG by turns")
    parser.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    args = parser.parse_args()

    url = args.url or common.ensure_province_db()
    ensure_tile_copy(url)
    if not (PEERS / "bin" / "uvicorn").exists():
        subprocess.run([str(ROOT / "bench" / "peers.sh")], check=True)
    tiles = tile_list(url, args.per_zoom)
    layer = get_registry().get(LAYER)
    work = Path(tempfile.mkdtemp(prefix="tiles-bench-"))
    print(f"{len(tiles)} tiles, z{ZOOMS.start}-z{ZOOMS.stop - 1}, layer {LAYER}; logs in {work}")
    def per_band(fn) -> tuple[dict[str, Run], dict[str, Run]]:
        seq = {b: asyncio.run(fn(ts, 1)) for b, ts in bands(tiles).items()}
        conc = {b: asyncio.run(fn(ts, CONCURRENCY)) for b, ts in bands(tiles).items()}
        return seq, conc

    band_results: dict[str, dict[str, tuple[Run, Run]]] = {}

    def store(name: str, seq: dict[str, Run], conc: dict[str, Run]) -> None:
        for b, run in seq.items():
            band_results.setdefault(b, {})[name] = (run, conc[b])
        print(f"  {name}: " + "; ".join(
            f"{b} {seq[b].rate:.1f}/s seq, {conc[b].rate:.1f}/s x{CONCURRENCY}, "
            f"errors {seq[b].errors + seq[b].timeouts + conc[b].errors + conc[b].timeouts}"
            for b in seq))

    def our_path(tile: TileAddress) -> str:
        return f"/tiles/{LAYER}/{tile.z}/{tile.x}/{tile.y}.mvt"

    def tipg_path(tile: TileAddress) -> str:
        # the same attributes as ours at that zoom (TiPG would send every column otherwise)
        props = ",".join(tile_attributes(layer, max(tile.z, DRAWN_FROM)))
        return (f"/collections/{LAYER}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"
                f"?properties={props}")

    key = common.api_key(url, "bench_tiles", "viewer", "tiles bench")
    auth = f"X-API-Key: {key}\r\n"
    # The goal ratios compare (a), (b) and (d): measured by turns, band by band and mode by
    # mode in rotating order, so a load spike on this shared machine falls on all of them.
    print(f"(a) raw SQL floor, (b) iocgis uncached, (d) TiPG: {args.turns} rounds by turns")
    server = ours(url, "none", work / "cache-none", work / "iocgis-uncached.log")
    peer = tipg(url, work / "tipg.log")
    try:
        targets = {
            "raw SQL floor": lambda ts, c: raw_floor(url, ts, c),
            "iocgis uncached": lambda ts, c: drive(our_path, ts, c, "127.0.0.1", server.port, 60,
                                                   headers=auth),
            "TiPG": lambda ts, c: drive(tipg_path, ts, c, "127.0.0.1", peer.port, 60),
        }
        turns: dict[str, tuple[dict[str, Run], dict[str, Run]]] = {n: ({}, {}) for n in targets}
        names = list(targets)
        for r in range(args.turns):
            order = names[r % len(names):] + names[:r % len(names)]
            for b, ts in bands(tiles).items():
                for mode, clients in ((0, 1), (1, CONCURRENCY)):
                    for name in order:
                        done = asyncio.run(targets[name](ts, clients))
                        turns[name][mode][b] = turns[name][mode][b].merged(done) \
                            if b in turns[name][mode] else done
        for name, (seq, conc) in turns.items():
            store(name, seq, conc)
    finally:
        server.stop()
        peer.stop()

    print("(c) iocgis, cached")
    server = ours(url, "disk", work / "cache", work / "iocgis-cached.log")
    try:
        warm = asyncio.run(drive(our_path, tiles, 4, "127.0.0.1", server.port, 60, headers=auth))
        if warm.errors or warm.timeouts:
            raise SystemExit(f"our endpoint failed {warm.errors + warm.timeouts} warm-up tiles")
        store("iocgis cached", *per_band(
            lambda ts, c: drive(our_path, ts, c, "127.0.0.1", server.port, 60,
                                rounds=3 if c == 1 else 2, headers=auth)))

        # The same cached path without authentication: the public base map, anonymously
        # (an API key costs a database lookup per request in the security middleware).
        def basemap_path(tile: TileAddress) -> str:
            return f"/tiles/basemap/{tile.z}/{tile.x}/{tile.y}.mvt"

        asyncio.run(drive(basemap_path, tiles, 4, "127.0.0.1", server.port, 60))  # warm-up
        store("iocgis cached, anonymous basemap", *per_band(
            lambda ts, c: drive(basemap_path, ts, c, "127.0.0.1", server.port, 60,
                                rounds=3 if c == 1 else 2)))
    finally:
        server.stop()

    def pygeoapi_path(tile: TileAddress) -> str:  # OGC: {tileMatrix}/{tileRow}/{tileCol}
        return f"/collections/parcels/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}?f=mvt"

    print(f"(e) pygeoapi MVT-postgresql, {args.pygeoapi_limit:.0f} s per tile")
    few = [t for z in ZOOMS for t in [t for t in tiles if t.z == z][:args.pygeoapi_tiles]]
    server = pygeoapi(url, args.pygeoapi_limit, work, work / "pygeoapi.log")
    try:
        limit = args.pygeoapi_limit + 2

        async def pg_run(ts: list[TileAddress], c: int) -> Run:
            return await drive(pygeoapi_path, ts, c, "127.0.0.1", server.port, limit)

        seq = {b: asyncio.run(pg_run([t for t in few if t in set(ts)], 1))
               for b, ts in bands(tiles).items()}
        conc = {b: asyncio.run(pg_run([t for t in few if t in set(ts)], 4))
                for b, ts in bands(tiles).items()}
        store("pygeoapi stock", seq, conc)
    finally:
        server.stop()

    report(band_results, len(tiles), args, url, write=not args.no_write)
    shutil.rmtree(work / "cache", ignore_errors=True)


def report(band_results: dict[str, dict[str, tuple[Run, Run]]], n_tiles: int,
           args: argparse.Namespace, url: str, write: bool) -> None:
    main_band = band_results["z13-z16"]
    floor_seq, floor_conc = main_band["raw SQL floor"]
    un_seq, un_conc = main_band["iocgis uncached"]
    ca_seq, ca_conc = main_band["iocgis cached"]
    tipg_seq, tipg_conc = main_band["TiPG"]
    all_ours = [r for b in band_results.values() for name, pair in b.items()
                if name.startswith("iocgis") for r in pair]  # (sizes of every tile we served)
    biggest = max((max(r.sizes) for r in all_ours if r.sizes), default=0)
    errors_16 = sum(pair[1].errors + pair[1].timeouts for b in band_results.values()
                    for name, pair in b.items() if name.startswith("iocgis"))

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("inf")

    checks = [
        ("uncached / raw floor (16 clients)", ratio(un_conc.rate, floor_conc.rate), GOAL_FLOOR),
        ("uncached / raw floor (sequential)", ratio(un_seq.rate, floor_seq.rate), GOAL_FLOOR),
        ("uncached / TiPG (16 clients)", ratio(un_conc.rate, tipg_conc.rate), GOAL_TIPG_16),
        ("uncached / TiPG (sequential)", ratio(un_seq.rate, tipg_seq.rate), GOAL_TIPG),
    ]
    lines = []
    for name, value, goal in checks:
        verdict = "meets" if value >= goal else f"misses by {(1 - value / goal) * 100:.0f} %"
        lines.append(f"- {name}: **{value:.2f}×** (goal ≥ {goal}×: {verdict})")
    for label, pair in (("cached, viewer's API key", (ca_seq, ca_conc)),
                        ("cached, anonymous (public base map)",
                         main_band.get("iocgis cached, anonymous basemap", (ca_seq, ca_conc)))):
        best = max(pair[0].rate, pair[1].rate)
        lines.append(f"- {label}: **{best:.0f} tiles/s** (goal ≥ {GOAL_CACHED:.0f}: "
                     + ("meets" if best >= GOAL_CACHED else
                        f"misses by {(1 - best / GOAL_CACHED) * 100:.0f} %") + ")")
    lines.append(f"- largest tile served: {biggest / 1000:.1f} KB (budget {BUDGET // 1000} KB: "
                 + ("none over" if biggest <= BUDGET else "OVER") + ")")
    lines.append(f"- errors of our endpoint at {CONCURRENCY} concurrent clients: {errors_16}")
    for line in lines:
        print(line)
    sections = []
    for band, targets in band_results.items():
        for mode, index in (("sequential", 0), (f"{CONCURRENCY} concurrent clients", 1)):
            rows = [pair[index].row(name) for name, pair in targets.items()
                    if not (band == "z6-z12" and name == "raw SQL floor")]  # no SQL: not drawn
            sections.append(f"**{band}, {mode}**\n\n{table(rows)}")
    load = os.getloadavg()[0]
    markdown = "\n\n".join([
        "## Vector tiles (`bench/tiles_bench.py`)",
        (f"Layer `{LAYER}` of the province demo ({n_tiles} tiles: {args.per_zoom} per zoom, "
         f"z6-z16, under sampled parcels; the same list for every target). One uvicorn worker "
         f"per server; pygeoapi gets {args.pygeoapi_tiles} tiles per zoom, "
         f"{args.pygeoapi_limit:.0f} s each (statement_timeout), 4 concurrent clients. Bytes are "
         f"uncompressed MVT. Load average when the run ended: {load:.1f} on {os.cpu_count()} "
         "cores (other work on the machine slows every target alike)."),
        "Goals (z13-z16, where every target draws the parcels):\n\n" + "\n".join(lines),
        ("pygeoapi's errors are tiles stopped at the time limit: its provider transforms every "
         "row with a text CRS ('EPSG:3857'), and PostgreSQL's statement_timeout cancels the tile "
         "(pygeoapi answers HTTP 500)."),
        ("Below z13 the registry does not draw parcels: our endpoint answers 204 at once, TiPG "
         "renders up to 10,000 parcels per tile; that band is shown for completeness and is not "
         "in the ratios."),
        *sections,
        "Run: `.venv/bin/python bench/tiles_bench.py` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
    ])
    if write:
        write_results_section("tiles", markdown)
        print("wrote the tiles section of bench/RESULTS.md")


if __name__ == "__main__":
    main()

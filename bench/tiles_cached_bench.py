"""Cached vector tiles asked with an API key, against a bare ASGI endpoint serving the same
bytes, in one run (issue 20: >= 0.8x bare at 16 clients).

    .venv/bin/python bench/tiles_cached_bench.py [--url postgresql://...] [--per-zoom 12]
                                                 [--turns 3] [--no-write]

The tiles are ``bench/tiles_bench.py``'s list (parcels of the province demo, z13-z16, where
they are drawn). Ours: ``iocgis.api.app`` with the disk tile cache, one uvicorn worker, warmed
once, asked with a viewer's API key (authentication, the caller's tileset and the cache key
included; the verified key is in the worker's own cache after the first request). Peer:
``bench/bare_tiles.py``, one uvicorn worker answering from memory with the gzipped bytes our
server sent for each tile (read back from ours after the warm-up). Both are driven by the
tiles bench's keep-alive client, sequentially and with 16 clients, by turns. Rewrites the
``tiles-cached`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import shutil
import sys
import tempfile
import time
from pathlib import Path

import common
import httpx
from tiles_bench import (
    CONCURRENCY,
    DRAWN_FROM,
    LAYER,
    Run,
    Server,
    drive,
    ensure_tile_copy,
    ours,
    tile_list,
)

from iocgis.tiles.grid import TileAddress

GOAL = 0.8
BARE = Path(__file__).resolve().parent / "bare_tiles.py"


def path_of(tile: TileAddress) -> str:
    return f"/tiles/{LAYER}/{tile.z}/{tile.x}/{tile.y}.mvt"


def snapshot(base: str, tiles: list[TileAddress], key: str, out: Path) -> int:
    """The gzipped bytes ours sends for each tile, for the bare peer; the bytes in all."""
    served: dict[str, tuple[int, bytes]] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        for tile in tiles:
            with client.stream("GET", path_of(tile), headers={"X-API-Key": key,
                                                              "Accept-Encoding": "gzip"}) as r:
                if r.status_code not in (200, 204):
                    raise SystemExit(f"our server answered {r.status_code} for {path_of(tile)}")
                served[path_of(tile)] = (r.status_code, b"".join(r.iter_raw()))
    out.write_bytes(pickle.dumps(served))
    return sum(len(body) for _, body in served.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="database with the province demo (default: ensure it)")
    parser.add_argument("--per-zoom", type=int, default=12)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    url = args.url or common.ensure_province_db()
    ensure_tile_copy(url)
    tiles = [t for t in tile_list(url, args.per_zoom) if t.z >= DRAWN_FROM]
    key = common.api_key(url, "bench_tiles", "viewer", "tiles bench")
    auth = f"X-API-Key: {key}\r\n"
    work = Path(tempfile.mkdtemp(prefix="cached-tiles-bench-"))
    server = ours(url, "disk", work / "cache", work / "iocgis-cached.log")
    bare = None
    try:
        warm = asyncio.run(drive(path_of, tiles, 4, "127.0.0.1", server.port, 60, headers=auth))
        if warm.errors or warm.timeouts:
            raise SystemExit(f"our endpoint failed {warm.errors + warm.timeouts} warm-up tiles")
        total = snapshot(f"http://127.0.0.1:{server.port}", tiles, key, work / "tiles.pickle")
        bare = Server("bare ASGI", [sys.executable, "-m", "uvicorn", "bare_tiles:app",
                                    "--app-dir", str(BARE.parent), "--workers", "1"],
                      {"BARE_TILES": str(work / "tiles.pickle")}, path_of(tiles[0]),
                      work / "bare.log")
        targets = {
            "iocgis cached, viewer's API key":
                lambda c: drive(path_of, tiles, c, "127.0.0.1", server.port, 60,
                                rounds=3 if c == 1 else 4, headers=auth),
            "bare ASGI, same bytes from memory":
                lambda c: drive(path_of, tiles, c, "127.0.0.1", bare.port, 60,
                                rounds=3 if c == 1 else 4),
        }
        results: dict[str, dict[int, Run]] = {name: {} for name in targets}
        names = list(targets)
        for r in range(args.turns):
            for clients in (1, CONCURRENCY):
                for name in names[r % 2:] + names[:r % 2]:
                    done = asyncio.run(targets[name](clients))
                    before = results[name].get(clients)
                    results[name][clients] = before.merged(done) if before else done
            print(f"turn {r + 1}: " + "; ".join(
                f"{n}: {results[n][1].rate:.0f}/s seq, {results[n][CONCURRENCY].rate:.0f}/s "
                f"x{CONCURRENCY}" for n in names), flush=True)
    finally:
        server.stop()
        if bare is not None:
            bare.stop()
        shutil.rmtree(work, ignore_errors=True)

    ours_name, bare_name = names
    lines = []
    for clients, label in ((1, "sequential"), (CONCURRENCY, f"{CONCURRENCY} clients")):
        value = results[ours_name][clients].rate / results[bare_name][clients].rate
        goal = f" (goal ≥ {GOAL}×: {'met' if value >= GOAL else 'missed'})" \
            if clients == CONCURRENCY else ""
        lines.append(f"- ours ÷ bare, {label}: **{value:.2f}×**{goal}")
    for line in lines:
        print(line)
    rows = [results[name][clients].row(f"{name}, {'sequential' if clients == 1 else '16 clients'}")
            for clients in (1, CONCURRENCY) for name in names]
    head = ["target", "tiles/s", "p50 ms", "p95 ms", "KB/tile", "max KB", "errors"]
    table = "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                       *("| " + " | ".join(r) + " |" for r in rows)])
    if not args.no_write:
        common.write_results_section("tiles-cached", "\n\n".join([
            "## Cached tiles with an API key against a bare endpoint "
            "(`bench/tiles_cached_bench.py`)",
            (f"{len(tiles)} parcel tiles z13-z16 of "
             f"{'the database given with --url' if args.url else 'the province demo'} "
             f"({total / 1000:.0f} KB "
             f"gzipped in all), one uvicorn worker each, {args.turns} turns (ours and the peer "
             f"alternating), the tiles bench's keep-alive client. Ours: the disk cache, a "
             f"viewer's API key. Peer: a bare ASGI app serving the bytes ours sent, from memory. "
             f"Load average {os.getloadavg()[0]:.1f} at the end "
             f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})."),
            "\n".join(lines),
            table,
        ]))


if __name__ == "__main__":
    main()

"""The tile cache: disk (default) and Redis, keyed by data version and visibility."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iocgis.tiles.cache import MemoryCache, NoCache, TileKey
from iocgis.tiles.grid import TileAddress, lonlat_to_tile
from iocgis.tiles.render import TileRenderer
from iocgis.tiles.settings import TileSettings

from .conftest import ANONYMOUS
from .tiles_fixtures import bump

PLANNING = (106.82, 10.95)


def at(z: int, lonlat: tuple[float, float] = PLANNING) -> tuple[int, int, int]:
    t = lonlat_to_tile(*lonlat, z)
    return t.z, t.x, t.y


def test_disk_cache_serves_again_and_an_import_invalidates_exactly_its_tilesets(
        make_renderer, tiles_conn, tmp_path: Path) -> None:
    r = make_renderer(cache="disk", cache_dir=tmp_path / "disk", version_ttl_s=0,
                      memory_cache_mb=0)
    first = r.tile("planning", *at(13))
    assert not first.from_cache and not first.empty
    path = tmp_path / "disk" / "planning" / "public" / first.key.version / "13"
    assert path.is_dir()
    assert r.tile("planning", *at(13)).from_cache
    basemap = r.tile("basemap", *at(12))
    bump(tiles_conn, "planning.zones")  # what an import or a rollback of the zones does
    after = r.tile("planning", *at(13))
    assert not after.from_cache and after.key.version != first.key.version
    assert r.tile("basemap", *at(12)).key == basemap.key  # a layer it does not hold: untouched
    deadline = time.monotonic() + 10  # the stale version's folder is removed in the background
    while (tmp_path / "disk" / "planning" / "public" / first.key.version).exists():
        assert time.monotonic() < deadline, "the stale tiles were never pruned"
        time.sleep(0.05)


def test_concurrent_requests_for_one_tile_render_it_once(make_renderer) -> None:
    r = make_renderer(cache="none")
    renders = 0
    original = r.renderer.render_mvt

    async def counting(plans, tile):
        nonlocal renders
        renders += 1
        return await original(plans, tile)

    r.renderer.render_mvt = counting
    tile = TileAddress(*at(12))

    async def many() -> list:
        return await asyncio.gather(*(r.renderer.tile("planning", tile, ANONYMOUS)
                                      for _ in range(8)))

    results = r.run(many())
    assert renders == 1 and len({res.gzipped for res in results}) == 1


def test_memory_cache_stays_within_its_size() -> None:
    cache = MemoryCache(NoCache(), max_bytes=10_000)

    async def fill() -> None:
        for i in range(50):
            await cache.set(TileKey("t", "public", "v", 14, i, 0), bytes(1000))

    asyncio.run(fill())
    assert cache._bytes <= 10_000 and len(cache._tiles) == 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server (Debian's redis-server, installed by iocgis.sh)."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = _free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_redis_cache_when_configured(make_renderer, redis_url: str) -> None:
    import redis

    r = make_renderer(redis_url=redis_url, memory_cache_mb=0)  # cache "auto": Redis
    first = r.tile("planning", *at(13))
    assert not first.from_cache
    client = redis.Redis.from_url(redis_url)
    stored = client.get(f"iocgis:tile:{first.key}")
    assert stored == first.gzipped
    assert 0 < client.ttl(f"iocgis:tile:{first.key}") <= 7 * 24 * 3600
    assert r.tile("planning", *at(13)).from_cache
    empty = r.tile("planning", 13, 0, 0)
    assert empty.empty and client.get(f"iocgis:tile:{empty.key}") == b""


def test_a_redis_outage_costs_cache_hits_not_tiles(make_renderer) -> None:
    r = make_renderer(redis_url=f"redis://127.0.0.1:{_free_port()}/0", memory_cache_mb=0)
    rendered = r.tile("planning", *at(13))  # nobody listens on that port
    assert not rendered.empty and not rendered.from_cache


def test_waiters_still_get_the_tile_when_the_first_asker_goes_away(make_renderer) -> None:
    """The first asker's render is held until the others wait on it, then cancelled: each
    waiter must take the path that renders again (``tile`` called once more per waiter)."""
    r = make_renderer(cache="none")
    tile = TileAddress(*at(13))
    renderer = r.renderer
    original_render, original_tile = renderer.render_mvt, renderer.tile
    started, calls = asyncio.Event(), []

    async def held_first(plans, at_tile):
        if not started.is_set():
            started.set()
            await asyncio.Event().wait()  # the first render never finishes: it is cancelled
        return await original_render(plans, at_tile)

    async def counted_tile(*args, **kwargs):
        calls.append(args)
        return await original_tile(*args, **kwargs)

    renderer.render_mvt, renderer.tile = held_first, counted_tile

    async def scenario():
        first = asyncio.create_task(renderer.tile("planning", tile, ANONYMOUS))
        await started.wait()
        others = [asyncio.create_task(renderer.tile("planning", tile, ANONYMOUS))
                  for _ in range(3)]
        for _ in range(20):  # versions are cached: each waiter reaches the in-flight render
            await asyncio.sleep(0)
        waiting = len(calls)
        first.cancel()
        results = await asyncio.gather(*others)
        return first, waiting, results

    first, waiting, results = r.run(scenario())
    assert first.cancelled()
    assert waiting == 4  # the first asker and three waiters
    assert len(calls) == 7, "the waiters did not take the render-again path"
    assert all(not res.empty for res in results) and len({res.gzipped for res in results}) == 1


def test_two_databases_never_share_a_cached_tile(tiles_settings) -> None:
    """Layer versions start alike in every database (a test database, the demo, a copy): the
    cache key names the database too, so a shared disk cache never serves one's tile for the
    other's."""
    from psycopg_pool import AsyncConnectionPool

    from iocgis.tiles.tilesets import get_tilesets

    keys = []
    for dbname in ("iocgis_a", "iocgis_b"):
        pool = AsyncConnectionPool(f"postgresql://u@127.0.0.1:1/{dbname}", open=False)
        renderer = TileRenderer(tiles_settings, pool, TileSettings(cache="none"))
        tileset = get_tilesets().for_caller("planning", ANONYMOUS, note_reads=False)
        keys.append(renderer.key_for(tileset, ANONYMOUS, TileAddress(*at(13)), {}))
    assert keys[0].version != keys[1].version


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a full file system: a 64 KiB tmpfs filled to the last block (Debian's
    mount; the set-up runs as root). Where mounting is refused, a folder whose parent is a
    regular file: every write fails there too, by the same OSError branch."""
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        blocker = tmp_path / "not-a-folder"
        blocker.write_bytes(b"")
        yield blocker / "cache"
        return
    try:
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass  # ENOSPC: the disk is full
        finally:
            os.close(fd)
        yield mount / "cache"
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_cache_disk_costs_cache_hits_not_tiles(make_renderer, full_disk: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    r = make_renderer(cache="disk", cache_dir=full_disk, memory_cache_mb=0)
    first = r.tile("planning", *at(13))
    again = r.tile("planning", *at(13))
    assert not first.empty and not first.from_cache and not again.from_cache
    assert again.gzipped == first.gzipped  # drawn again, the same tile
    assert "tile cache: cannot write" in caplog.text

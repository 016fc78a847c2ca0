"""Tile caches: process memory in front of disk (default) or Redis.

A key names the tileset, the caller's visibility level, a hash of the data versions (and tile
settings) of the tileset's layers the caller sees, and the tile. An import bumps a layer's
version, so only the tilesets holding that layer get new keys; an anonymous caller's key never
equals an officer's, so a tile rendered for one is never served to the other. Empty tiles are
cached as zero bytes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger("iocgis.tiles")


@dataclass(frozen=True)
class TileKey:
    tileset: str
    visibility: str
    version: str
    z: int
    x: int
    y: int

    def __str__(self) -> str:
        return f"{self.tileset}/{self.visibility}/{self.version}/{self.z}/{self.x}/{self.y}"

    @property
    def etag(self) -> str:
        """Strong validator: the content is a function of the key."""
        return f'"{self.visibility}-{self.version}-{self.z}-{self.x}-{self.y}"'


class TileCache(Protocol):
    async def get(self, key: TileKey) -> bytes | None: ...

    async def set(self, key: TileKey, data: bytes) -> None: ...

    async def close(self) -> None: ...


class NoCache:
    async def get(self, key: TileKey) -> bytes | None:
        return None

    async def set(self, key: TileKey, data: bytes) -> None:
        return None

    async def close(self) -> None:
        return None


class MemoryCache:
    """A bounded LRU of tiles in process memory, in front of another cache."""

    def __init__(self, behind: TileCache, max_bytes: int) -> None:
        self.behind = behind
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0

    def _remember(self, key: str, data: bytes) -> None:
        if self.max_bytes <= 0 or len(data) > self.max_bytes // 8:
            return
        old = self._tiles.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._tiles[key] = data
        self._bytes += len(data)
        while self._bytes > self.max_bytes:
            _, dropped = self._tiles.popitem(last=False)
            self._bytes -= len(dropped)

    async def get(self, key: TileKey) -> bytes | None:
        name = str(key)
        data = self._tiles.get(name)
        if data is not None:
            self._tiles.move_to_end(name)
            return data
        data = await self.behind.get(key)
        if data is not None:
            self._remember(name, data)
        return data

    async def set(self, key: TileKey, data: bytes) -> None:
        self._remember(str(key), data)
        await self.behind.set(key, data)

    async def close(self) -> None:
        await self.behind.close()


class DiskCache:
    """``<root>/<tileset>/<visibility>/<version>/<z>/<x>/<y>.mvt.gz``.

    When a tileset's version changes, the folders of its older versions are removed in the
    background: an import frees exactly the space of the tiles it made stale.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._current: dict[tuple[str, str], str] = {}

    def _path(self, key: TileKey) -> Path:
        return (self.root / key.tileset / key.visibility / key.version / str(key.z) / str(key.x)
                / f"{key.y}.mvt.gz")

    async def get(self, key: TileKey) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    async def set(self, key: TileKey, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tile-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # readers see the whole tile or none
        except OSError as exc:  # a full disk or a pruned folder costs a cache miss only
            log.warning("tile cache: cannot write %s: %s", path, exc)
            return
        scope = (key.tileset, key.visibility)
        if self._current.get(scope) != key.version:
            self._current[scope] = key.version
            asyncio.get_running_loop().run_in_executor(None, self.prune, key)

    def prune(self, key: TileKey) -> None:
        """Remove the other versions' folders of this tileset and visibility."""
        folder = self.root / key.tileset / key.visibility
        try:
            for child in folder.iterdir():
                if child.name != key.version and child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
        except OSError:
            pass

    async def close(self) -> None:
        return None


class RedisCache:
    """Tiles in Redis with an expiry; stale versions simply expire."""

    def __init__(self, url: str, ttl_s: int, prefix: str = "iocgis:tile:") -> None:
        import redis.asyncio as redis

        self.client = redis.Redis.from_url(url)
        self.ttl_s = ttl_s
        self.prefix = prefix

    async def get(self, key: TileKey) -> bytes | None:
        try:
            return await self.client.get(self.prefix + str(key))
        except Exception as exc:  # noqa: BLE001 - a cache outage must not fail tiles
            log.warning("tile cache: Redis unavailable: %s", exc)
            return None

    async def set(self, key: TileKey, data: bytes) -> None:
        try:
            await self.client.set(self.prefix + str(key), data, ex=self.ttl_s)
        except Exception as exc:  # noqa: BLE001
            log.warning("tile cache: Redis unavailable: %s", exc)

    async def close(self) -> None:
        await self.client.aclose()

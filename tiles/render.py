"""The tile renderer: tileset and caller in, gzip-compressed MVT out, cached and thinned.

Used by the HTTP routes, pygeoapi's OGC API - Tiles provider, seeding and export alike.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from iocgis.access import (
    AccessPlan,
    Caller,
    commune_scope,
    note_shared,
    plan_for,
    require_layer,
    visible_fields,
)
from iocgis.access.database import Reader
from iocgis.layers import LayerDef
from iocgis.ops import metrics
from iocgis.security.audit_window import AuditWindow
from iocgis.tiles.cache import DiskCache, MemoryCache, NoCache, RedisCache, TileCache, TileKey
from iocgis.tiles.generalised import GeneralisedTable
from iocgis.tiles.grid import TileAddress
from iocgis.tiles.settings import TileSettings
from iocgis.tiles.sql import MAX_THIN_LEVEL, TileStatement, build_statement
from iocgis.tiles.tilesets import Tileset, Tilesets, get_tilesets
from iocgis.tiles.versions import LayerVersions

if TYPE_CHECKING:  # iocgis.settings holds the tile settings: no import at run time
    from iocgis.settings import Settings

log = logging.getLogger("iocgis.tiles")

# Bump when the SQL or the tile layout changes: every cached tile gets a new key.
RENDERER_VERSION = 5


def communes_of(caller: Caller, layers: tuple[LayerDef, ...]) -> tuple[str, ...] | None:
    """The communes the caller is limited to, when any of these layers records a commune
    (``iocgis.access.commune_scope``, the rule of the access plan); else None: the tile is
    the same as for an unlimited caller of the same visibility and shares its cache entry."""
    for layer in layers:
        communes = commune_scope(caller, layer)
        if communes is not None:
            return communes
    return None


def shared_fields(plans: tuple[AccessPlan, ...]) -> tuple[tuple[str, tuple[str, ...]], ...] | None:
    """Under a sharing agreement, the fields each layer's tile may carry (the agreement's);
    None for every other caller (the registry's tile attributes)."""
    if not plans or plans[0].caller.narrowing is None:
        return None
    return tuple((p.layer.id, visible_fields(p.caller, p.layer)) for p in plans)


def tile_plans(caller: Caller, layers: tuple[LayerDef, ...]) -> tuple[AccessPlan, ...]:
    """The caller's plans for a tile's layers: rows and role only (tiles carry no
    personal-data field, whatever the caller's rights)."""
    return tuple(plan_for(caller, layer).with_fields(()) for layer in layers)


class RestrictedReadLog(AuditWindow):
    """When a caller's tile reads of restricted layers were last noted for the audit trail.

    A map view fetches dozens of tiles per second; one audit record per tile would flood the
    trail and bury the events that matter. A read is noted once per (account, address,
    tileset, zoom) per window in this process: ``iocgis audit who-accessed`` (grouped by account
    and address) still names everyone who saw the layer, from where, and when first and last
    (to within the window), and each zoom the caller browsed leaves its own record. TileJSON
    fetches (a map opening the tileset) are always recorded.
    """

    def due(self, caller: Caller, tileset: str, zoom: int,  # type: ignore[override]
            now: float | None = None) -> bool:
        """True (and remembered) when this read must be noted now."""
        return super().due((caller.name, caller.client, tileset, zoom), now)


def visibility_of(caller: Caller) -> str:
    """The caller's visibility level, part of every cache key (public, internal, restricted).

    Tiles never carry personal-data fields for anyone, so the level of sensitivity a caller
    may read is all that decides what a tile holds.
    """
    return caller.level


@dataclass(frozen=True)
class RenderedTile:
    key: TileKey
    gzipped: bytes  # b"" for an empty tile
    from_cache: bool

    @property
    def empty(self) -> bool:
        return not self.gzipped

    @property
    def etag(self) -> str:
        return self.key.etag

    def raw(self) -> bytes:
        return gzip.decompress(self.gzipped) if self.gzipped else b""


@dataclass
class LayerResult:
    name: str  # the MVT layer: a registry id, or "<id>:label" for label points
    layer: LayerDef
    mvt: bytes
    features: int


async def _compress(raw: bytes) -> bytes:
    """gzip a tile; a large one in a worker thread (zlib releases the GIL), so the event loop
    keeps answering other tiles meanwhile."""
    if not raw:
        return b""
    if len(raw) < 32_768:
        return gzip.compress(raw, compresslevel=5, mtime=0)
    return await asyncio.to_thread(functools.partial(gzip.compress, raw, compresslevel=5, mtime=0))


def _size(results: list[LayerResult]) -> int:
    return sum(len(r.mvt) for r in results)


def build_cache(settings: Settings, tile_settings: TileSettings) -> TileCache:
    behind: TileCache
    if tile_settings.cache == "none":
        return NoCache()
    if tile_settings.cache == "redis" or (tile_settings.cache == "auto" and tile_settings.redis_url):
        if not tile_settings.redis_url:
            from iocgis.errors import ConfigError

            raise ConfigError("the Redis tile cache needs a URL", where="IOCGIS_TILES_CACHE",
                              hint="set IOCGIS_REDIS_URL=redis://host:6379/0 or use the disk cache")
        behind = RedisCache(tile_settings.redis_url, tile_settings.redis_ttl_s)
    else:
        behind = DiskCache(tile_settings.cache_dir or Path(settings.cache_dir) / "tiles")
    return MemoryCache(behind, tile_settings.memory_cache_mb * 1024 * 1024)


class TileRenderer:
    """Renders and caches the tiles of every tileset for any caller."""

    def __init__(self, settings: Settings, pool: AsyncConnectionPool,
                 tile_settings: TileSettings | None = None, tilesets: Tilesets | None = None,
                 cache: TileCache | None = None) -> None:
        self.settings = settings
        self.tile_settings = tile_settings or settings.tiles
        self.pool = pool
        self.reader = Reader(pool, settings.security.db_role_prefix)
        # Which database the tiles come from: two databases (a test database and the demo, a
        # replica's primary) may hold the same layer versions; their tiles must not meet.
        info = conninfo_to_dict(pool.conninfo)
        self._database = [str(info.get(k, "")) for k in ("host", "port", "dbname")]
        self.tilesets = tilesets or get_tilesets()
        self.cache = cache if cache is not None else build_cache(settings, self.tile_settings)
        self.versions = LayerVersions(self.tile_settings.version_ttl_s)
        self._statements: dict[tuple, TileStatement] = {}
        self._fingerprints: dict[tuple[str, str], str] = {}
        self._versions_seen: dict[tuple[str, str], tuple[Mapping[str, int], str]] = {}
        self._inflight: dict[TileKey, asyncio.Future[RenderedTile]] = {}
        self.restricted_reads = RestrictedReadLog(self.tile_settings.audit_window_s)

    async def close(self) -> None:
        await self.cache.close()

    # -- keys ----------------------------------------------------------------------------

    def _fingerprint(self, tileset: Tileset, visibility: str, layers: tuple[LayerDef, ...]) -> str:
        """What besides the data decides a tile: layers, their tile settings, our settings."""
        cached = self._fingerprints.get((tileset.name, visibility))
        if cached is None:
            ts = self.tile_settings
            body = json.dumps({
                "renderer": RENDERER_VERSION,
                "layers": [[layer.id, layer.tiles.model_dump(mode="json") if layer.tiles else None]
                           for layer in layers],
                "settings": [ts.extent, ts.buffer, ts.simplify_px, ts.size_budget],
                "database": self._database,
            }, sort_keys=True)
            cached = hashlib.blake2b(body.encode(), digest_size=8).hexdigest()
            self._fingerprints[(tileset.name, visibility)] = cached
        return cached

    def key_for(self, tileset: Tileset, caller: Caller, tile: TileAddress,
                versions: Mapping[str, int]) -> TileKey:
        """The cache key. A caller limited to some communes gets its own (visibility
        ``internal~<hash of the communes>``) for tilesets with a commune-recording layer, so
        its tile is never served to an unlimited caller nor the other way round."""
        visibility = visibility_of(caller)
        communes = communes_of(caller, tileset.visible_to(caller))
        if communes is not None:
            digest = hashlib.blake2b("|".join(communes).encode(), digest_size=6).hexdigest()
            visibility = f"{visibility}~{digest}"
        if caller.narrowing is not None:  # an agreement's layers and fields: its own tiles
            shared = repr(sorted((layer, sorted(fields))
                                 for layer, fields in caller.narrowing.layers))
            digest = hashlib.blake2b(shared.encode(), digest_size=6).hexdigest()
            visibility = f"{visibility}~a{caller.narrowing.agreement_id}-{digest}"
        memo = self._versions_seen.get((tileset.name, visibility))
        if memo is not None and memo[0] is versions:  # same read of meta.layers: same stamp
            version = memo[1]
        else:
            layers = tileset.visible_to(caller)
            stamp = self._fingerprint(tileset, visibility, layers) + "".join(
                f"|{layer.id}={versions.get(layer.id, 0)}" for layer in layers)
            version = hashlib.blake2b(stamp.encode(), digest_size=10).hexdigest()
            self._versions_seen[(tileset.name, visibility)] = (versions, version)
        return TileKey(tileset.name, visibility, version, tile.z, tile.x, tile.y)

    # -- rendering ------------------------------------------------------------------------

    def statement(self, layers: tuple[LayerDef, ...], zoom: int, level: int = 0,
                  only: tuple[str, ...] | None = None, scoped: bool = False,
                  fields: tuple[tuple[str, tuple[str, ...]], ...] | None = None,
                  copies: tuple[GeneralisedTable, ...] = ()) -> TileStatement:
        """The statement for these layers at this zoom, built once and kept. The layers
        stand for tileset and visibility: an anonymous caller's statement never holds an
        officer's layers; ``fields`` (``shared_fields``) limits the attributes; ``copies``
        are the current tile-ready copies of some of the layers (``current_copies``)."""
        # a layer read from a kept older version (a regenerated report's map) names its table
        key = (tuple((layer.id, layer.kept) for layer in layers), zoom, level, only, scoped,
               fields, copies)
        found = self._statements.get(key)
        if found is None:
            ts = self.tile_settings
            found = build_statement(layers, zoom, level=level, extent=ts.extent, buffer=ts.buffer,
                                    only=only, scoped=scoped,
                                    fields=dict(fields) if fields is not None else None,
                                    copies={c.layer_id: c for c in copies})
            self._statements[key] = found
        return found

    async def _run(self, statement: TileStatement, tile: TileAddress,
                   plans: tuple[AccessPlan, ...],
                   limits: dict[str, int] | None = None) -> list[LayerResult]:
        communes = next((p.communes for p in plans if p.commune_field), None)
        params = statement.params_for(tile, self.tile_settings.simplify_px, limits, communes)
        # Under the caller's plan and the tile time limit, for this statement only; restricted
        # reads are noted once per window (``note_restricted_reads``), not per tile.
        ts = self.tile_settings
        async with self.reader.reading(
                plans, timeout_ms=ts.statement_timeout_ms, what=f"tile {tile.z}/{tile.x}/{tile.y}",
                hint="try a neighbouring zoom level", retry_after_s=ts.retry_after_s,
                note=False) as conn:
            cur = await conn.execute(statement.text, params, binary=True)
            row = await cur.fetchone()
        assert row is not None
        return [LayerResult(part.name, part.layer, bytes(row[2 * i] or b""),
                            int(row[2 * i + 1] or 0)) for i, part in enumerate(statement.parts)]

    def current_copies(self, layers: tuple[LayerDef, ...]) -> tuple[GeneralisedTable, ...]:
        """The tile-ready copies built for the layers' versions as last read (``tile`` reads
        them before rendering): the same tiles, fewer rows read and no per-tile transform."""
        copies = self.versions.copies
        return tuple(copies[layer.id] for layer in layers
                     if layer.id in copies and layer.kept is None)

    async def render_mvt(self, plans: tuple[AccessPlan, ...], tile: TileAddress) -> bytes:
        """The uncompressed MVT of the plans' layers, thinned to fit the size budget; layers
        recording a commune hold only the rows of the communes the plans allow."""
        if not plans:
            return b""
        layers = tuple(p.layer for p in plans)
        scoped = any(p.commune_field for p in plans)
        results = await self._run(self.statement(layers, tile.z, scoped=scoped,
                                                 fields=shared_fields(plans),
                                                 copies=self.current_copies(layers)), tile, plans)
        results = await self._fit_budget(plans, results, tile)
        return b"".join(r.mvt for r in results)

    async def _fit_budget(self, plans: tuple[AccessPlan, ...], results: list[LayerResult],
                          tile: TileAddress) -> list[LayerResult]:
        """Thin the heaviest layers until the tile fits the budget: coarser simplification and
        larger minimum polygons first, then only the largest features of each heavy layer."""
        budget = self.tile_settings.size_budget
        original = {r.name: r for r in results}
        layers = tuple(p.layer for p in plans)
        scoped = any(p.commune_field for p in plans)
        copies = self.current_copies(layers)
        level = 0
        while _size(results) > budget and level < MAX_THIN_LEVEL + 4:
            level += 1
            before = _size(results)
            heavy = [r for r in results if len(r.mvt) > budget / (4 * len(results))]
            heavy = heavy or [max(results, key=lambda r: len(r.mvt))]
            names = tuple(r.name for r in heavy)
            if level < MAX_THIN_LEVEL:
                thinned = await self._run(self.statement(layers, tile.z, level, names, scoped,
                                                         shared_fields(plans), copies),
                                          tile, plans)
                if any(t.features == 0 < original[t.name].features for t in thinned):
                    level = MAX_THIN_LEVEL - 1  # it would wipe a layer out: keep its largest
                    continue
            else:
                room = max(budget - (before - _size(heavy)), budget // 10)
                shrink = 0.8 ** (level - MAX_THIN_LEVEL + 1)
                first = [original[name] for name in names]
                # Each heavy layer gets room in proportion to its unthinned size; its feature
                # count shrinks by the same ratio (bytes per feature only fall when thinned).
                limits = {f.name: max(1, math.floor(f.features * room / _size(first) * shrink))
                          for f in first}
                thinned = await self._run(
                    self.statement(layers, tile.z, MAX_THIN_LEVEL, names, scoped,
                                   shared_fields(plans), copies), tile, plans, limits)
            by_name = {t.name: t for t in thinned}
            results = [by_name.get(r.name, r) for r in results]
            log.info("tile %s thinned (level %d): %d -> %d bytes", tile, level, before,
                     _size(results))
        if _size(results) > budget:
            log.warning("tile %s stays over the size budget after thinning", tile)
        return results

    def note_restricted_reads(self, tileset: Tileset, caller: Caller, zoom: int) -> None:
        """Note the restricted layers of a tile for the audit trail, once per window (see
        ``RestrictedReadLog``)."""
        restricted = tileset.restricted_for(caller)
        if restricted and self.restricted_reads.due(caller, tileset.name, zoom):
            for layer in restricted:
                require_layer(caller, layer.id)  # notes the read for this request's audit

    async def tile(self, name: str, tile: TileAddress, caller: Caller) -> RenderedTile:
        """The tile of tileset ``name`` for ``caller``; NotFound when the caller may not see
        the tileset. Concurrent requests for the same uncached tile render it once."""
        tileset = self.tilesets.for_caller(name, caller, note_reads=False)
        self.note_restricted_reads(tileset, caller, tile.z)
        for layer in tileset.layers_at(caller, tile.z):  # under an agreement: usage, audit
            note_shared(caller, layer.id, tiles=1)
        versions = await self.versions.current(self.pool)
        key = self.key_for(tileset, caller, tile, versions)
        data = await self.cache.get(key)
        metrics.tile_cache(hit=data is not None)
        if data is not None:
            return RenderedTile(key, data, from_cache=True)
        waiting = self._inflight.get(key)
        if waiting is not None:
            try:
                return await asyncio.shield(waiting)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not waiting.cancelled() or (current is not None and current.cancelling()):
                    raise  # this request itself was cancelled
                return await self.tile(name, tile, caller)  # the first asker went away: render
        future: asyncio.Future[RenderedTile] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            plans = tile_plans(caller, tileset.layers_at(caller, tile.z))
            raw = await self.render_mvt(plans, tile)
            gz = await _compress(raw)
            await self.cache.set(key, gz)
            rendered = RenderedTile(key, gz, from_cache=False)
            future.set_result(rendered)
            return rendered
        except asyncio.CancelledError:  # the client went away: waiters render it themselves
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._inflight[key]

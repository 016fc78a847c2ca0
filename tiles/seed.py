"""Pre-render the tiles of a tileset (seed the cache) and walk them for export."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from iocgis.access import LEVEL_NAMES, Caller, level_caller
from iocgis.errors import InvalidInput
from iocgis.tiles.grid import MAX_ZOOM, TileAddress, tiles_covering
from iocgis.tiles.render import RenderedTile, TileRenderer
from iocgis.tiles.tilejson import WORLD, bounds_of
from iocgis.tiles.tilesets import Tileset


def caller_for_level(level: str) -> Caller:
    """The caller standing for a visibility level when seeding or exporting for it."""
    if level not in LEVEL_NAMES:
        raise InvalidInput(f"unknown visibility level {level!r}", where="--as",
                           hint=f"use one of: {', '.join(LEVEL_NAMES)}")
    return level_caller(level, "tiles-seed")


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise InvalidInput(f"bad bounding box {text!r}", where="--bbox",
                           hint="write west,south,east,north in degrees") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InvalidInput(f"bounding box {text!r} is empty or outside the world", where="--bbox",
                           hint="write west,south,east,north with west < east, south < north")
    return west, south, east, north


@dataclass(frozen=True)
class SeedPlan:
    tileset: Tileset
    caller: Caller
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int

    def tiles(self) -> list[TileAddress]:
        """Every tile of the plan whose zoom holds a layer, zoom by zoom."""
        out: list[TileAddress] = []
        for z in range(self.minzoom, self.maxzoom + 1):
            if self.tileset.layers_at(self.caller, z):
                out += tiles_covering(self.bounds, z)
        return out


async def plan(renderer: TileRenderer, name: str, caller: Caller, *, minzoom: int | None,
               maxzoom: int, bbox: tuple[float, float, float, float] | None) -> SeedPlan:
    tileset = renderer.tilesets.for_caller(name, caller)
    low = tileset.minzoom if minzoom is None else minzoom
    if not 0 <= low <= maxzoom <= MAX_ZOOM:
        raise InvalidInput(f"zoom range {low}-{maxzoom} is not within 0-{MAX_ZOOM}",
                           where="--minzoom/--maxzoom", hint="give 0 <= minzoom <= maxzoom <= 24")
    bounds = bbox or await bounds_of(renderer, tileset.visible_to(caller))
    if bounds == WORLD and bbox is None and maxzoom > 8:
        raise InvalidInput(f"the layers of {name} have no extent yet (nothing imported)",
                           where=name, hint="import data first or give --bbox")
    return SeedPlan(tileset, caller, bounds, low, maxzoom)


async def render_all(renderer: TileRenderer, seed: SeedPlan, *, concurrency: int = 4,
                     progress: Callable[[RenderedTile], None] | None = None
                     ) -> AsyncIterator[tuple[TileAddress, RenderedTile]]:
    """Render every tile of the plan (cache first), yielding them in plan order."""
    tiles = seed.tiles()
    gate = asyncio.Semaphore(concurrency)

    async def one(tile: TileAddress) -> RenderedTile:
        async with gate:
            rendered = await renderer.tile(seed.tileset.name, tile, seed.caller)
        if progress:
            progress(rendered)
        return rendered

    window = max(concurrency * 8, 64)  # bounded look-ahead keeps memory flat
    for start in range(0, len(tiles), window):
        batch = tiles[start:start + window]
        for tile, rendered in zip(batch, await asyncio.gather(*(one(t) for t in batch))):
            yield tile, rendered

"""``iocgis tiles``: pre-render (seed) a tileset into the cache, or export it to an offline
PMTiles / MBTiles archive."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from iocgis.errors import InvalidInput

console = Console()
tiles_app = typer.Typer(help="Seed and export vector tiles.", no_args_is_help=True)

LEVEL_HELP = "render as a caller of this visibility level: public, internal or restricted"


async def _run(tileset: str, maxzoom: int, minzoom: int | None, level: str, bbox: str | None,
               out: Path | None, concurrency: int) -> None:
    from iocgis.db import database_url
    from iocgis.pools import async_pool
    from iocgis.settings import get_settings
    from iocgis.tiles.archive import writer_for
    from iocgis.tiles.render import TileRenderer
    from iocgis.tiles.seed import caller_for_level, parse_bbox, plan, render_all
    from iocgis.tiles.tilejson import tilejson

    settings = get_settings()
    caller = caller_for_level(level)
    pool = async_pool(database_url(settings), max_size=concurrency + 1, name="iocgis-tiles-cli")
    await pool.open(wait=True, timeout=30)
    renderer = TileRenderer(settings, pool)
    try:
        seed = await plan(renderer, tileset, caller, minzoom=minzoom, maxzoom=maxzoom,
                          bbox=parse_bbox(bbox))
        tiles = seed.tiles()
        writer = writer_for(out) if out else None  # only once the request is known to be good
        counts = {"rendered": 0, "cached": 0, "empty": 0, "bytes": 0}
        started = time.monotonic()
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task(f"{tileset} z{seed.minzoom}-{seed.maxzoom}", total=len(tiles))
            async for tile, rendered in render_all(renderer, seed, concurrency=concurrency):
                counts["cached" if rendered.from_cache else "rendered"] += 1
                if rendered.empty:
                    counts["empty"] += 1
                elif writer is not None:
                    writer.add(tile, rendered.gzipped)
                    counts["bytes"] += len(rendered.gzipped)
                progress.advance(task)
        if writer is not None:
            if counts["empty"] == len(tiles):
                raise InvalidInput(f"every tile of {tileset} in that range is empty",
                                   where=tileset, hint="import data or widen --bbox/--maxzoom")
            meta = await tilejson(renderer, seed.tileset, caller, "")
            meta |= {"bounds": list(seed.bounds), "minzoom": seed.minzoom, "maxzoom": seed.maxzoom,
                     "center": [(seed.bounds[0] + seed.bounds[2]) / 2,
                                (seed.bounds[1] + seed.bounds[3]) / 2, seed.minzoom]}
            writer.finish(meta)
            await _audit_export(pool, seed.tileset.visible_to(caller), out, tileset, level,
                                len(tiles) - counts["empty"])
        elapsed = time.monotonic() - started
        console.print(f"{tileset}: {len(tiles)} tiles in {elapsed:.1f} s "
                      f"({counts['rendered']} rendered, {counts['cached']} from the cache, "
                      f"{counts['empty']} empty) as {level}"
                      + (f"; wrote {out} ({counts['bytes'] / 1e6:.1f} MB of tiles)" if out else ""))
    finally:
        await renderer.close()
        await pool.close()


async def _audit_export(pool, layers, out: Path, tileset: str, level: str,  # noqa: ANN001
                        tiles: int) -> None:
    """An export is a read of every layer it holds, out of the platform's control from now
    on: one audit record per layer (who, which file, at which level)."""
    from iocgis.cli._security_common import operator
    from iocgis.security import audit

    actor = operator()
    async with pool.connection() as conn:
        for layer in layers:
            await audit.record(conn, actor=actor.name, action="data.export", layer=layer.id,
                               target=str(out.resolve()), client=actor.client,
                               details={"tileset": tileset, "level": level, "tiles": tiles,
                                        "sensitivity": layer.sensitivity})


@tiles_app.command()
def seed(tileset: str = typer.Argument(..., help="tileset or layer id, e.g. basemap"),
         maxzoom: int = typer.Option(..., "--maxzoom", help="highest zoom to render"),
         minzoom: int = typer.Option(None, "--minzoom", help="lowest zoom (default: the tileset's)"),
         level: str = typer.Option("public", "--as", help=LEVEL_HELP),
         bbox: str = typer.Option(None, "--bbox", help="west,south,east,north (default: the data)"),
         concurrency: int = typer.Option(4, help="tiles rendered at once")) -> None:
    """Pre-render a tileset into the tile cache the server reads."""
    asyncio.run(_run(tileset, maxzoom, minzoom, level, bbox, None, concurrency))


@tiles_app.command()
def export(tileset: str = typer.Argument(..., help="tileset or layer id, e.g. basemap"),
           out: Path = typer.Argument(..., help="output file: *.pmtiles or *.mbtiles"),  # noqa: B008
           maxzoom: int = typer.Option(14, "--maxzoom", help="highest zoom to include"),
           minzoom: int = typer.Option(None, "--minzoom", help="lowest zoom (default: the tileset's)"),
           level: str = typer.Option("public", "--as", help=LEVEL_HELP),
           bbox: str = typer.Option(None, "--bbox", help="west,south,east,north (default: the data)"),
           concurrency: int = typer.Option(4, help="tiles rendered at once")) -> None:
    """Write a tileset to an offline PMTiles v3 or MBTiles archive."""
    from iocgis.tiles.archive import archive_format

    archive_format(out)  # refuse a wrong name before rendering anything
    asyncio.run(_run(tileset, maxzoom, minzoom, level, bbox, out, concurrency))


def register(app: typer.Typer) -> None:
    app.add_typer(tiles_app, name="tiles")

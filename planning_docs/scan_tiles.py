"""Georeferenced scans (a dossier's GeoTIFF drawings, often in VN-2000) as raster map tiles of
the WebMercatorQuad grid, drawn by rio-tiler.

The archived file is never read per tile: on first use it is fetched from the file store
(checksum checked), and written once as a Cloud-Optimized GeoTIFF with overviews under the
cache folder (``<cache_dir>/planning-scans/<sha256>.tif``), its coordinate system pinned to the
official VN-2000 shift (``iocgis.crs.pinned``, as the raster importer does) so GDAL's warp puts
every pixel where ``iocgis.crs`` would. The copy is derived data: deleting it only costs the
next request its rebuilding. Tiles are PNG with transparency outside the scan.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rio_tiler.io import Reader

from iocgis import crs as crsmod
from iocgis.errors import NotFound
from iocgis.importers.raster import _write_cog as write_cog
from iocgis.planning_docs.filestore import FileStore
from iocgis.tiles.grid import TileAddress, tiles_covering

TILE_SIZE = 256
MAX_ZOOM = 22  # a 1/500 sheet scanned at 400 dpi is ~3 cm a pixel: z22 is ~3.7 cm at 11°N
ZOOMS_OUT = 6
GEOGRAPHIC = "EPSG:4326"
_locks: dict[str, asyncio.Lock] = {}


@dataclass(frozen=True)
class Scan:
    """A prepared scan: its COG, WGS84 bounds, zoom range and bands."""

    path: Path
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int

    @property
    def center(self) -> tuple[float, float]:
        west, south, east, north = self.bounds
        return (west + east) / 2, (south + north) / 2

    def limits(self) -> list[dict[str, int | str]]:
        """The tile rows and columns holding the scan, per zoom (OGC tileMatrixSetLimits)."""
        out: list[dict[str, int | str]] = []
        for z in range(self.minzoom, self.maxzoom + 1):
            tiles = tiles_covering(self.bounds, z)
            out.append({"tileMatrix": str(z), "minTileRow": min(t.y for t in tiles),
                        "maxTileRow": max(t.y for t in tiles),
                        "minTileCol": min(t.x for t in tiles),
                        "maxTileCol": max(t.x for t in tiles)})
        return out


def not_a_scan(document_id: int, why: str) -> NotFound:
    return NotFound(f"planning document {document_id} has no map tiles: {why}", where="id",
                    hint="map tiles are drawn from drawings uploaded as GeoTIFF with their "
                         "coordinate system (e.g. VN-2000 / EPSG:5899)")


def _describe(path: Path) -> Scan:
    with Reader(str(path)) as src:
        bounds = tuple(float(v) for v in src.get_geographic_bounds(GEOGRAPHIC))
        maxzoom = min(MAX_ZOOM, max(int(src.maxzoom), int(src.minzoom)))
        # Below the coarsest overview the sheet is a few pixels wide; a few zooms out it is
        # still worth seeing where it lies.
        minzoom = max(0, min(int(src.minzoom), maxzoom - ZOOMS_OUT))
        return Scan(path, bounds, minzoom, maxzoom)  # type: ignore[arg-type]


def make_cog(source: Path, target: Path, document_id: int) -> None:
    """The scan as a COG in its own grid, with the pinned coordinate system (blocking)."""
    try:
        with rasterio.open(source) as src:
            if src.crs is None or src.transform == Affine.identity():
                raise not_a_scan(document_id, "the file carries no coordinate system or "
                                              "georeference")
            pinned = crsmod.pinned(crsmod.parse_crs(src.crs.to_wkt(), where="scan"))
    except rasterio.RasterioIOError as exc:
        raise not_a_scan(document_id, f"not a readable GeoTIFF ({str(exc)[:80]})") from None
    write_cog(source, target, rasterio.crs.CRS.from_wkt(pinned.to_wkt()))


async def prepared(store: FileStore, cache_dir: Path, sha256: str, document_id: int) -> Scan:
    """The scan's COG, made on first use from the checked archived file."""
    target = cache_dir / "planning-scans" / f"{sha256}.tif"
    if not target.is_file():
        lock = _locks.setdefault(sha256, asyncio.Lock())
        async with lock:
            if not target.is_file():
                source = await asyncio.to_thread(store.fetch, sha256)
                await asyncio.to_thread(make_cog, source, target, document_id)
    return await asyncio.to_thread(_describe, target)


def render_tile(scan: Scan, address: TileAddress) -> bytes | None:
    """The tile as PNG (transparent outside the scan), or None when it misses the scan."""
    with Reader(str(scan.path)) as src:
        if not src.tile_exists(address.x, address.y, address.z):
            return None
        count = src.dataset.count
        indexes = (1, 2, 3) if count >= 3 else (1,)
        image = src.tile(address.x, address.y, address.z, tilesize=TILE_SIZE, indexes=indexes)
        colormap = src.colormap if count == 1 else None
        if image.data.dtype != np.uint8:  # a 16-bit or float scan: stretched to its range
            valid = image.array.compressed()
            low, high = (float(valid.min()), float(valid.max())) if valid.size else (0.0, 1.0)
            image.rescale(in_range=((low, high if high > low else low + 1),))
        if not image.mask.any():
            return None
        return image.render(img_format="PNG", colormap=colormap)


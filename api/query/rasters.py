"""Rasters from the catalog (``meta.rasters``, COGs the importer registered): the value at a
point and zonal statistics over a drawn region or an administrative unit.

Reads are windowed (rasterio): only the pixels under the point or the zone's bounding box
are read, so a province-wide elevation model costs what the zone covers. File access runs in
the thread pool, off the event loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from pyproj import Geod
from rasterio.features import geometry_mask
from rasterio.windows import Window, from_bounds
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from iocgis.access import may_read_level, note
from iocgis.api.query import render
from iocgis.api.query.context import QueryContext
from iocgis.api.query.params import Params, point
from iocgis.api.query.region import parse_region, read_body
from iocgis.crs import WGS84, parse_crs, transformer
from iocgis.errors import InvalidInput, NotFound

MAX_ZONE_PIXELS = 50_000_000
GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class RasterEntry:
    name: str
    title_vi: str
    title_en: str
    kind: str
    path: Path
    crs: str
    bands: int
    nodata: float | None
    unit: str | None
    resolution: tuple[float, ...]

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "title": {"vi": self.title_vi, "en": self.title_en},
                "kind": self.kind, "unit": self.unit, "bands": self.bands, "crs": self.crs,
                "resolution": list(self.resolution)}


_COLUMNS = ("name, title_vi, title_en, kind, path, crs, bands, nodata, unit, resolution,"
            " sensitivity")


def _entry(ctx: QueryContext, row: tuple[Any, ...]) -> RasterEntry:
    path = Path(row[4])
    if not path.is_absolute():
        path = ctx.state.settings.rasters_dir / path
    return RasterEntry(row[0], row[1], row[2], row[3], path, row[5], row[6], row[7], row[8],
                       tuple(row[9] or ()))


def _visible(ctx: QueryContext, sensitivity: str) -> bool:
    return may_read_level(ctx.caller, sensitivity)


async def list_rasters(ctx: QueryContext) -> list[RasterEntry]:
    async with ctx.pool.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM meta.rasters ORDER BY name")
        rows = await cur.fetchall()
    return [_entry(ctx, r) for r in rows if _visible(ctx, r[10])]


async def raster(ctx: QueryContext, name: str) -> RasterEntry:
    """The catalog entry, or 404 when unknown or not visible to the caller."""
    async with ctx.pool.connection() as conn:
        cur = await conn.execute(f"SELECT {_COLUMNS} FROM meta.rasters WHERE name = %s", (name,))
        row = await cur.fetchone()
    if row is None or not _visible(ctx, row[10]):
        raise NotFound(f"unknown raster {name[:60]!r}", where="raster",
                       hint="list the rasters at /query/rasters")
    if row[10] == "restricted":
        note("restricted", f"raster:{name}")  # its values are read: the audit trail says so
    return _entry(ctx, row)


def _open(entry: RasterEntry) -> rasterio.DatasetReader:
    try:
        return rasterio.open(entry.path)
    except rasterio.RasterioIOError as exc:
        raise NotFound(f"the file of raster {entry.name!r} cannot be read", where=str(entry.name),
                       hint=f"re-import it; {str(exc)[:120]}") from None


def _to_raster_crs(entry: RasterEntry, src: rasterio.DatasetReader):  # noqa: ANN202
    crs = parse_crs(src.crs.to_wkt() if src.crs else entry.crs, where=entry.name)
    return transformer(WGS84, crs)


def sample_point(entry: RasterEntry, lon: float, lat: float) -> dict[str, Any]:
    """The pixel under the point, every band; ``null`` for nodata or outside the raster."""
    with _open(entry) as src:
        x, y = _to_raster_crs(entry, src).transform(lon, lat)
        row, col = src.index(x, y)
        inside = 0 <= row < src.height and 0 <= col < src.width
        values: list[float | None] = []
        if inside:
            data = src.read(window=Window(col, row, 1, 1), masked=True)
            values = [None if np.ma.is_masked(v) else _number(v) for v in data[:, 0, 0]]
        return {"raster": entry.name, "unit": entry.unit, "inside": inside,
                "value": values[0] if values else None, "values": values,
                "pixel": {"row": int(row), "col": int(col)} if inside else None}


def _number(value: Any) -> float | int:
    as_float = float(value)
    return int(as_float) if as_float.is_integer() and abs(as_float) < 2**53 else as_float


def _pixel_area_m2(src: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """Area of a pixel in each row of the window: constant when projected, by latitude if not."""
    t = src.transform
    if src.crs is None or not src.crs.is_geographic:
        return np.full(int(window.height), abs(t.a * t.e))
    areas = []
    for r in range(int(window.row_off), int(window.row_off + window.height)):
        x0, y0 = t @ (window.col_off, r)
        x1, y1 = t @ (window.col_off + 1, r + 1)
        ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        areas.append(abs(GEOD.polygon_area_perimeter(*zip(*ring))[0]))
    return np.array(areas)


def zonal_stats(entry: RasterEntry, zone: BaseGeometry, band: int,
                threshold: float | None) -> dict[str, Any]:
    """Statistics of the pixels whose centres fall inside the zone (EPSG:4326)."""
    with _open(entry) as src:
        if not 1 <= band <= src.count:
            raise InvalidInput(f"raster {entry.name!r} has no band {band}", where="band",
                               hint=f"give a band between 1 and {src.count}")
        local = shapely.transform(zone, _to_raster_crs(entry, src).transform, interleaved=False)
        full = Window(0, 0, src.width, src.height)
        try:
            window = from_bounds(*local.bounds, transform=src.transform).round_offsets(
                op="floor").round_lengths(op="ceil").intersection(full)
        except rasterio.errors.WindowError:
            window = None
        base = {"raster": entry.name, "unit": entry.unit, "band": band}
        if window is None or window.width <= 0 or window.height <= 0:
            return {**base, "count": 0, "nodata_count": 0, "min": None, "max": None,
                    "mean": None, "sum": None, "std": None, "area_m2": 0.0,
                    "outside": True}
        if window.width * window.height > MAX_ZONE_PIXELS:
            raise InvalidInput(f"the zone covers {int(window.width * window.height):,} pixels "
                               f"of {entry.name!r}", where="zone",
                               hint=f"ask for a smaller zone (at most {MAX_ZONE_PIXELS:,} pixels)")
        data = src.read(band, window=window, masked=True)
        inside = ~geometry_mask([mapping(local)], out_shape=data.shape,
                                transform=src.window_transform(window), all_touched=False)
        valid = inside & ~np.ma.getmaskarray(data)
        values = np.asarray(data.data, dtype="float64")[valid]
        row_area = _pixel_area_m2(src, window)[:, None] * np.ones(data.shape)
        out = {**base, "count": int(values.size),
               "nodata_count": int(inside.sum() - values.size),
               "min": _maybe(values.min()) if values.size else None,
               "max": _maybe(values.max()) if values.size else None,
               "mean": _maybe(values.mean()) if values.size else None,
               "sum": _maybe(values.sum()) if values.size else None,
               "std": _maybe(values.std()) if values.size else None,
               "area_m2": round(float(row_area[valid].sum()), 2), "outside": False}
        if threshold is not None:
            above = valid & (np.asarray(data.data, dtype="float64") >= threshold)
            out["threshold"] = threshold
            out["above_count"] = int(above.sum())
            out["above_area_m2"] = round(float(row_area[above].sum()), 2)
        return out


def _maybe(value: Any) -> float | None:
    as_float = float(value)
    return as_float if math.isfinite(as_float) else None


async def values_at(ctx: QueryContext, names: list[str], lon: float,
                    lat: float) -> dict[str, Any]:
    out = {}
    for name in dict.fromkeys(names):
        entry = await raster(ctx, name)
        out[name] = await run_in_threadpool(sample_point, entry, lon, lat)
    return out


async def rasters_index(request: Request) -> Response:
    Params(request.query_params, ())
    ctx = QueryContext.of(request)
    return render.json_response(render.dumps(
        {"rasters": [e.public() for e in await list_rasters(ctx)]}))


async def raster_value(request: Request) -> Response:
    params = Params(request.query_params, ("lon", "lat"))
    ctx = QueryContext.of(request)
    lon, lat = point(params, await ctx.frame())
    entry = await raster(ctx, request.path_params["name"])
    result = await run_in_threadpool(sample_point, entry, lon, lat)
    return render.json_response(render.dumps({"query": {"lon": lon, "lat": lat}, **result}))


async def raster_zonal(request: Request) -> Response:
    """GET with ``admin=<code>``, or POST a GeoJSON polygon; ``band`` and ``threshold`` optional."""
    allowed = ("admin", "band", "threshold") if request.method == "GET" else (
        "crs", "band", "threshold")
    params = Params(request.query_params, allowed)
    ctx = QueryContext.of(request)
    entry = await raster(ctx, request.path_params["name"])
    band = params.integer("band", default=1, low=1, high=10_000)
    threshold = params.number("threshold", what="a pixel value")
    if request.method == "GET":
        code = params.required("admin", "an administrative code, e.g. admin=26041, or POST a "
                                        "GeoJSON polygon")
        unit = await ctx.admin_unit(code, where="admin")
        zone = shapely.from_wkb(unit.wkb)
        echo: dict[str, Any] = {"admin": {"code": unit.code, "name": unit.name}}
    else:
        region = parse_region(read_body(await request.body()), await ctx.frame(),
                              params.text("crs"))
        zone = region.geometry
        echo = {"region": region.echo()}
    result = await run_in_threadpool(zonal_stats, entry, zone, band, threshold)
    return render.json_response(render.dumps({"query": echo, **result}))

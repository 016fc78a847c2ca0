"""GeoTIFF rasters: stored as Cloud-Optimized GeoTIFF (tiled, DEFLATE, overviews) under
``rasters_dir`` and registered in ``meta.rasters`` with their WGS84 footprint, for later
sampling and tiles. The target is named ``raster.<name>``.

A VN-2000 raster keeps its grid (no resampling) but its CRS is written with the official
TOWGS84 shift (GeoTIFF's GeogTOWGS84GeoKey), so any GDAL reader transforms it the same way
``iocgis.crs`` does.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely

from iocgis import crs as crsmod
from iocgis.db import connect, database_url, expect_row
from iocgis.errors import ImportFailed, InvalidInput
from iocgis.importers import georef
from iocgis.importers import mapping as mappingmod
from iocgis.importers.options import ImportOptions
from iocgis.importers.report import ImportReport
from iocgis.importers.sources import Dataset, resolve
from iocgis.layers.types import STORAGE_SRID
from iocgis.settings import Settings, get_settings

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,60}$")


def _name(layer_id: str) -> str:
    name = layer_id.removeprefix("raster.")
    if not layer_id.startswith("raster.") or not NAME_RE.match(name):
        raise InvalidInput(f"raster target {layer_id!r} must be raster.<name> (lower-case "
                           "letters, digits, _)", where="--layer", hint="e.g. --layer raster.dem")
    return name


def _footprint(bounds: Any, src_crs: Any) -> shapely.Polygon:
    """The raster's bounds in WGS84, edges densified so a projected box stays faithful."""
    box = shapely.segmentize(shapely.box(*bounds), max(bounds[2] - bounds[0],
                                                       bounds[3] - bounds[1]) / 64)
    return georef.to_wgs84(np.array([box], dtype=object), src_crs)[0]


def _write_cog(source: Path, target: Path, crs: Any) -> None:
    import rasterio
    from rasterio import shutil as rio_shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="iocgis-raster-") as tmp:
        staged = Path(tmp) / "staged.tif"
        rio_shutil.copy(str(source), str(staged), driver="GTiff", TILED="YES", COMPRESS="DEFLATE",
                        BIGTIFF="IF_SAFER")
        with rasterio.open(staged, "r+") as dst:
            dst.crs = crs
        partial = target.with_suffix(".partial.tif")
        rio_shutil.copy(str(staged), str(partial), driver="COG", COMPRESS="DEFLATE",
                        OVERVIEWS="AUTO", BLOCKSIZE=512, BIGTIFF="IF_SAFER")
        partial.replace(target)  # atomic: a reader never sees half a file


@dataclass(frozen=True)
class Inspected:
    """What reading the GeoTIFF's header decided: its CRS (pinned), footprint and grid facts."""

    stored_crs: Any
    footprint: shapely.Polygon
    facts: dict[str, Any]


def _inspect(dataset: Dataset, options: ImportOptions, report: ImportReport,
             layer_id: str) -> Inspected:
    import rasterio
    from rasterio.crs import CRS as RioCRS
    from rasterio.errors import RasterioIOError

    if dataset.format != "GeoTIFF":
        raise InvalidInput(f"{dataset.name} is not a GeoTIFF, but {layer_id} is a raster",
                           where=dataset.name, hint="import vector files into a vector layer")
    report.source_format, report.source_checksum = "GeoTIFF", dataset.checksum
    try:
        src = rasterio.open(dataset.path)
    except RasterioIOError as exc:
        raise InvalidInput(f"cannot read {dataset.name}: {exc}", where=dataset.name,
                           hint="the file is truncated or corrupt: export it again") from exc
    with src:
        file_crs = crsmod.parse_crs(src.crs.to_wkt()) if src.crs else None
        source_crs = georef.source_crs(file_crs, options.crs, dataset.name, "GeoTIFF")
        report.source_crs = georef.describe(source_crs)
        footprint = _footprint(src.bounds, source_crs)
        facts = {"width": src.width, "height": src.height, "bands": src.count,
                 "dtype": src.dtypes[0], "nodata": src.nodata,
                 "resolution": [abs(src.res[0]), abs(src.res[1])]}
    centre = footprint.centroid
    if not georef.vietnam().inside(np.array([centre.x]), np.array([centre.y]))[0]:
        raise ImportFailed(f"{dataset.name} lies outside Vietnam when read as "
                           f"{report.source_crs}", where=dataset.name,
                           hint="give the right coordinate system with --crs")
    stored_crs = RioCRS.from_wkt(crsmod.pinned(source_crs).to_wkt())
    return Inspected(stored_crs, footprint, facts)


def _register(conn: psycopg.Connection, name: str, target: Path, raster: Inspected,
              meta: dict[str, Any], import_id: int) -> None:
    """Make the written COG the raster's current file in ``meta.rasters``."""
    conn.execute(
        f"""
        INSERT INTO meta.rasters (name, title_vi, title_en, kind, path, crs, footprint, width,
            height, bands, dtype, nodata, resolution, unit, sensitivity, import_id)
        VALUES (%(name)s, %(title_vi)s, %(title_en)s, %(kind)s, %(path)s,
            %(crs)s, ST_GeomFromText(%(wkt)s, {STORAGE_SRID}),
            %(width)s, %(height)s, %(bands)s, %(dtype)s, %(nodata)s,
            %(resolution)s, %(unit)s, %(sensitivity)s, %(import_id)s)
        ON CONFLICT (name) DO UPDATE SET title_vi = EXCLUDED.title_vi,
            title_en = EXCLUDED.title_en, kind = EXCLUDED.kind,
            path = EXCLUDED.path, crs = EXCLUDED.crs,
            footprint = EXCLUDED.footprint, width = EXCLUDED.width,
            height = EXCLUDED.height, bands = EXCLUDED.bands,
            dtype = EXCLUDED.dtype, nodata = EXCLUDED.nodata,
            resolution = EXCLUDED.resolution, unit = EXCLUDED.unit,
            sensitivity = EXCLUDED.sensitivity, import_id = EXCLUDED.import_id
        """,
        {"name": name, "title_vi": str(meta.get("title_vi", name)),
         "title_en": str(meta.get("title_en", name)),
         "kind": str(meta.get("kind", "raster")), "path": str(target),
         "crs": raster.stored_crs.to_wkt(), "wkt": raster.footprint.wkt, **raster.facts,
         "unit": meta.get("unit"), "sensitivity": str(meta.get("sensitivity", "public")),
         "import_id": import_id})


def import_raster(path: str | Path, layer_id: str, options: ImportOptions, *,
                  url: str | None = None, settings: Settings | None = None,
                  progress: Callable[[dict[str, Any]], None] | None = None) -> ImportReport:
    settings = settings or get_settings()
    url = url or database_url(settings)
    name = _name(layer_id)
    if options.mode != "replace":
        raise InvalidInput("a raster is always replaced", where="--mode", hint="omit --mode")
    meta = mappingmod.load(options.mapping, None).raster
    report = ImportReport(import_id=None, layer_id=layer_id, mode="replace",
                          dry_run=options.dry_run, source_path=str(path), user=options.user,
                          source_date=options.source_date, started_at=datetime.now(UTC))
    dataset = resolve(path)
    try:
        raster = _inspect(dataset, options, report, layer_id)
        report.rows_in = 1
        with connect(url, autocommit=True) as conn:
            row = expect_row(conn.execute(
                "INSERT INTO meta.imports (layer_id, mode, status, dry_run, source_path, "
                "user_name, source_format, source_checksum, source_crs, source_date) VALUES "
                "(%s, 'replace', 'running', %s, %s, %s, 'GeoTIFF', %s, %s, %s) RETURNING id",
                (layer_id, options.dry_run, str(path), options.user, dataset.checksum,
                 report.source_crs, options.source_date)).fetchone())
            report.import_id = int(row[0])
            target = settings.rasters_dir / name / f"{name}_{report.import_id}.tif"
            report.extra["raster"] = {
                "name": name, "path": str(target), "crs": report.source_crs,
                "footprint_bounds": [round(v, 7) for v in raster.footprint.bounds],
                **raster.facts}
            try:
                if progress:
                    progress({"phase": "writing COG", "done": 0, "total": 1,
                              "import_id": report.import_id})
                if not options.dry_run:
                    _write_cog(dataset.path, target, raster.stored_crs)
                report.rows_loaded = 1
                report.status = "dry_run" if options.dry_run else "loaded"
                report.finished_at = datetime.now(UTC)
                with conn.transaction():
                    if not options.dry_run:
                        _register(conn, name, target, raster, meta, report.import_id)
                    conn.execute(
                        "UPDATE meta.imports SET status = %s, finished_at = now(), rows_in = 1, "
                        "rows_loaded = 1, report = %s::jsonb WHERE id = %s",
                        (report.status, report.to_json(), report.import_id))
            except BaseException as exc:
                report.status, report.error = "failed", str(exc)
                conn.execute("UPDATE meta.imports SET status = 'failed', finished_at = now(), "
                             "error = %s, report = %s::jsonb WHERE id = %s",
                             (str(exc)[:4000], report.to_json(), report.import_id))
                raise
    finally:
        dataset.cleanup()
    return report

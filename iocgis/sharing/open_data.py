"""Open data: bulk downloads of the layers the registry marks ``open`` (public layers only).

Each layer's GeoPackage, CSV and GeoJSON are written together from one read in one
REPEATABLE READ snapshot, as the anonymous caller's plan (``iocgis.access``): the files hold
exactly what anyone may read, from one data version, which their names carry
(``admin.communes-v12.gpkg``). They are kept on disk until an import changes the version; the
next download writes the new version's files and removes the old ones. Built in memory: the
open layers are reference data of some thousands of rows, not the parcel register.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyogrio
import shapely
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from iocgis.access import ANONYMOUS, AccessPlan, plan_for
from iocgis.access.database import Reader
from iocgis.errors import InvalidInput, NotFound
from iocgis.layers import LayerDef, Registry
from iocgis.layers.types import field_type

# Format -> (GDAL driver, media type, title).
FORMATS: dict[str, tuple[str | None, str, str]] = {
    "gpkg": ("GPKG", "application/geopackage+sqlite3", "GeoPackage"),
    "geojson": ("GeoJSON", "application/geo+json", "GeoJSON"),
    "csv": (None, "text/csv; charset=utf-8", "CSV"),
}
GEOMETRY_COLUMN = "geometry"  # in the GeoPackage and GeoJSON; WKT column ``wkt`` in the CSV


def open_layers(registry: Registry) -> tuple[LayerDef, ...]:
    return tuple(layer for layer in registry if layer.open and layer.sensitivity == "public")


def open_layer(registry: Registry, layer_id: str) -> LayerDef:
    """An open layer, else NotFound (as for a missing layer: open data is public anyway)."""
    if layer_id in registry:
        layer = registry.get(layer_id)
        if layer in open_layers(registry):
            return layer
    raise NotFound(f"no open dataset {str(layer_id)[:80]!r}", where="layer",
                   hint="the open datasets are listed at /open-data/catalog.json")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown download format {fmt[:20]!r}", where="format",
                           hint=f"use one of: {', '.join(FORMATS)}")
    return fmt


def file_name(layer: LayerDef, version: int, fmt: str) -> str:
    return f"{layer.id}-v{version}.{fmt}"


@dataclass(frozen=True)
class LayerState:
    """What ``meta.layers`` says of a layer now."""

    version: int
    modified: datetime | None
    bbox: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class Snapshot:
    """One layer's rows as the anonymous caller reads them, at one data version."""

    plan: AccessPlan
    version: int
    table: pa.Table  # fid, the plan's fields, geometry (WKB) when the layer has one


def _arrow(plan: AccessPlan, rows: list[tuple]) -> pa.Table:
    layer = plan.layer
    columns = list(zip(*rows)) if rows else [[] for _ in range(len(plan.fields) + 2)]
    arrays = [pa.array(columns[0], pa.int64())]
    names = ["fid"]
    for i, name in enumerate(plan.fields, start=1):
        arrays.append(pa.array(columns[i], field_type(layer.field(name).type).arrow))
        names.append(name)
    schema_fields = [pa.field(n, a.type) for n, a in zip(names, arrays)]
    if layer.is_spatial:
        arrays.append(pa.array([bytes(g) if g is not None else None for g in columns[-1]],
                               pa.binary()))
        schema_fields.append(pa.field(GEOMETRY_COLUMN, pa.binary(),
                                      metadata={"ARROW:extension:name": "geoarrow.wkb"}))
    return pa.Table.from_arrays(arrays, schema=pa.schema(schema_fields))


async def read_snapshot(reader: Reader, layer: LayerDef) -> Snapshot:
    """The version and every row in one snapshot, under the anonymous caller's plan."""
    plan = plan_for(ANONYMOUS, layer)
    columns = [sql.Identifier("fid"), *map(sql.Identifier, plan.fields)]
    if layer.is_spatial:
        columns.append(sql.SQL("ST_AsBinary(geom)"))
    statement = sql.SQL("SELECT {} FROM {} ORDER BY fid").format(
        sql.SQL(", ").join(columns), sql.Identifier(layer.schema_name, layer.table_name))
    async with reader.reading(plan, what="open-data export", snapshot=True,
                              hint="retry later") as conn:
        cur = await conn.execute("SELECT sharing.public_data_version(%s)", (layer.id,))
        found = await cur.fetchone()
        cur = await conn.execute(statement)
        rows = await cur.fetchall()
    version = int(found[0]) if found and found[0] is not None else 0
    return Snapshot(plan, version, _arrow(plan, rows))


def _csv(snapshot: Snapshot) -> bytes:
    """UTF-8 CSV: fid, the fields, and the geometry as WKT (EPSG:4326, longitude first)."""
    table = snapshot.table
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    names = [n for n in table.column_names if n != GEOMETRY_COLUMN]
    spatial = GEOMETRY_COLUMN in table.column_names
    writer.writerow([*names, *(["wkt"] if spatial else [])])
    values = [table.column(n).to_pylist() for n in names]
    shapes = shapely.to_wkt(shapely.from_wkb(table.column(GEOMETRY_COLUMN).to_pylist()),
                            rounding_precision=-1) if spatial else None
    for i in range(table.num_rows):
        row = ["" if column[i] is None else column[i] for column in values]
        writer.writerow([*row, *([shapes[i] or ""] if shapes is not None else [])])
    return out.getvalue().encode()


def write_files(snapshot: Snapshot, directory: Path) -> dict[str, Path]:
    """The three files of a snapshot, each written beside and renamed into place."""
    layer = snapshot.plan.layer
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt, (driver, _, _) in FORMATS.items():
        target = directory / file_name(layer, snapshot.version, fmt)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        partial.unlink(missing_ok=True)
        if driver is None:
            partial.write_bytes(_csv(snapshot))
        else:
            options = {"RFC7946": "YES"} if driver == "GeoJSON" else {}
            pyogrio.write_arrow(snapshot.table, partial, layer=layer.id.replace(".", "_"),
                                driver=driver,
                                geometry_name=GEOMETRY_COLUMN if layer.is_spatial else None,
                                geometry_type=layer.geometry if layer.is_spatial else None,
                                crs="EPSG:4326" if layer.is_spatial else None,
                                layer_options=options or None)
        partial.replace(target)
        written[fmt] = target
    return written


class OpenDataFiles:
    """The download files of every open layer, kept under ``directory`` per data version."""

    def __init__(self, directory: Path, reader: Reader, pool: AsyncConnectionPool) -> None:
        self.directory = directory
        self.reader = reader
        self.pool = pool
        self._locks: dict[str, asyncio.Lock] = {}

    async def versions(self, layers: tuple[LayerDef, ...]) -> dict[str, LayerState]:
        """Data version, last change and extent of each layer (for the catalogue)."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, data_version, coalesce(last_import_at, updated_at), ST_XMin(extent), "
                "ST_YMin(extent), ST_XMax(extent), ST_YMax(extent) FROM meta.layers "
                "WHERE id = ANY(%s)", ([layer.id for layer in layers],))
            return {row[0]: LayerState(int(row[1]), row[2],
                                       tuple(row[3:7]) if row[3] is not None else None)
                    for row in await cur.fetchall()}

    async def file(self, layer: LayerDef, fmt: str) -> tuple[Path, int]:
        """The file of the current version (written when missing) and that version."""
        found = await self.versions((layer,))
        version = found[layer.id].version if layer.id in found else 0
        path = self.directory / file_name(layer, version, fmt)
        if path.exists():
            return path, version
        async with self._locks.setdefault(layer.id, asyncio.Lock()):
            if path.exists():  # another request wrote it meanwhile
                return path, version
            snapshot = await read_snapshot(self.reader, layer)
            written = await asyncio.to_thread(write_files, snapshot, self.directory)
            await asyncio.to_thread(self._remove_others, layer, snapshot.version)
            return written[fmt], snapshot.version

    def _remove_others(self, layer: LayerDef, version: int) -> None:
        keep = {file_name(layer, version, fmt) for fmt in FORMATS}
        for old in self.directory.glob(f"{layer.id}-v*.*"):
            if old.name not in keep:
                old.unlink(missing_ok=True)

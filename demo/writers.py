"""Writers for the formats GIS officers bring: GeoPackage, zipped Shapefile, GeoJSON, CSV.

Each writer takes chunks of a layer (``FeatureTable``) and produces byte-reproducible files:
fixed GeoPackage and DBF dates, fixed zip entry times, no wall-clock anywhere.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np
import pyogrio
import shapely
from pyogrio.raw import write as ogr_write
from pyproj import CRS

from iocgis.crs import WGS84, transformer
from iocgis.demo.table import AS_OF, FeatureTable
from iocgis.layers import LayerDef

FIXED_DATE = AS_OF.strftime("%Y-%m-%d")
FIXED_ZIP_TIME = (AS_OF.year, AS_OF.month, AS_OF.day, 0, 0, 0)
# GDAL stamps gpkg_contents.last_change with the clock unless told otherwise.
# A demo file is rebuilt, not recovered: no fsync after each append.
pyogrio.set_gdal_config_options(
    {"OGR_CURRENT_DATE": f"{FIXED_DATE}T00:00:00.000Z", "OGR_SQLITE_SYNCHRONOUS": "OFF"}
)
# Chunks are gathered up to this many rows per append: each append reopens the file.
APPEND_ROWS = 100_000


class LayerWriter(Protocol):
    path: Path
    rows: int

    def write(self, table: FeatureTable) -> None: ...

    def close(self) -> None: ...


def reproject(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """EPSG:4326 geometries into ``crs`` through the project's pinned transformer."""
    if crs.equals(WGS84):
        return geoms
    t = transformer(WGS84, crs)

    def project(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        px, py = t.transform(x, y)
        return np.round(px, 3), np.round(py, 3)  # millimetres

    return shapely.transform(geoms, project, interleaved=False)


def _ogr_fields(
    table: FeatureTable, layer: LayerDef
) -> tuple[list[np.ndarray], list[str], list[np.ndarray | None]]:
    data, masks = [], []
    for fdef in layer.fields:
        values = table.columns[fdef.name]
        mask = None
        if fdef.type in ("integer", "bigint"):
            if values.dtype.kind == "O":
                mask = np.array([v is None for v in values])
                values = np.array([0 if v is None else int(v) for v in values], dtype=np.int64)
            values = values.astype(np.int64 if fdef.type == "bigint" else np.int32)
        elif fdef.type == "numeric":
            values = (
                np.array([np.nan if v is None else v for v in values], float)
                if values.dtype.kind == "O"
                else values.astype(float)
            )
        elif fdef.type == "boolean":
            if values.dtype.kind == "O":
                mask = np.array([v is None for v in values])
                values = np.array([bool(v) for v in values])
            values = values.astype(bool)
        else:
            values = np.asarray(values, dtype=object)
        data.append(values)
        masks.append(mask)
    return data, list(layer.field_names), masks


class OgrWriter:
    """GeoPackage or Shapefile through pyogrio, appending chunks of up to APPEND_ROWS rows."""

    def __init__(self, path: Path, layer: LayerDef, driver: str, crs: CRS) -> None:
        self.path, self.layer, self.driver, self.crs = path, layer, driver, crs
        self.rows = 0
        self.layer_options = (
            {"DBF_DATE_LAST_UPDATE": FIXED_DATE} if driver == "ESRI Shapefile" else {}
        )
        self._pending: list[FeatureTable] = []
        self._written = 0

    def write(self, table: FeatureTable) -> None:
        self._pending.append(table)
        self.rows += len(table)
        if self.rows - self._written >= APPEND_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending or (self._written and self.rows == self._written):
            self._pending = []
            return
        table = _concat(self._pending)
        self._pending = []
        data, names, masks = _ogr_fields(table, self.layer)
        geoms = reproject(table.geometry, self.crs)
        field_mask = masks if any(m is not None for m in masks) else None
        with warnings.catch_warnings():
            # Shapefile field names are cut to 10 characters: expected, the mapping file says so.
            warnings.filterwarnings("ignore", message="Normalized/laundered field name")
            ogr_write(
                str(self.path),
                shapely.to_wkb(geoms),
                data,
                names,
                field_mask=field_mask,
                layer=self.path.stem,
                driver=self.driver,
                # a layer with footprints: points and polygons in one file
                geometry_type="Unknown" if self.layer.footprint else self.layer.geometry,
                crs=self.crs.to_string(),
                encoding="UTF-8",
                append=self._written > 0,
                layer_options=self.layer_options or None,
            )
        self._written = self.rows

    def close(self) -> None:
        self._flush()


def _concat(tables: list[FeatureTable]) -> FeatureTable:
    if len(tables) == 1:
        return tables[0]
    first = tables[0]
    columns = {name: np.concatenate([t.columns[name] for t in tables]) for name in first.columns}
    geometry = np.concatenate([t.geometry for t in tables]) if first.geometry is not None else None
    return FeatureTable(first.layer_id, columns, geometry)


class ZippedShapefileWriter(OgrWriter):
    """A Shapefile (with .cpg) written beside the target, then zipped reproducibly."""

    def __init__(self, path: Path, layer: LayerDef, crs: CRS) -> None:
        self.zip_path = path
        self.work = path.with_suffix(".shpdir")
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        super().__init__(self.work / f"{path.stem}.shp", layer, "ESRI Shapefile", crs)
        self.renamed_fields: dict[str, str] = {}

    def close(self) -> None:
        super().close()
        info = pyogrio.read_info(str(self.path))
        self.renamed_fields = {
            str(src): dst
            for src, dst in zip(info["fields"], self.layer.field_names)
            if str(src) != dst
        }
        with zipfile.ZipFile(self.zip_path, "w") as archive:
            for member in sorted(self.work.iterdir()):
                info = zipfile.ZipInfo(member.name, date_time=FIXED_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, member.read_bytes())
        shutil.rmtree(self.work)
        self.path = self.zip_path


def _json_value(value: object) -> object:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class GeoJSONWriter:
    """RFC 7946 GeoJSON (EPSG:4326), streamed feature by feature."""

    def __init__(self, path: Path, layer: LayerDef) -> None:
        self.path, self.layer = path, layer
        self.rows = 0
        self._file = open(path, "w", encoding="utf-8", newline="\n")
        self._file.write(
            f'{{"type":"FeatureCollection","name":{json.dumps(layer.name)},"features":[\n'
        )

    def write(self, table: FeatureTable) -> None:
        names = list(self.layer.field_names)
        columns = [table.columns[n].tolist() for n in names]
        geometry = (
            shapely.to_geojson(table.geometry)
            if table.geometry is not None
            else np.full(len(table), "null", dtype=object)
        )
        for k in range(len(table)):
            props = {n: _json_value(col[k]) for n, col in zip(names, columns)}
            prefix = ",\n" if self.rows else ""
            self._file.write(
                f'{prefix}{{"type":"Feature","properties":'
                f'{json.dumps(props, ensure_ascii=False)},"geometry":{geometry[k]}}}'
            )
            self.rows += 1

    def close(self) -> None:
        self._file.write("\n]}\n")
        self._file.close()


class CSVWriter:
    """UTF-8 CSV; point layers get ``lon``/``lat`` columns (EPSG:4326)."""

    def __init__(self, path: Path, layer: LayerDef) -> None:
        self.path, self.layer = path, layer
        self.rows = 0
        self._file = open(path, "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._file, lineterminator="\n")
        self.with_xy = layer.geometry == "Point"
        self._csv.writerow([*layer.field_names, *(("lon", "lat") if self.with_xy else ())])

    def write(self, table: FeatureTable) -> None:
        columns = [
            [_csv_value(v) for v in table.columns[n].tolist()] for n in self.layer.field_names
        ]
        if self.with_xy:
            xy = shapely.get_coordinates(table.geometry)
            columns += [[f"{v:.7f}" for v in xy[:, 0]], [f"{v:.7f}" for v in xy[:, 1]]]
        self._csv.writerows(zip(*columns))
        self.rows += len(table)

    def close(self) -> None:
        self._file.close()


def _csv_value(value: object) -> object:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value

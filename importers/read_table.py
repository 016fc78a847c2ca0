"""CSV and XLSX with coordinate columns: lon/lat (WGS84 unless --crs says otherwise) or
VN-2000 X/Y (a CRS is then required). Vietnamese surveyors write X for the northing: when the
"X" column holds northings (> 1,000 km) and "Y" eastings, they are swapped and noted.

Rows stream (csv module, openpyxl read-only), so memory does not grow with the file. Feature
ids are spreadsheet row numbers (the header is row 1).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS

from iocgis.errors import InvalidInput
from iocgis.importers import encodings
from iocgis.importers.batch import BATCH_SIZE, FeatureBatch, SourceInfo
from iocgis.importers.mapping import Mapping, normalise_name
from iocgis.importers.options import ImportOptions
from iocgis.importers.sources import Dataset
from iocgis.layers import LayerDef

LON_NAMES = ("lon", "lng", "long", "longitude", "kinh_do", "kinhdo", "x_wgs84", "lon_wgs84")
LAT_NAMES = ("lat", "latitude", "vi_do", "vido", "y_wgs84", "lat_wgs84")
X_NAMES = ("x", "toa_do_x", "x_vn2000", "coord_x", "easting", "x_m")
Y_NAMES = ("y", "toa_do_y", "y_vn2000", "coord_y", "northing", "y_m")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")
NUMBER_RE = r"^\s*[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?\s*$"


def _find(headers: list[str], wanted: tuple[str, ...]) -> str | None:
    by_norm = {normalise_name(h): h for h in headers}
    for name in wanted:
        if name in by_norm:
            return by_norm[name]
    return None


class TableReader:
    def __init__(self, dataset: Dataset, options: ImportOptions, layer: LayerDef,
                 mapping: Mapping) -> None:
        self.dataset = dataset
        self.shown = dataset.name
        self.encoding = encodings.canonical(options.encoding) or "utf-8"
        headers = self._headers()
        if not headers:
            raise InvalidInput(f"{self.shown} has no header row", where=self.shown,
                               hint="the first row must name the columns (e.g. lon, lat, ...)")
        cols = mapping.columns
        for key in cols:
            if key not in ("lon", "lat", "x", "y", "wkt"):
                raise InvalidInput(f"mapping columns.{key} is not a coordinate column",
                                   where=f"{mapping.origin}: columns.{key}",
                                   hint="use lon/lat, x/y or wkt")
            if cols[key] not in headers:
                raise InvalidInput(f"{self.shown} has no column {cols[key]!r} (mapping "
                                   f"columns.{key})", where=self.shown,
                                   hint=f"its columns: {', '.join(headers[:30])}")
        self.kind: str
        if not layer.is_spatial:  # coordinate-like columns are plain fields then
            cols = {}
        lon = cols.get("lon") or (None if "x" in cols else _find(headers, LON_NAMES))
        lat = cols.get("lat") or (None if "y" in cols else _find(headers, LAT_NAMES))
        x = cols.get("x") or _find(headers, X_NAMES)
        y = cols.get("y") or _find(headers, Y_NAMES)
        wkt = cols.get("wkt") or _find(headers, WKT_NAMES)
        crs: CRS | None = None
        if not layer.is_spatial:
            lon = lat = x = y = wkt = None
        if lon and lat:
            self.kind, self.coord_cols = "lonlat", (lon, lat)
            crs = CRS.from_epsg(4326)  # the column names say GPS longitude/latitude
        elif x and y:
            self.kind, self.coord_cols = "xy", (x, y)
        elif wkt:
            self.kind, self.coord_cols = "wkt", (wkt,)
        elif not layer.is_spatial:
            self.kind, self.coord_cols = "none", ()
        else:
            raise InvalidInput(f"{self.shown} has no coordinate columns", where=self.shown,
                               hint="name them lon/lat (or kinh_do/vi_do), x/y for VN-2000, or "
                                    "wkt; or say which in the mapping file: columns: {lon: ..., "
                                    f"lat: ...}}; its columns: {', '.join(headers[:30])}")
        self.reserved_columns = set(self.coord_cols)
        self.headers = headers
        self.info = SourceInfo(format=dataset.format, crs=crs, encoding=self.encoding,
                               fields=[h for h in headers if h not in self.reserved_columns],
                               count=None, feature_word="row")

    # -- raw rows --------------------------------------------------------------------------
    def _text_stream(self) -> io.TextIOWrapper:
        codec = encodings.reader_encoding(self.encoding)
        codec = "utf-8-sig" if codec == "utf-8" else codec
        return open(self.dataset.path, encoding=codec, errors="strict", newline="")

    def _csv_rows(self) -> Iterator[list[Any]]:
        try:
            with self._text_stream() as fh:
                sample = fh.read(64 * 1024)
                fh.seek(0)
                try:
                    dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
                except csv.Error:
                    dialect = csv.excel
                yield from csv.reader(fh, dialect)
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{self.shown} is not valid {self.encoding} text (byte "
                               f"{exc.start})", where=self.shown,
                               hint="give its encoding with --encoding (cp1258, tcvn3, vni) or "
                                    "save it as UTF-8") from exc
        except csv.Error as exc:
            raise InvalidInput(f"{self.shown} is not readable CSV: {exc}", where=self.shown,
                               hint="export it again as CSV (comma or semicolon separated)") from exc

    def _xlsx_rows(self) -> Iterator[list[Any]]:
        import openpyxl

        try:
            book = openpyxl.load_workbook(self.dataset.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise InvalidInput(f"cannot read {self.shown} as an Excel workbook: {exc}",
                               where=self.shown, hint="save it again from Excel as .xlsx") from exc
        try:
            sheet = book.worksheets[0]
            for row in sheet.iter_rows(values_only=True):
                yield list(row)
        finally:
            book.close()

    def _rows(self) -> Iterator[list[Any]]:
        return self._xlsx_rows() if self.dataset.format == "XLSX" else self._csv_rows()

    def _headers(self) -> list[str]:
        first = next(iter(self._rows()), None)
        if first is None:
            return []
        return [str(h).strip() if h is not None else f"column_{i + 1}" for i, h in enumerate(first)]

    # -- batches ---------------------------------------------------------------------------
    def batches(self, size: int = BATCH_SIZE) -> Iterator[FeatureBatch]:
        rows = self._rows()
        next(rows, None)  # header
        row_no = 1
        while True:
            chunk = list(itertools.islice(rows, size))
            if not chunk:
                return
            n = len(chunk)
            fids = np.arange(row_no + 1, row_no + n + 1, dtype=np.int64)
            row_no += n
            columns: dict[str, pa.Array] = {}
            self._problems: list = []
            self._notes: list = []
            for j, name in enumerate(self.headers):
                values = [r[j] if j < len(r) else None for r in chunk]
                values = [None if v == "" else v for v in values]
                columns[name] = self._array(values)
            geoms = self._geometries(columns, fids)
            yield FeatureBatch(fids, geoms, {
                k: v for k, v in columns.items() if k not in self.reserved_columns},
                problems=self._problems, notes=self._notes)

    def _array(self, values: list[Any]) -> pa.Array:
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = pa.array([None if v is None else str(v) for v in values], type=pa.string())
        if pa.types.is_null(array.type):
            return array.cast(pa.string())
        return encodings.convert_column(array, self.encoding)

    def _numbers(self, column: pa.Array, name: str, fids: np.ndarray) -> np.ndarray:
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), float)
        text = column.cast(pa.string())
        ok = pc.fill_null(pc.match_substring_regex(text, NUMBER_RE), False)
        clean = pc.replace_substring(pc.utf8_trim_whitespace(text), ",", ".")
        numbers = pc.cast(pc.if_else(ok, clean, pa.scalar(None, pa.string())), pa.float64())
        bad = ~np.asarray(ok.to_numpy(zero_copy_only=False), bool) & ~np.asarray(
            pc.is_null(text).to_numpy(zero_copy_only=False), bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            self._problems.append(("coordinates.not_number", "reject",
                                   f"column {name}: text where a coordinate number must be",
                                   bad, name, repr(text[i].as_py())))
        return np.asarray(numbers.to_numpy(zero_copy_only=False), float)

    def _geometries(self, columns: dict[str, pa.Array], fids: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return np.full(len(fids), None, dtype=object)
        if self.kind == "wkt":
            text = columns[self.coord_cols[0]].cast(pa.string()).to_numpy(zero_copy_only=False)
            return shapely.from_wkt(text, on_invalid="ignore")
        a, b = self.coord_cols
        xs = self._numbers(columns[a], a, fids)
        ys = self._numbers(columns[b], b, fids)
        if self.kind == "xy":
            finite = np.isfinite(xs) & np.isfinite(ys)
            if finite.any() and np.median(xs[finite]) > 1_000_000 > np.median(ys[finite]):
                xs, ys = ys, xs  # X = northing, the Vietnamese surveying convention
                self._notes.append(("coordinates.xy_convention",
                                    f"{a} holds northings and {b} eastings (Vietnamese surveying "
                                    "convention): read as Y/X"))
        points = shapely.points(xs, ys)
        points[~(np.isfinite(xs) & np.isfinite(ys))] = None
        return points

"""Vector files through pyogrio's Arrow stream: GeoPackage, Shapefile, GeoJSON(Seq), KML/KMZ,
FlatGeobuf. Batches stream from GDAL, so memory does not grow with the file."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError
from pyproj import CRS

from iocgis.errors import InvalidInput
from iocgis.importers import encodings
from iocgis.importers.batch import BATCH_SIZE, FeatureBatch, SourceInfo
from iocgis.importers.options import ImportOptions
from iocgis.importers.sources import Dataset, sibling
from iocgis.layers import LayerDef

GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError,
               OSError)
# Formats whose coordinates are WGS84 by definition (RFC 7946, the KML standard).
WGS84_BY_DEFINITION = {"GeoJSON", "GeoJSONSeq", "KML", "KMZ"}


def unreadable(shown: str, exc: BaseException) -> InvalidInput:
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    return InvalidInput(f"cannot read {shown}: {detail}", where=shown,
                        hint="the file is truncated or corrupt: export it again from the "
                             "original software")


class VectorReader:
    def __init__(self, dataset: Dataset, options: ImportOptions, layer: LayerDef) -> None:
        self.dataset = dataset
        self.shown = dataset.name
        self.path = str(dataset.path)
        notes: list[tuple[str, str]] = []
        encoding = encodings.canonical(options.encoding)
        if dataset.format == "ESRI Shapefile" and encoding is None:
            cpg = sibling(dataset.path, ".cpg")
            encoding = encodings.read_cpg(cpg) if cpg else None
            if encoding is None:
                dbf = sibling(dataset.path, ".dbf")
                assert dbf is not None  # checked by sources.resolve
                encoding, note = encodings.sniff_dbf(dbf, self.shown.replace(".shp", ".dbf"))
                if note:
                    notes.append(("encoding.detected", note))
        self.encoding = encoding or "utf-8"
        self.layer_name = self._choose_layer(options, layer)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                info = pyogrio.read_info(self.path, layer=self.layer_name,
                                         **self._open_options())
        except GDAL_ERRORS as exc:
            raise unreadable(self.shown, exc) from exc
        crs = CRS.from_user_input(info["crs"]) if info.get("crs") else None
        if crs is None and dataset.format in WGS84_BY_DEFINITION:
            crs = CRS.from_epsg(4326)
        count = info.get("features")
        self.info = SourceInfo(format=dataset.format, crs=crs, encoding=self.encoding,
                               fields=[str(f) for f in info["fields"]],
                               count=int(count) if count is not None and count >= 0 else None,
                               geometry_type=info.get("geometry_type"), notes=notes)

    def _open_options(self) -> dict[str, str]:
        """GDAL open options: a shapefile's DBF is read as UTF-8, or byte-for-byte as Latin-1
        and decoded in Python (the other formats are UTF-8 by specification)."""
        if self.dataset.format == "ESRI Shapefile":
            return {"ENCODING": "UTF-8" if self.encoding == "utf-8" else "ISO-8859-1"}
        return {}

    def _choose_layer(self, options: ImportOptions, layer: LayerDef) -> str | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                layers = [str(row[0]) for row in pyogrio.list_layers(self.path)]
        except GDAL_ERRORS as exc:
            raise unreadable(self.shown, exc) from exc
        if options.source_layer:
            if options.source_layer not in layers:
                raise InvalidInput(f"{self.shown} has no layer {options.source_layer!r}",
                                   where=self.shown, hint=f"its layers: {', '.join(layers)}")
            return options.source_layer
        if len(layers) <= 1:
            return layers[0] if layers else None
        for candidate in (layer.name, layer.id, layer.id.replace(".", "_")):
            if candidate in layers:
                return candidate
        raise InvalidInput(f"{self.shown} holds {len(layers)} layers ({', '.join(layers[:10])})",
                           where=self.shown,
                           hint="choose one with --source-layer NAME")

    def batches(self, size: int = BATCH_SIZE) -> Iterator[FeatureBatch]:
        ordinal = 0
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pyogrio.raw.open_arrow(self.path, layer=self.layer_name, batch_size=size,
                                            use_pyarrow=True, **self._open_options()
                                            ) as (meta, stream):
                    geom_name = meta.get("geometry_name") or "wkb_geometry"
                    for record_batch in stream:
                        n = record_batch.num_rows
                        if n == 0:
                            continue
                        fids = np.arange(ordinal + 1, ordinal + n + 1, dtype=np.int64)
                        ordinal += n
                        columns: dict[str, pa.Array] = {}
                        wkb = None
                        for name, column in zip(record_batch.schema.names, record_batch.columns, strict=True):
                            if name == geom_name:
                                wkb = column
                            else:
                                columns[name] = encodings.convert_column(column, self.encoding)
                        if isinstance(wkb, pa.ExtensionArray):
                            wkb = wkb.storage
                        geoms = (shapely.from_wkb(wkb.to_numpy(zero_copy_only=False),
                                                  on_invalid="ignore") if wkb is not None
                                 else np.full(n, None, dtype=object))
                        yield FeatureBatch(fids, geoms, columns,
                                           wkb=wkb if pa.types.is_binary(getattr(
                                               wkb, "type", None)) else None)
        except GDAL_ERRORS as exc:
            raise unreadable(self.shown, exc) from exc


def is_raster_path(path: Path) -> bool:
    return path.suffix.lower() in (".tif", ".tiff")

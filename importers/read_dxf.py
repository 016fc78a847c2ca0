"""DXF planning drawings: closed polylines and hatches become polygons; the CAD layer name
maps to a land-use (or other) code through the mapping file; TEXT/MTEXT inside a polygon fills
the field the mapping names for the text's CAD layer.

A drawing is small (thousands of entities), so it is read whole with ezdxf. DXF carries no
coordinate system: give ``--crs`` (or ``crs:`` in the mapping). Each polygon keeps its CAD
layer and entity handle in ``extra`` so an officer can find it in the drawing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import shapely

from iocgis.errors import InvalidInput
from iocgis.importers import encodings
from iocgis.importers.batch import BATCH_SIZE, FeatureBatch, SourceInfo
from iocgis.importers.mapping import Mapping
from iocgis.importers.options import ImportOptions
from iocgis.importers.sources import Dataset
from iocgis.layers import LayerDef

POLYLINES = ("LWPOLYLINE", "POLYLINE")
TEXTS = ("TEXT", "MTEXT")
FLATTEN_DISTANCE = 0.01  # metres (drawing units) of arc flattening


class DxfReader:
    def __init__(self, dataset: Dataset, options: ImportOptions, layer: LayerDef,
                 mapping: Mapping) -> None:
        import ezdxf
        from ezdxf import recover

        self.shown = dataset.name
        self.mapping = mapping
        self.encoding = encodings.canonical(options.encoding) or "utf-8"
        try:
            self.doc, auditor = recover.readfile(dataset.path)
        except (OSError, ezdxf.DXFStructureError, ezdxf.DXFError) as exc:
            raise InvalidInput(f"cannot read {self.shown} as a DXF drawing: {exc}",
                               where=self.shown, hint="save it again from CAD as DXF "
                                                      "(AutoCAD 2007 or newer)") from exc
        if auditor.has_errors:
            raise InvalidInput(f"{self.shown} is a damaged DXF drawing "
                               f"({len(auditor.errors)} unrecoverable errors)", where=self.shown,
                               hint="run AUDIT/RECOVER in CAD and save it again")
        self.code_field = mapping.code_field or ("land_use" if layer.has_field("land_use") else None)
        fields = ["cad_layer", "handle"]
        if self.code_field:
            fields.append(self.code_field)
        fields += [f for f in dict.fromkeys(mapping.texts.values()) if f not in fields]
        self.info = SourceInfo(format="DXF", crs=None, encoding=self.encoding, fields=fields,
                               count=None, feature_word="polygon")

    def _text(self, value: str) -> str:
        value = value.strip()
        return encodings.convert_text(value, self.encoding)

    def _polygons(self) -> list[tuple[shapely.Polygon, str, str]]:
        from ezdxf import path as ezpath

        wanted = set(self.mapping.cad_layers)
        out = []
        for entity in self.doc.modelspace():
            kind = entity.dxftype()
            cad_layer = entity.dxf.get("layer", "0")
            if wanted and cad_layer not in wanted:
                continue
            rings: list[list[tuple[float, float]]] = []
            if kind in POLYLINES:
                closed = bool(entity.closed) if kind == "LWPOLYLINE" else entity.is_closed
                try:
                    points = [(v.x, v.y) for v in ezpath.make_path(entity).flattening(
                        FLATTEN_DISTANCE)]
                except Exception:  # a degenerate entity: skipped and counted below
                    points = []
                if len(points) >= 3 and (closed or points[0] == points[-1]):
                    rings.append(points)
            elif kind == "HATCH":
                for boundary in ezpath.from_hatch(entity):
                    points = [(v.x, v.y) for v in boundary.flattening(FLATTEN_DISTANCE)]
                    if len(points) >= 3:
                        rings.append(points)
            else:
                continue
            if not rings:
                continue
            if len(rings) == 1:
                geom = shapely.Polygon(rings[0])
            else:  # a hatch with islands: the largest ring is the shell, the others holes
                polys = sorted((shapely.Polygon(r) for r in rings), key=lambda p: -p.area)
                geom = shapely.Polygon(polys[0].exterior.coords,
                                       [p.exterior.coords for p in polys[1:]
                                        if polys[0].contains(p.representative_point())])
            out.append((geom, cad_layer, str(entity.dxf.handle)))
        return out

    def _texts(self) -> list[tuple[float, float, str, str]]:
        wanted = self.mapping.texts
        out = []
        for entity in self.doc.modelspace().query(" ".join(TEXTS)):
            cad_layer = entity.dxf.get("layer", "0")
            if cad_layer not in wanted:
                continue
            if entity.dxftype() == "MTEXT":
                text = entity.plain_text()
            else:
                text = entity.dxf.get("text", "")
            point = entity.dxf.insert
            text = self._text(text)
            if text:
                out.append((point.x, point.y, wanted[cad_layer], text))
        return out

    def batches(self, size: int = BATCH_SIZE) -> Iterator[FeatureBatch]:
        polygons = self._polygons()
        if not polygons:
            return
        geoms = np.array([p[0] for p in polygons], dtype=object)
        n = len(geoms)
        columns: dict[str, list[Any]] = {"cad_layer": [p[1] for p in polygons],
                                         "handle": [p[2] for p in polygons]}
        if self.code_field:
            codes = self.mapping.cad_layers
            columns[self.code_field] = [codes.get(p[1], p[1]) for p in polygons]
        texts = self._texts()
        problems = []
        if texts:
            tree = shapely.STRtree(geoms)
            points = shapely.points([t[0] for t in texts], [t[1] for t in texts])
            text_idx, poly_idx = tree.query(points, predicate="within")
            areas = shapely.area(geoms)
            best: dict[int, int] = {}
            for t, p in zip(text_idx, poly_idx, strict=True):  # the smallest polygon around the text wins
                if t not in best or areas[p] < areas[best[t]]:
                    best[int(t)] = int(p)
            for field in dict.fromkeys(self.mapping.texts.values()):
                columns.setdefault(field, [None] * n)
            twice = np.zeros(n, dtype=bool)
            for t, p in best.items():
                field, text = texts[t][2], texts[t][3]
                if columns[field][p] is not None and columns[field][p] != text:
                    twice[p] = True
                    continue
                columns[field][p] = text
            if twice.any():
                problems.append(("dxf.text_twice", "warn", "two different texts of the same kind lie "
                                 "inside one polygon; the first was kept", twice, None, None))
        fids = np.arange(1, n + 1, dtype=np.int64)
        arrays = {k: pa.array(v, type=pa.string()) for k, v in columns.items()}
        batch = FeatureBatch(fids, geoms, arrays)
        batch.problems.extend(problems)
        yield batch

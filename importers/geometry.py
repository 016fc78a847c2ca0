"""Geometry rules: present and not empty, 2D, finite, of a type the layer accepts (promoted to
Multi*), valid (repaired with ``make_valid`` and recorded), and inside the province.

A layer with a footprint (``geometry: Point`` + ``footprint: MultiPolygon``) accepts both
forms: a point is the position; a polygon is the footprint and its point on surface the
position. The rules run as named phases over one batch, each marking rows rejected or fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import GeometryType as G

from iocgis.importers.georef import ReferenceArea
from iocgis.importers.report import Dimension, ImportReport
from iocgis.layers import LayerDef

# Which source geometry types a layer type accepts, and their dimension (0 point, 1 line, 2 area).
ACCEPTS: dict[str, set[int]] = {
    "Point": {G.POINT}, "MultiPoint": {G.POINT, G.MULTIPOINT},
    "MultiLineString": {G.LINESTRING, G.MULTILINESTRING, G.LINEARRING},
    "MultiPolygon": {G.POLYGON, G.MULTIPOLYGON},
}
DIMENSION = {"Point": 0, "MultiPoint": 0, "MultiLineString": 1, "MultiPolygon": 2}
TYPE_NAMES = {G.POINT: "Point", G.LINESTRING: "LineString", G.LINEARRING: "LinearRing",
              G.POLYGON: "Polygon", G.MULTIPOINT: "MultiPoint", G.MULTILINESTRING: "MultiLineString",
              G.MULTIPOLYGON: "MultiPolygon", G.GEOMETRYCOLLECTION: "GeometryCollection"}


@dataclass
class Cleaned:
    """A batch's geometries ready to load: positions (the layer's geometry), footprints (None
    where a row has none, or for a layer without them), and the rows rejected and fixed."""

    geoms: np.ndarray
    footprints: np.ndarray | None
    rejected: np.ndarray
    fixed: np.ndarray


@dataclass
class _Rows:
    """One batch on its way through the rules."""

    geoms: np.ndarray
    fids: np.ndarray
    report: ImportReport
    word: str
    rejected: np.ndarray
    fixed: np.ndarray

    @property
    def live(self) -> np.ndarray:
        return ~self.rejected

    def reject(self, mask: np.ndarray, rule: str, dimension: Dimension, message: str,
               example: str | None = None) -> None:
        if mask.any():
            self.report.note(rule, "reject", dimension, message, self.fids[mask],
                             example=example)
            self.rejected |= mask

    def fix(self, mask: np.ndarray, rule: str, message: str, example: str | None = None) -> None:
        if mask.any():
            self.report.note(rule, "fix", "đúng", message, self.fids[mask], example=example)
            self.fixed |= mask


def _keep_dimension(geom: shapely.Geometry, dim: int) -> shapely.Geometry | None:
    """The parts of a (collection) geometry with the wanted dimension, as one Multi*."""
    parts = shapely.get_parts(shapely.get_parts(geom))
    if dim == 2:
        parts = parts[shapely.get_type_id(parts) == G.POLYGON]
        return shapely.multipolygons(parts) if len(parts) else None
    if dim == 1:
        parts = parts[np.isin(shapely.get_type_id(parts), (G.LINESTRING, G.LINEARRING))]
        return shapely.multilinestrings(parts) if len(parts) else None
    parts = parts[shapely.get_type_id(parts) == G.POINT]
    return shapely.multipoints(parts) if len(parts) else None


def _promote(geoms: np.ndarray, target: str) -> np.ndarray:
    """Single geometries as the layer's Multi* type (a LinearRing as a LineString)."""
    types = shapely.get_type_id(geoms)
    out = geoms.copy()
    if target == "MultiLineString":
        for i in np.flatnonzero(types == G.LINEARRING):
            out[i] = shapely.LineString(geoms[i].coords)
        types = np.where(types == G.LINEARRING, G.LINESTRING, types)
    single = {"MultiPolygon": G.POLYGON, "MultiLineString": G.LINESTRING,
              "MultiPoint": G.POINT}.get(target)
    if single is None:
        return out
    many = {"MultiPolygon": shapely.multipolygons, "MultiLineString": shapely.multilinestrings,
            "MultiPoint": shapely.multipoints}[target]
    mask = types == single
    if mask.any():
        out[mask] = many(out[mask][:, None])
    return out


def _present(rows: _Rows) -> None:
    """đủ/sạch: a geometry is there and not empty."""
    missing = shapely.is_missing(rows.geoms) & rows.live
    rows.reject(missing, "geometry.missing", "đủ",
                f"{rows.word} has no geometry (or it cannot be read)")
    empty = rows.live & shapely.is_empty(rows.geoms)
    rows.reject(empty, "geometry.empty", "sạch", f"{rows.word} has an empty geometry")


def _flat(rows: _Rows) -> None:
    live = rows.live
    if shapely.has_z(rows.geoms[live]).any():
        rows.geoms[live] = shapely.force_2d(rows.geoms[live])
        rows.report.note("geometry.z_dropped", "info", "đúng", "Z/M values dropped (2D storage)",
                         count=int(live.sum()))


def _finite(rows: _Rows) -> None:
    """đúng: every coordinate a valid longitude/latitude after the transformation."""
    live = rows.live
    ok = np.ones(len(rows.geoms), dtype=bool)
    b = shapely.bounds(rows.geoms[live])
    ok[live] = (np.isfinite(b).all(axis=1) & (np.abs(b[:, [0, 2]]) <= 180).all(axis=1)
                & (np.abs(b[:, [1, 3]]) <= 90).all(axis=1))
    rows.reject(live & ~ok, "geometry.coordinates", "đúng",
                f"{rows.word} has coordinates that do not transform to valid longitude/latitude")


def _salvage(geom: shapely.Geometry, targets: tuple[str, ...]) -> shapely.Geometry | None:
    """The accepted parts of a mixed collection (the highest dimension first), or the one
    point of a single-point MultiPoint in a Point layer."""
    if shapely.get_type_id(geom) == G.MULTIPOINT:
        return shapely.get_geometry(geom, 0) if "Point" in targets and \
            shapely.get_num_geometries(geom) == 1 else None
    if shapely.get_type_id(geom) != G.GEOMETRYCOLLECTION:
        return None
    for target in sorted(targets, key=lambda t: -DIMENSION[t]):
        kept = _keep_dimension(geom, DIMENSION[target])
        if kept is not None and target == "Point":
            kept = shapely.get_geometry(kept, 0) if shapely.get_num_geometries(kept) == 1 else None
        if kept is not None:
            return kept
    return None


def _of_accepted_type(rows: _Rows, targets: tuple[str, ...]) -> None:
    """đúng: a type the layer takes; the accepted parts of a mixed geometry are kept."""
    accepted = set().union(*(ACCEPTS[t] for t in targets))
    types = shapely.get_type_id(rows.geoms)
    wrong = rows.live & ~np.isin(types, list(accepted))
    salvaged = np.zeros(len(rows.geoms), dtype=bool)
    for i in np.flatnonzero(wrong):
        kept = _salvage(rows.geoms[i], targets)
        if kept is not None:
            rows.geoms[i] = kept
            salvaged[i] = True
    rows.fix(salvaged, "geometry.collection",
             f"kept the {'/'.join(targets)} parts of a mixed geometry")
    still = wrong & ~salvaged
    if still.any():
        found = sorted({TYPE_NAMES.get(int(t), str(t)) for t in types[still]})
        rows.reject(still, "geometry.type", "đúng",
                    f"{'/'.join(found)} geometry in a {'/'.join(targets)} layer",
                    example=f"{rows.word} {int(rows.fids[still][0])} is a {found[0]}")


def _valid(rows: _Rows) -> None:
    """đúng: invalid geometries repaired with make_valid (their own dimension kept)."""
    live = rows.live
    invalid = np.zeros(len(rows.geoms), dtype=bool)
    invalid[live] = ~shapely.is_valid(rows.geoms[live])
    if not invalid.any():
        return
    idx = np.flatnonzero(invalid)
    reason = str(shapely.is_valid_reason(rows.geoms[idx[:1]])[0])
    dims = shapely.get_dimensions(rows.geoms[idx])
    repaired = shapely.make_valid(rows.geoms[idx], method="structure", keep_collapsed=False)
    out = np.empty(len(idx), dtype=object)
    for j, g in enumerate(repaired):
        out[j] = _keep_dimension(g, int(dims[j])) if g is not None and not g.is_empty else None
    lost = shapely.is_missing(out)
    rows.geoms[idx[~lost]] = out[~lost]
    kept = np.zeros(len(rows.geoms), dtype=bool)
    kept[idx[~lost]] = True
    rows.fix(kept, "geometry.repaired", "invalid geometry repaired with make_valid",
             example=reason)
    gone = np.zeros(len(rows.geoms), dtype=bool)
    gone[idx[lost]] = True
    rows.reject(gone, "geometry.collapsed", "đúng",
                "invalid geometry collapses to nothing when repaired")


def _inside(rows: _Rows, area: ReferenceArea | None) -> None:
    """đúng (a warning): the geometry's centre lies in the province."""
    live = rows.live
    if area is None or not live.any():
        return
    b = shapely.bounds(rows.geoms[live])
    inside = area.inside((b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
    outside = np.flatnonzero(live)[~inside]
    if len(outside):
        rows.report.note("geometry.outside", "warn", "đúng",
                         f"{rows.word} lies outside {area.name}", rows.fids[outside])


def _split_footprints(geoms: np.ndarray, live: np.ndarray,
                      footprint: str) -> tuple[np.ndarray, np.ndarray]:
    """(positions, footprints): a polygon is a footprint, its point on surface the position;
    a point is a position without a footprint."""
    footprints = np.full(len(geoms), None, dtype=object)
    area = live & (shapely.get_dimensions(geoms) == 2)
    if area.any():
        footprints[area] = _promote(geoms[area], footprint)
        geoms[area] = shapely.point_on_surface(footprints[area])
    return geoms, footprints


def clean(geoms: np.ndarray, layer: LayerDef, fids: np.ndarray, report: ImportReport,
          area: ReferenceArea | None, word: str = "feature",
          rejected: np.ndarray | None = None) -> Cleaned:
    """The geometry rules over one batch. ``rejected`` holds rows the reader already
    rejected (and explained)."""
    n = len(geoms)
    rows = _Rows(geoms.copy(), fids, report, word,  # references only: repairs replace elements
                 np.zeros(n, dtype=bool) if rejected is None else rejected.copy(),
                 np.zeros(n, dtype=bool))
    targets = layer.accepted_geometries
    for phase in (_present, _flat, _finite):
        phase(rows)
    _of_accepted_type(rows, targets)
    _valid(rows)
    footprints = None
    if layer.footprint:
        rows.geoms, footprints = _split_footprints(rows.geoms, rows.live, layer.footprint)
    elif layer.geometry != "Point":
        rows.geoms[rows.live] = _promote(rows.geoms[rows.live], str(layer.geometry))
    _inside(rows, area)
    return Cleaned(rows.geoms, footprints, rows.rejected, rows.fixed)

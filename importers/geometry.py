"""Geometry rules: present and not empty, the layer's type (promoted to Multi*), valid
(repaired with ``make_valid`` and recorded), 2D, finite, and inside the province."""

from __future__ import annotations

import numpy as np
import shapely
from shapely import GeometryType as G

from iocgis.importers.georef import ReferenceArea
from iocgis.importers.report import ImportReport

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


def _keep_dimension(geom: shapely.Geometry, dim: int) -> shapely.Geometry | None:
    """The parts of a (collection) geometry with the wanted dimension, as one Multi*."""
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_dimensions(parts) == dim]
    if dim == 2:
        parts = shapely.get_parts(parts)  # MultiPolygon parts of a collection
        parts = parts[shapely.get_type_id(parts) == G.POLYGON]
        return shapely.multipolygons(parts) if len(parts) else None
    if dim == 1:
        parts = shapely.get_parts(parts)
        parts = parts[np.isin(shapely.get_type_id(parts), (G.LINESTRING, G.LINEARRING))]
        return shapely.multilinestrings(parts) if len(parts) else None
    parts = shapely.get_parts(parts)
    return shapely.multipoints(parts) if len(parts) else None


def _promote(geoms: np.ndarray, target: str) -> np.ndarray:
    types = shapely.get_type_id(geoms)
    out = geoms.copy()
    if target == "MultiPolygon":
        single = types == G.POLYGON
        if single.any():
            out[single] = shapely.multipolygons(geoms[single][:, None])
    elif target == "MultiLineString":
        ring = types == G.LINEARRING
        for i in np.flatnonzero(ring):
            out[i] = shapely.LineString(geoms[i].coords)
        single = (types == G.LINESTRING) | ring
        if single.any():
            out[single] = shapely.multilinestrings(out[single][:, None])
    elif target == "MultiPoint":
        single = types == G.POINT
        if single.any():
            out[single] = shapely.multipoints(geoms[single][:, None])
    return out


def clean(geoms: np.ndarray, target: str, fids: np.ndarray, report: ImportReport,
          area: ReferenceArea | None, word: str = "feature",
          rejected: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (geometries ready to load, rejected rows, fixed rows). ``rejected`` holds rows
    the reader already rejected (and explained)."""
    n = len(geoms)
    geoms = geoms.copy()  # references only; repairs and promotions replace elements
    rejected = np.zeros(n, dtype=bool) if rejected is None else rejected.copy()
    fixed = np.zeros(n, dtype=bool)
    missing = shapely.is_missing(geoms) & ~rejected
    if missing.any():
        report.note("geometry.missing", "reject", "đủ",
                    f"{word} has no geometry (or it cannot be read)", fids[missing])
        rejected |= missing
    empty = ~missing & shapely.is_empty(geoms)
    if empty.any():
        report.note("geometry.empty", "reject", "sạch", f"{word} has an empty geometry",
                    fids[empty])
        rejected |= empty
    live = ~rejected
    if shapely.has_z(geoms[live]).any():
        geoms[live] = shapely.force_2d(geoms[live])
        report.note("geometry.z_dropped", "info", "đúng", "Z/M values dropped (2D storage)",
                    count=int(live.sum()))

    coords_ok = np.ones(n, dtype=bool)
    bounds = shapely.bounds(geoms[live])
    coords_ok[live] = np.isfinite(bounds).all(axis=1) & (np.abs(bounds[:, [0, 2]]) <= 180).all(
        axis=1) & (np.abs(bounds[:, [1, 3]]) <= 90).all(axis=1)
    bad_coords = live & ~coords_ok
    if bad_coords.any():
        report.note("geometry.coordinates", "reject", "đúng",
                    f"{word} has coordinates that do not transform to valid longitude/latitude",
                    fids[bad_coords])
        rejected |= bad_coords
        live &= ~bad_coords

    accepted = ACCEPTS[target]
    dim = DIMENSION[target]
    types = shapely.get_type_id(geoms)
    wrong = live & ~np.isin(types, list(accepted))
    if wrong.any():
        salvaged = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(wrong):
            if types[i] == G.GEOMETRYCOLLECTION or (
                    target == "Point" and types[i] == G.MULTIPOINT
                    and shapely.get_num_geometries(geoms[i]) == 1):
                kept = _keep_dimension(geoms[i], dim)
                if kept is not None and target == "Point":
                    kept = shapely.get_geometry(kept, 0) \
                        if shapely.get_num_geometries(kept) == 1 else None
                if kept is not None:
                    geoms[i] = kept
                    salvaged[i] = True
        if salvaged.any():
            report.note("geometry.collection", "fix", "đúng",
                        f"kept the {target} parts of a mixed geometry", fids[salvaged])
            fixed |= salvaged
        still = wrong & ~salvaged
        if still.any():
            found = sorted({TYPE_NAMES.get(int(t), str(t)) for t in types[still]})
            report.note("geometry.type", "reject", "đúng",
                        f"{'/'.join(found)} geometry in a {target} layer", fids[still],
                        example=f"{word} {int(fids[still][0])} is a {found[0]}")
            rejected |= still
            live &= ~still

    valid = np.ones(n, dtype=bool)
    valid[live] = shapely.is_valid(geoms[live])
    invalid = live & ~valid
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid][:1])
        repaired = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        out = np.empty(len(repaired), dtype=object)
        for j, g in enumerate(repaired):
            out[j] = _keep_dimension(g, dim) if g is not None and not g.is_empty else None
        lost = shapely.is_missing(out)
        idx = np.flatnonzero(invalid)
        geoms[idx[~lost]] = out[~lost]
        if (~lost).any():
            report.note("geometry.repaired", "fix", "đúng",
                        "invalid geometry repaired with make_valid", fids[idx[~lost]],
                        example=str(reasons[0]))
            fixed[idx[~lost]] = True
        if lost.any():
            report.note("geometry.collapsed", "reject", "đúng",
                        "invalid geometry collapses to nothing when repaired", fids[idx[lost]])
            rejected[idx[lost]] = True
            live[idx[lost]] = False

    if target != "Point":
        geoms[live] = _promote(geoms[live], target)

    if area is not None and live.any():
        b = shapely.bounds(geoms[live])
        inside = area.inside((b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2)
        outside_idx = np.flatnonzero(live)[~inside]
        if len(outside_idx):
            report.note("geometry.outside", "warn", "đúng",
                        f"{word} lies outside {area.name}", fids[outside_idx])
    return geoms, rejected, fixed

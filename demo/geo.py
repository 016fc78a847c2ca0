"""Geometry helpers of the demo: a metric working CRS, vectorised transforms and sampling.

Geometries are built in metres (WGS 84 / UTM 48N) and converted to EPSG:4326 once, rounded to
1e-7 degree (about 1 cm) so that files are compact and byte-stable.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS

from iocgis.crs import WGS84, transformer

METRIC = CRS.from_epsg(32648)  # WGS 84 / UTM 48N: no datum shift involved
DEGREE_GRID = 1e-7


@lru_cache(maxsize=1)
def _to_wgs84():  # noqa: ANN202 - a pyproj Transformer
    return transformer(METRIC, WGS84)


@lru_cache(maxsize=1)
def _to_metric():  # noqa: ANN202
    return transformer(WGS84, METRIC)


def lonlat_to_metric(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = _to_metric().transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def metric_to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _to_wgs84().transform(np.asarray(x, float), np.asarray(y, float))
    return np.round(np.asarray(lon), 7), np.round(np.asarray(lat), 7)


def to_wgs84(geoms: np.ndarray | shapely.Geometry) -> np.ndarray:
    """Metric geometries to EPSG:4326, on the 1e-7 degree grid, repaired if rounding broke one."""
    arr = np.asarray(geoms, dtype=object)
    out = shapely.transform(arr, metric_to_lonlat, interleaved=False)
    bad = ~shapely.is_valid(out) & ~shapely.is_empty(out)
    if bad.any():
        out[bad] = shapely.set_precision(out[bad], DEGREE_GRID)
    return out


def to_metric(geoms: np.ndarray | shapely.Geometry) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object)
    return shapely.transform(arr, lambda x, y: lonlat_to_metric(x, y), interleaved=False)


def as_multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons -> MultiPolygons and lines -> MultiLineStrings, one part each; multis kept."""
    arr = np.asarray(geoms, dtype=object)
    out = arr.copy()
    types = shapely.get_type_id(arr)
    for single, maker in ((3, shapely.multipolygons), (1, shapely.multilinestrings)):
        idx = np.flatnonzero(types == single)
        if idx.size:
            out[idx] = maker(arr[idx], indices=np.arange(idx.size))
    return out


def polygonal_part(geom: shapely.Geometry) -> shapely.Geometry:
    """Only the polygons of a clip result (intersections may return lines and points too)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def lineal_part(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("LineString", "MultiLineString"):
        return geom
    parts = [
        g for g in getattr(geom, "geoms", []) if g.geom_type in ("LineString", "MultiLineString")
    ]
    return shapely.line_merge(shapely.union_all(parts)) if parts else shapely.LineString()


def random_points_in(rng: np.random.Generator, area: shapely.Geometry, n: int) -> np.ndarray:
    """n uniform points (x, y rows) inside a polygon, by vectorised rejection sampling."""
    if n <= 0 or area.is_empty:
        return np.empty((0, 2))
    shapely.prepare(area)
    xmin, ymin, xmax, ymax = area.bounds
    fill = max(area.area / max((xmax - xmin) * (ymax - ymin), 1e-9), 0.02)
    found: list[np.ndarray] = []
    count = 0
    while count < n:
        m = int((n - count) / fill * 1.3) + 16
        xy = np.column_stack([rng.uniform(xmin, xmax, m), rng.uniform(ymin, ymax, m)])
        xy = xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])]
        found.append(xy)
        count += len(xy)
    return np.concatenate(found)[:n]


def wander(
    rng: np.random.Generator,
    start: tuple[float, float],
    heading: float,
    length: float,
    step: float = 250.0,
    turn: float = 0.35,
) -> shapely.LineString:
    """A meandering line (a stream, a lane) from a start point: a smoothed random walk."""
    k = max(int(length / step), 2)
    angles = heading + np.cumsum(rng.normal(0, turn, k))
    xs = start[0] + np.concatenate([[0], np.cumsum(np.cos(angles) * step)])
    ys = start[1] + np.concatenate([[0], np.cumsum(np.sin(angles) * step)])
    return shapely.LineString(np.column_stack([xs, ys]))


def blob(
    rng: np.random.Generator, path: shapely.Geometry, radius: float, lobes: int = 24
) -> shapely.Geometry:
    """An irregular lake: discs of random radii strung along a path, merged and smoothed."""
    distances = np.linspace(0, path.length, lobes)
    centres = shapely.line_interpolate_point(path, distances)
    radii = radius * rng.uniform(0.45, 1.15, lobes)
    discs = shapely.buffer(centres, radii, quad_segs=6)
    lake = shapely.union_all(discs)
    return lake.buffer(radius * 0.15, quad_segs=4).buffer(-radius * 0.15, quad_segs=4)

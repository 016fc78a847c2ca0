"""Coordinates to WGS84, VN-2000 aware, and the classic mistakes caught before loading.

The source CRS comes from the file, ``--crs`` overrides it, and a file without one is refused.
Every transformation goes through ``iocgis.crs.transformer`` (VN-2000 pinned to the official
shift). The first batch is checked against the province (or Vietnam when the province is not
loaded yet): swapped axes, a TM-3 file read with the wrong central meridian, or coordinates in
another CRS are refused with the likely fix.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS

from iocgis import crs as crsmod
from iocgis.errors import ImportFailed, InvalidInput

# Vietnam including its islands, for when the province boundary is not loaded.
VIETNAM_BBOX = (102.0, 6.0, 118.0, 24.0)
CANDIDATE_EPSG_METRES = (5899, 5898, 5897, 5896, *range(9205, 9219), 3405, 3406, 32648, 32649)
CANDIDATE_EPSG_DEGREES = (4326, 4756)
SAMPLE = 2000
# Below this share of sample features inside the reference area, the CRS is wrong.
MIN_INSIDE = 0.5


@dataclass
class ReferenceArea:
    """Where the data must lie: the province polygon (buffered) or Vietnam's box."""

    geometry: shapely.Geometry
    name: str
    is_province: bool

    def __post_init__(self) -> None:
        shapely.prepare(self.geometry)

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ok = np.isfinite(x) & np.isfinite(y)
        out = np.zeros(len(x), dtype=bool)
        if ok.any():
            out[ok] = shapely.intersects_xy(self.geometry, x[ok], y[ok])
        return out


def vietnam() -> ReferenceArea:
    return ReferenceArea(shapely.box(*VIETNAM_BBOX), "Vietnam", False)


def describe(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def source_crs(file_crs: CRS | None, override: str | None, shown: str, fmt: str) -> CRS:
    if override:
        return crsmod.parse_crs(override, where="--crs")
    if file_crs is None:
        what = {"ESRI Shapefile": "has no .prj file", "DXF": "carries no coordinate system",
                "CSV": "has no coordinate system", "XLSX": "has no coordinate system"}.get(
                    fmt, "does not say which coordinate system it uses")
        raise InvalidInput(f"{shown} {what}", where=shown,
                           hint="give it with --crs, e.g. --crs EPSG:5899 (VN-2000 / TM-3 "
                                "107-45, Đồng Nai), EPSG:9212 (old Bình Phước), EPSG:3405 "
                                "(VN-2000 / UTM 48N) or EPSG:4326 (GPS lon/lat)")
    return file_crs


@functools.lru_cache(maxsize=16)
def _is_wgs84(src: CRS) -> bool:
    """(``to_epsg`` searches PROJ's database: ~1 ms, once per import rather than per batch)"""
    return src.to_epsg(min_confidence=90) == 4326 or src.name in ("WGS 84 (CRS84)",)


def to_wgs84(geoms: np.ndarray, src: CRS, swap_xy: bool = False) -> np.ndarray:
    """Transform an array of geometries to EPSG:4326 (lon, lat), vectorised."""
    is_wgs84 = _is_wgs84(src)
    if is_wgs84 and not swap_xy:
        return geoms
    transformer = None if is_wgs84 else crsmod.transformer(src)

    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = (coords[:, 1], coords[:, 0]) if swap_xy else (coords[:, 0], coords[:, 1])
        if transformer is None:
            return np.column_stack([x, y])
        lon, lat = transformer.transform(x, y, errcheck=False)
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, apply)


def _sample_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the bounding boxes of up to SAMPLE non-empty geometries."""
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(present) > SAMPLE:
        present = present[np.linspace(0, len(present) - 1, SAMPLE).astype(int)]
    bounds = shapely.bounds(present)
    return (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2


def _share_inside(x: np.ndarray, y: np.ndarray, src: CRS, area: ReferenceArea) -> float:
    if len(x) == 0:
        return 1.0
    if src.to_epsg(min_confidence=90) == 4326:
        lon, lat = x, y
    else:
        with np.errstate(all="ignore"):
            lon, lat = crsmod.transformer(src).transform(x, y, errcheck=False)
    return float(area.inside(np.asarray(lon), np.asarray(lat)).mean())


def check_placement(geoms: np.ndarray, src: CRS, area: ReferenceArea, shown: str,
                    swap_xy: bool) -> None:
    """Refuse a file whose coordinates do not land in the reference area, naming the fix."""
    x, y = _sample_xy(geoms)
    if len(x) == 0:
        return
    if swap_xy:
        x, y = y, x
    share = _share_inside(x, y, src, area)
    if share >= MIN_INSIDE:
        return
    where = f"{shown} ({describe(src)})"
    lead = (f"{100 - share * 100:.0f}% of the features sampled from {shown} fall outside "
            f"{area.name} when read as {describe(src)}")
    # 1. swapped axes
    if _share_inside(y, x, src, area) >= 0.9:
        raise ImportFailed(lead + "; with X and Y swapped they fall inside", where=where,
                           hint="the columns are in the wrong order (latitude/northing first): "
                                + ("run again without --swap-xy" if swap_xy
                                   else "run again with --swap-xy"))
    # 2. another CRS: the wrong TM-3 zone, UTM, or degrees declared as metres and back
    degrees = bool(np.nanmax(np.abs(x)) <= 360 and np.nanmax(np.abs(y)) <= 90)
    candidates = CANDIDATE_EPSG_DEGREES if degrees else CANDIDATE_EPSG_METRES
    fits = []
    for epsg in candidates:
        cand = CRS.from_epsg(epsg)
        if cand == src:
            continue
        if _share_inside(x, y, cand, area) >= 0.9:
            fits.append(describe(cand))
    if fits:
        meridian = " (a TM-3 file read with the wrong central meridian)" if (
            crsmod.is_vn2000(src) and src.is_projected) else ""
        raise ImportFailed(lead + meridian, where=where,
                           hint=f"they fit {fits[0]}: run again with --crs "
                                f"{fits[0].split(' ')[0]}"
                                + (f" (other fits: {', '.join(f.split(' ')[0] for f in fits[1:4])})"
                                   if len(fits) > 1 else ""))
    raise ImportFailed(lead, where=where,
                       hint="check the coordinate system of the file (give the right one with "
                            "--crs) and that the data belongs to this province")

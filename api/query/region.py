"""A drawn region from a request body: GeoJSON Polygon/MultiPolygon, checked and in EPSG:4326.

Refused with a message that says what to fix: not a polygon, over the vertex limit, invalid
(self-intersecting rings), outside the province, or larger than the province.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from iocgis.api.ogc.crs import parse_ogc_crs
from iocgis.api.query.province import ProvinceFrame
from iocgis.crs import WGS84, parse_crs, transformer
from iocgis.errors import InvalidInput, PayloadTooLarge
from iocgis.jsonbody import parse_json
from iocgis.layers.types import STORAGE_SRID

MAX_VERTICES = 10_000
MAX_BODY_BYTES = 5_000_000
GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Region:
    geometry: BaseGeometry  # EPSG:4326, lon/lat
    area_m2: float
    crs: str

    @property
    def wkb(self) -> bytes:
        return shapely.to_wkb(self.geometry)

    def echo(self) -> dict[str, Any]:
        return {"type": self.geometry.geom_type, "crs": self.crs,
                "area_m2": round(self.area_m2, 2), "bbox": [round(v, 7) for v in self.geometry.bounds]}


def read_body(raw: bytes) -> Any:
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the request body has {len(raw):,} bytes", where="body",
                              hint=f"send at most {MAX_BODY_BYTES:,} bytes; simplify the polygon")
    if not raw.strip():
        raise InvalidInput("the request body is empty", where="body",
                           hint='send a GeoJSON Polygon, e.g. {"type": "Polygon", '
                                '"coordinates": [[[lon, lat], ...]]}')
    return parse_json(raw, hint="send a GeoJSON Polygon or MultiPolygon as application/json")


def _body_crs(body: dict[str, Any]) -> str | None:
    crs = body.get("crs")
    if isinstance(crs, dict):  # GeoJSON 2008 style {"type": "name", "properties": {"name": ...}}
        crs = (crs.get("properties") or {}).get("name")
    return str(crs) if crs else None


def _geometry_of(body: Any) -> tuple[dict[str, Any], str | None]:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a GeoJSON object", where="body",
                           hint="send a Polygon, a MultiPolygon or a Feature holding one")
    crs = _body_crs(body)
    if body.get("type") == "FeatureCollection":
        features = body.get("features") or []
        if len(features) != 1:
            raise InvalidInput(f"the FeatureCollection has {len(features)} features", where="body",
                               hint="send exactly one polygon (merge them into a MultiPolygon)")
        body = features[0]
    if body.get("type") == "Feature":
        crs = crs or _body_crs(body)
        body = body.get("geometry") or {}
    if not isinstance(body, dict) or body.get("type") not in ("Polygon", "MultiPolygon"):
        kind = body.get("type") if isinstance(body, dict) else type(body).__name__
        raise InvalidInput(f"the geometry is a {kind!s}, not a polygon", where="body.type",
                           hint="draw a Polygon or MultiPolygon; for a point use /query/point "
                                "or /query/radius")
    return body, crs


def _count_vertices(coords: Any, depth: int) -> int:
    if depth == 0:
        return 1
    if not isinstance(coords, list):
        raise InvalidInput("the coordinates are malformed", where="body.coordinates",
                           hint="a Polygon is a list of rings, each a list of [x, y] positions")
    return sum(_count_vertices(c, depth - 1) for c in coords)


def parse_region(body: Any, frame: ProvinceFrame, crs_param: str | None = None) -> Region:
    geometry, body_crs = _geometry_of(body)
    depth = 3 if geometry["type"] == "Polygon" else 4
    vertices = _count_vertices(geometry.get("coordinates"), depth - 1) if geometry.get(
        "coordinates") is not None else 0
    if vertices > MAX_VERTICES:
        raise InvalidInput(f"the polygon has {vertices:,} vertices", where="body.coordinates",
                           hint=f"simplify it to at most {MAX_VERTICES:,} vertices")
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise InvalidInput(f"the coordinates cannot be read: {str(exc)[:120]}",
                           where="body.coordinates",
                           hint="each position is [x, y] with numbers; each ring is closed") from None
    if geom.is_empty:
        raise InvalidInput("the polygon is empty", where="body.coordinates",
                           hint="give at least one ring of four positions")
    if not all(math.isfinite(v) for v in geom.bounds):
        raise InvalidInput("the coordinates hold a non-finite number", where="body.coordinates",
                           hint="use plain decimal numbers")
    crs_text = crs_param or body_crs or "OGC:CRS84"
    offered = parse_ogc_crs(crs_text, where="crs")  # the set every HTTP surface accepts
    # GeoJSON positions are [x, y] = [lon, lat] whatever the CRS's axis order (RFC 7946)
    if offered.srid != STORAGE_SRID:
        crs = parse_crs(crs_text, where="crs")
        geom = shapely.transform(geom, transformer(crs, WGS84).transform, interleaved=False)
    if not geom.is_valid:
        reason = explain_validity(geom)
        raise InvalidInput(f"the polygon is invalid: {reason}", where="body.coordinates",
                           hint="redraw it without self-intersections or overlapping rings "
                                "(a ring must not cross itself and holes must lie inside)")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput("the polygon's coordinates are out of range", where="body.coordinates",
                           hint="positions are [longitude, latitude] in degrees, or give crs= for "
                                "projected coordinates (e.g. crs=EPSG:5899)")
    area = abs(GEOD.geometry_area_perimeter(geom)[0])
    if frame.area_m2 is not None and area > frame.area_m2:
        raise InvalidInput(f"the polygon covers {area / 1e6:,.0f} km², more than the province "
                           f"({frame.area_m2 / 1e6:,.0f} km²)", where="body.coordinates",
                           hint="draw a smaller region, or ask by commune at /query/admin")
    if not frame.contains_bbox(geom.bounds):
        swapped = frame.contains_bbox((miny, minx, maxy, maxx))
        raise InvalidInput("the polygon reaches outside the province", where="body.coordinates",
                           hint=("positions look like [lat, lon]; GeoJSON wants [lon, lat]"
                                 if swapped else f"keep it within {frame.describe()}"))
    return Region(geom, area, crs_text)

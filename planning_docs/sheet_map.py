"""The sheet's small map: the place over the zones around it, as an SVG built here from the
geometries (no map server, no tiles: the sheet prints offline). Zones are filled with the
land-use palette of ``styles/palettes.yaml``; a scale bar and a north arrow make it readable.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

import shapely
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from iocgis.geodesy import M_PER_DEG_LAT_MIN as M_PER_DEG_LAT
from iocgis.geodesy import M_PER_DEG_LON_EQ

WIDTH, HEIGHT = 600, 230  # SVG user units (the sheet scales it to the column width)
MARGIN = 10
SCALE_STEPS = (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000)


def _palette() -> dict[str, str]:
    from iocgis.styles.definitions import get_themes

    return get_themes().palettes.get("land_use", {})


class Frame:
    """Lon/lat -> SVG coordinates over an extent, metres kept equal on both axes."""

    def __init__(self, extent: tuple[float, float, float, float]) -> None:
        west, south, east, north = extent
        self.lat0 = (south + north) / 2
        self.kx = M_PER_DEG_LON_EQ * math.cos(math.radians(self.lat0))
        width_m, height_m = (east - west) * self.kx, (north - south) * M_PER_DEG_LAT
        self.scale = min((WIDTH - 2 * MARGIN) / width_m, (HEIGHT - 2 * MARGIN) / height_m)
        self.x0 = west - ((WIDTH / self.scale / self.kx) - (east - west)) / 2
        self.y0 = north + ((HEIGHT / self.scale / M_PER_DEG_LAT) - (north - south)) / 2

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.x0) * self.kx * self.scale, (self.y0 - lat) * M_PER_DEG_LAT * self.scale)

    def path(self, geom: BaseGeometry) -> str:
        parts = []
        polygons = getattr(geom, "geoms", [geom])
        for polygon in polygons:
            if polygon.geom_type != "Polygon" or polygon.is_empty:
                continue
            for ring in (polygon.exterior, *polygon.interiors):
                points = [self.xy(x, y) for x, y in ring.coords]
                parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + " Z")
        return " ".join(parts)


def extent_of(place: BaseGeometry) -> tuple[float, float, float, float]:
    """The place with room around it (at least ~120 m across), widened to the map's shape."""
    west, south, east, north = place.bounds
    pad = max((east - west), (north - south)) * 0.8 + 0.0006
    west, south, east, north = west - pad, south - pad, east + pad, north + pad
    kx = M_PER_DEG_LON_EQ * math.cos(math.radians((south + north) / 2))
    width_m, height_m = (east - west) * kx, (north - south) * M_PER_DEG_LAT
    wanted = WIDTH / HEIGHT
    if width_m / height_m < wanted:
        grow = (height_m * wanted - width_m) / kx / 2
        west, east = west - grow, east + grow
    else:
        grow = (width_m / wanted - height_m) / M_PER_DEG_LAT / 2
        south, north = south - grow, north + grow
    return west, south, east, north


def _scale_bar(frame: Frame) -> str:
    target_m = (WIDTH / 4) / frame.scale
    step = max([s for s in SCALE_STEPS if s <= target_m] or [SCALE_STEPS[0]])
    length = step * frame.scale
    x, y = MARGIN + 4, HEIGHT - MARGIN - 6
    return (f'<g class="scale"><rect x="{x - 3}" y="{y - 16}" width="{length + 6:.1f}" '
            f'height="22" fill="#ffffff" fill-opacity="0.8"/>'
            f'<line x1="{x}" y1="{y}" x2="{x + length:.1f}" y2="{y}" stroke="#000" '
            f'stroke-width="2"/><text x="{x}" y="{y - 5}" font-size="10">{step} m</text></g>')


def _north_arrow() -> str:
    x, y = WIDTH - MARGIN - 14, MARGIN + 6
    return (f'<g class="north"><path d="M{x},{y} L{x + 7},{y + 20} L{x},{y + 15} '
            f'L{x - 7},{y + 20} Z" fill="#000"/><text x="{x - 4}" y="{y + 32}" '
            'font-size="10">B</text></g>')


def map_svg(place_kind: str, place: BaseGeometry, zones: list[dict[str, Any]]) -> str:
    """An SVG of the zones (clipped to the map) and the place outlined on top."""
    extent = extent_of(place)
    frame = Frame(extent)
    window = box(*extent)
    palette = _palette()
    layers = [f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#f4f4f0"/>']
    labels = []
    for zone in zones:
        if not zone.get("geometry"):
            continue
        clipped = shapely.intersection(shape(zone["geometry"]), window)
        if clipped.is_empty:
            continue
        code = (zone.get("land_use") or {}).get("code", "")
        colour = palette.get(code, "#dddddd")
        layers.append(f'<path d="{frame.path(clipped)}" fill="{colour}" fill-opacity="0.85" '
                      'stroke="#555555" stroke-width="0.8"/>')
        label = f"{escape(str(zone['zone_code']))} ({escape(code)})"
        if clipped.area >= 0.9 * window.area:  # a zone of a broader plan under the whole map
            labels.append(f'<text x="{MARGIN + 2}" y="{MARGIN + 10}" font-size="10">'
                          f'{label}</text>')
            continue
        lx, ly = frame.xy(*clipped.representative_point().coords[0])
        labels.append(f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="10" '
                      f'text-anchor="middle">{label}</text>')
    if place_kind == "point":
        x, y = frame.xy(place.x, place.y)
        layers.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="none" stroke="#d00000" '
                      f'stroke-width="2.5"/><circle cx="{x:.1f}" cy="{y:.1f}" r="1.5" '
                      'fill="#d00000"/>')
    else:
        layers.append(f'<path d="{frame.path(place)}" fill="#d00000" fill-opacity="0.12" '
                      'stroke="#d00000" stroke-width="2.5"/>')
    body = "".join(layers + labels) + _scale_bar(frame) + _north_arrow()
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" font-family="Noto Sans">{body}</svg>')

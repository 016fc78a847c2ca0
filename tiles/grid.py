"""The WebMercatorQuad grid: tile addresses, their checks and their size in map units."""

from __future__ import annotations

import math
from dataclasses import dataclass

from iocgis.errors import InvalidInput

MAX_ZOOM = 24
# Half the side of the EPSG:3857 square, in metres.
ORIGIN_SHIFT = 20037508.342789244
WORLD_SIZE = 2 * ORIGIN_SHIFT
TILE_PIXELS = 256  # the "pixel" that simplification and minimum areas are measured in
FORMATS = ("mvt", "pbf")


@dataclass(frozen=True, order=True)
class TileAddress:
    z: int
    x: int
    y: int

    def __str__(self) -> str:
        return f"{self.z}/{self.x}/{self.y}"

    @property
    def pixel_m(self) -> float:
        """Side of one screen pixel of this tile, in EPSG:3857 metres."""
        return WORLD_SIZE / (TILE_PIXELS * 2 ** self.z)

    def bounds_3857(self) -> tuple[float, float, float, float]:
        side = WORLD_SIZE / 2 ** self.z
        xmin = -ORIGIN_SHIFT + self.x * side
        ymax = ORIGIN_SHIFT - self.y * side
        return xmin, ymax - side, xmin + side, ymax

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        xmin, ymin, xmax, ymax = self.bounds_3857()
        return (*mercator_to_lonlat(xmin, ymin), *mercator_to_lonlat(xmax, ymax))

    def center_lat(self) -> float:
        _, ymin, _, ymax = self.bounds_3857()
        return mercator_to_lonlat(0, (ymin + ymax) / 2)[1]

    def parent(self) -> TileAddress:
        return TileAddress(self.z - 1, self.x // 2, self.y // 2)


def mercator_to_lonlat(x: float, y: float) -> tuple[float, float]:
    lon = x / ORIGIN_SHIFT * 180.0
    lat = math.degrees(2 * math.atan(math.exp(y / ORIGIN_SHIFT * math.pi)) - math.pi / 2)
    return lon, lat


def lonlat_to_tile(lon: float, lat: float, z: int) -> TileAddress:
    n = 2 ** z
    lat = max(min(lat, 85.0511287798), -85.0511287798)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return TileAddress(z, min(max(x, 0), n - 1), min(max(y, 0), n - 1))


def tiles_covering(bounds: tuple[float, float, float, float], z: int) -> list[TileAddress]:
    """Every tile of zoom ``z`` touching a lon/lat box."""
    west, south, east, north = bounds
    top_left = lonlat_to_tile(west, north, z)
    bottom_right = lonlat_to_tile(east, south, z)
    return [TileAddress(z, x, y) for x in range(top_left.x, bottom_right.x + 1)
            for y in range(top_left.y, bottom_right.y + 1)]


def _int(value: str, name: str) -> int:
    # Digits only: no sign, spaces, exponents or underscores reach the grid.
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise InvalidInput(f"tile {name} must be a non-negative integer, got {value[:20]!r}",
                           where=f"path parameter {name}",
                           hint="request /tiles/{tileset}/{z}/{x}/{y}.mvt with integers")
    return int(value)


def parse_address(z: str, x: str, y: str) -> TileAddress:
    """A checked tile address from URL path parts; InvalidInput names the wrong part."""
    zi, xi, yi = _int(z, "z"), _int(x, "x"), _int(y, "y")
    if zi > MAX_ZOOM:
        raise InvalidInput(f"zoom {zi} is outside 0-{MAX_ZOOM}", where="path parameter z",
                           hint=f"use a zoom from 0 to {MAX_ZOOM}")
    limit = 2 ** zi
    for name, value in (("x", xi), ("y", yi)):
        if value >= limit:
            raise InvalidInput(f"tile {name}={value} is outside the zoom {zi} matrix (0-{limit - 1})",
                               where=f"path parameter {name}",
                               hint=f"at zoom {zi} x and y run from 0 to {limit - 1}")
    return TileAddress(zi, xi, yi)


def parse_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown tile format {fmt[:20]!r}", where="path suffix",
                           hint="ask for .mvt or .pbf (both are Mapbox Vector Tiles)")
    return fmt

"""Request parameters to checked values; every message names the parameter and what to fix.

Unknown parameters are refused (a mistyped ``radius=`` must not silently mean "no radius").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from starlette.datastructures import QueryParams

from iocgis.api.kit.values import DEFAULT_LIMIT, MAX_LIMIT, whole_number
from iocgis.api.query.province import ProvinceFrame
from iocgis.errors import InvalidInput

MAX_RADIUS_M = 50_000.0
MAX_NEAREST = 100
MAX_LAYERS = 20
FORMATS = ("json", "csv", "geojson")


@dataclass(frozen=True)
class Paging:
    limit: int = DEFAULT_LIMIT
    offset: int = 0


class Params:
    """Typed reads of one request's query string, refusing what the endpoint does not know."""

    def __init__(self, query: QueryParams | Mapping[str, str], allowed: Iterable[str]) -> None:
        self.query = query
        self.allowed = tuple(allowed)
        unknown = sorted(set(query.keys()) - set(self.allowed))
        if unknown:
            raise InvalidInput(f"unknown parameter {unknown[0]!r}", where=unknown[0],
                               hint=f"this endpoint takes: {', '.join(self.allowed)}")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.query.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def required(self, name: str, what: str) -> str:
        value = self.text(name)
        if value is None:
            raise InvalidInput(f"parameter {name!r} is missing", where=name, hint=f"give {what}")
        return value

    def all(self, name: str) -> list[str]:
        """Repeated and comma-separated values: ``?layers=a,b&layers=c``."""
        getlist = getattr(self.query, "getlist", None)
        raw = getlist(name) if getlist else ([self.query[name]] if name in self.query else [])
        return [part.strip() for item in raw for part in item.split(",") if part.strip()]

    def number(self, name: str, *, default: float | None = None, low: float | None = None,
               high: float | None = None, what: str = "a number") -> float | None:
        raw = self.text(name)
        if raw is None:
            return default
        return as_number(raw, name, low=low, high=high, what=what)

    def integer(self, name: str, *, default: int, low: int, high: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        return whole_number(raw, name, low, high)

    def paging(self) -> Paging:
        return Paging(self.integer("limit", default=DEFAULT_LIMIT, low=0, high=MAX_LIMIT),
                      self.integer("offset", default=0, low=0, high=10_000_000))

    def output_format(self) -> str:
        value = (self.text("f") or "json").lower()
        if value not in FORMATS:
            raise InvalidInput(f"unknown output format {value[:20]!r}", where="f",
                               hint=f"use one of {', '.join(FORMATS)}")
        return value

    def radius(self, name: str = "radius_m") -> float:
        value = self.number(name, what="a radius in metres")
        if value is None:
            raise InvalidInput(f"parameter {name!r} is missing", where=name,
                               hint=f"give a radius in metres, above 0 and at most {MAX_RADIUS_M:,.0f}")
        return check_radius(value, name)


def as_number(raw: str, name: str, *, low: float | None = None, high: float | None = None,
              what: str = "a number") -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be {what}, not {raw[:40]!r}", where=name,
                           hint="write it with a dot as decimal separator, e.g. 106.82") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number", where=name, hint=f"give {what}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInput(f"{name} {value:g} is out of range", where=name,
                           hint=f"give a value between {low:g} and {high:g}")
    return value


def check_radius(value: float, name: str = "radius_m") -> float:
    if value <= 0 or value > MAX_RADIUS_M:
        raise InvalidInput(f"{name} {value:g} is out of range", where=name,
                           hint=f"give a radius in metres above 0 and at most {MAX_RADIUS_M:,.0f} "
                                "(50 km); split larger areas into communes")
    return value


def check_point(lon: float, lat: float, frame: ProvinceFrame, where: str = "lon,lat") -> None:
    """Longitude and latitude in range and inside the province, saying when they look swapped."""
    swapped_inside = frame.contains(lat, lon)
    if not -180 <= lon <= 180:
        raise InvalidInput(f"lon {lon:g} is out of range", where="lon",
                           hint="longitude is in degrees between -180 and 180"
                                + (" (it looks swapped with lat)" if swapped_inside else ""))
    if not -90 <= lat <= 90:
        hint = "latitude is in degrees between -90 and 90"
        if swapped_inside or -90 <= lon <= 90:
            hint += f"; lon and lat look swapped: try lon={lat:g}&lat={lon:g}"
        raise InvalidInput(f"lat {lat:g} is out of range", where="lat", hint=hint)
    if not frame.contains(lon, lat):
        if swapped_inside:
            raise InvalidInput(f"the point ({lon:g}, {lat:g}) is outside the province; lon and "
                               "lat look swapped", where=where,
                               hint=f"try lon={lat:g}&lat={lon:g} (lon first, in degrees east)")
        raise InvalidInput(f"the point ({lon:g}, {lat:g}) is outside the province",
                           where=where, hint=f"give a point within {frame.describe()}")


def point(params: Params, frame: ProvinceFrame) -> tuple[float, float]:
    lon = params.number("lon", what="a longitude in degrees")
    lat = params.number("lat", what="a latitude in degrees")
    if lon is None or lat is None:
        missing = "lon" if lon is None else "lat"
        raise InvalidInput(f"parameter {missing!r} is missing", where=missing,
                           hint="give the point as lon=<degrees east>&lat=<degrees north> (WGS84)")
    check_point(lon, lat, frame)
    return lon, lat

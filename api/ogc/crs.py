"""The coordinate systems the OGC API offers (Features Part 2), as URIs, PostGIS SRIDs and axis order.

Every transformation happens in PostGIS, never per feature in Python. VN-2000 systems go through
the pinned SRIDs of ``iocgis.crs.postgis_srid`` so PostGIS applies the official shift
(Decision 05/2007/QĐ-BTNMT) instead of whatever PROJ would pick.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pyproj import CRS

from iocgis.crs import postgis_srid
from iocgis.errors import InvalidInput
from iocgis.layers.types import STORAGE_SRID

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"

# What clients may ask for: WGS84 (lon/lat and lat/lon), Web Mercator, VN-2000 / UTM 48N and
# VN-2000 / TM-3 107°45' (Đồng Nai's provincial zone).
SUPPORTED_EPSG = (4326, 3857, 3405, 5899)


@dataclass(frozen=True)
class OgcCrs:
    """One offered CRS: its URI, the SRID PostGIS uses for it, and whether axes are lat/lon."""

    uri: str
    srid: int
    north_first: bool  # EPSG:4326 is latitude first: coordinates are flipped on the way in/out
    geographic: bool

    @property
    def digits(self) -> int:
        """Decimal digits that keep about a centimetre: degrees or metres."""
        return 7 if self.geographic else 3


@lru_cache(maxsize=None)
def _from_code(code: str) -> OgcCrs:
    if code == "CRS84":
        return OgcCrs(CRS84_URI, STORAGE_SRID, north_first=False, geographic=True)
    epsg = int(code)
    crs = CRS.from_epsg(epsg)
    first_axis = crs.axis_info[0].direction.lower() if crs.axis_info else "east"
    return OgcCrs(EPSG_URI.format(epsg), postgis_srid(crs), north_first=first_axis == "north",
                  geographic=crs.is_geographic)


def supported_uris() -> list[str]:
    """The URIs every collection lists in its ``crs`` member (CRS84 first: the default)."""
    return [CRS84_URI, *(EPSG_URI.format(code) for code in SUPPORTED_EPSG)]


CRS84 = _from_code("CRS84")

_URI_RE = re.compile(r"^https?://www\.opengis\.net/def/crs/(EPSG|OGC)/[^/]+/([A-Za-z0-9]+)$", re.I)
_URN_RE = re.compile(r"^urn:ogc:def:crs:(EPSG|OGC):[^:]*:([A-Za-z0-9]+)$", re.I)
_CURIE_RE = re.compile(r"^\[?(EPSG|OGC|CRS):?:?([A-Za-z0-9]+)\]?$", re.I)


def parse_ogc_crs(value: str, *, where: str) -> OgcCrs:
    """An offered CRS from a URI, URN, safe CURIE (``[EPSG:5899]``) or ``EPSG:5899``; else 400."""
    text = value.strip()
    match = _URI_RE.match(text) or _URN_RE.match(text) or _CURIE_RE.match(text)
    code = None
    if match:
        authority, ident = match.group(1).upper(), match.group(2).upper()
        if authority in ("OGC", "CRS") and ident in ("CRS84", "84"):
            code = "CRS84"
        elif authority == "EPSG" and ident.isdigit() and int(ident) in SUPPORTED_EPSG:
            code = ident
    if code is None:
        raise InvalidInput(f"unsupported coordinate system {value[:100]!r}", where=where,
                           hint="use one of " + ", ".join(supported_uris()))
    return _from_code(code)

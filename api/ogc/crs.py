"""The coordinate systems the OGC API offers (Features Part 2), as URIs, PostGIS SRIDs and axis order.

Every transformation happens in PostGIS, never per feature in Python. VN-2000 systems go through
the pinned SRIDs of ``iocgis.crs.postgis_srid`` so PostGIS applies the official shift
(Decision 05/2007/QĐ-BTNMT) instead of whatever PROJ would pick.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pyproj import CRS

from iocgis.crs import crs_reference, postgis_srid
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


@cache
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

def parse_ogc_crs(value: str, *, where: str) -> OgcCrs:
    """An offered CRS named by reference (``iocgis.crs.crs_reference``: a URI, URN, safe CURIE
    such as ``[EPSG:5899]``, ``EPSG:5899``); anything not offered is a 400 listing the offer.
    The one set every HTTP surface accepts (features, filters, query bodies)."""
    reference = crs_reference(value)
    if reference != "CRS84" and reference not in SUPPORTED_EPSG:
        raise InvalidInput(f"unsupported coordinate system {value[:100]!r}", where=where,
                           hint="use one of CRS84, " + ", ".join(
                               f"EPSG:{code}" for code in SUPPORTED_EPSG)
                           + " (VN-2000: EPSG:3405 UTM 48N, EPSG:5899 TM-3 107°45′ Đồng Nai), "
                             "or their URIs: " + ", ".join(supported_uris()))
    return _from_code(str(reference))

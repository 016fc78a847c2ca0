"""Coordinate systems, VN-2000 aware.

Every VN-2000 CRS (geographic EPSG:4756, UTM 48N/49N EPSG:3405/3406, the 3-degree TM zones
EPSG:5896-5899 and 9205-9218, or a .prj that merely names the datum) is transformed to WGS84
with the official 7-parameter shift of Decision 05/2007/QĐ-BTNMT (EPSG transformation 6960),
pinned explicitly: a plain ``Transformer.from_crs`` picks EPSG:5194 ("Mekong delta") for part
of the province, and dropping the datum moves points about 225 m.

PostGIS gets the same pinning through custom SRIDs (``PINNED_SRID_OFFSET + epsg``) whose
``proj4text`` carries the official ``+towgs84``; see ``pinned_spatial_ref_rows``.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from iocgis.errors import InvalidInput

# Position-vector Helmert, EPSG:6960 (Decision 05/2007/QĐ-BTNMT).
OFFICIAL_VN2000_TOWGS84 = (
    "-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278"
)
WGS84 = CRS.from_epsg(4326)
PINNED_SRID_OFFSET = 900000
VN2000_EPSG_CODES = (4756, 3405, 3406, *range(5896, 5900), *range(9205, 9219))
_VN2000_NAMES = ("vietnam 2000", "vietnam_2000", "vn-2000", "vn_2000", "vn2000")


# The ways a CRS is named by reference: an OGC URI, a URN, a (safe) CURIE, ``EPSG:5899`` or
# a bare code. One parser for every surface (OGC API, query bodies, importers, rasters).
_URI_RE = re.compile(r"^https?://www\.opengis\.net/def/crs/(EPSG|OGC)/[^/]+/([A-Za-z0-9]+)$", re.I)
_URN_RE = re.compile(r"^urn:ogc:def:crs:(EPSG|OGC):[^:]*:([A-Za-z0-9]+)$", re.I)
_CURIE_RE = re.compile(r"^\[?(EPSG|OGC|CRS):?:?([A-Za-z0-9]+)\]?$", re.I)


def crs_reference(value: str) -> str | int | None:
    """``"CRS84"`` or an EPSG code for a CRS named by reference; None for anything else (a
    WKT or PROJ string, or a name this parser does not know)."""
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    match = _URI_RE.match(text) or _URN_RE.match(text) or _CURIE_RE.match(text)
    if not match:
        return None
    authority, ident = match.group(1).upper(), match.group(2).upper()
    if authority in ("OGC", "CRS") and ident in ("CRS84", "84"):
        return "CRS84"
    if authority == "EPSG" and ident.isdigit():
        return int(ident)
    return None


def parse_crs(value: str | int | CRS, *, where: str = "crs") -> CRS:
    """A CRS from a reference (``crs_reference``), a WKT or PROJ string, with a clear error."""
    if isinstance(value, CRS):
        return value
    text = str(value).strip()
    reference = crs_reference(text)
    if reference == "CRS84":
        return CRS.from_user_input("OGC:CRS84")
    if isinstance(reference, int):
        text = f"EPSG:{reference}"
    try:
        return CRS.from_user_input(text)
    except CRSError as exc:
        raise InvalidInput(f"unknown coordinate system {str(value)[:80]!r}", where=where,
                           hint="give an EPSG code such as EPSG:4326, EPSG:3405 (VN-2000 / UTM 48N) "
                                "or EPSG:5899 (VN-2000 / TM-3 107-45, Đồng Nai)") from exc


def is_vn2000(crs: CRS) -> bool:
    """Is the datum VN-2000, however the file names it?"""
    geodetic = crs.geodetic_crs
    names = [crs.name or ""]
    if geodetic is not None:
        names.append(geodetic.name or "")
        if geodetic.datum is not None:
            names.append(geodetic.datum.name or "")
    epsg = crs.to_epsg(min_confidence=70)
    if epsg in VN2000_EPSG_CODES:
        return True
    return any(key in name.lower() for name in names for key in _VN2000_NAMES)


def official_proj4(crs: CRS) -> str:
    """The CRS as a PROJ string carrying the official VN-2000 shift."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        proj4 = crs.to_proj4()
    proj4 = re.sub(r"\+towgs84=\S+", "", proj4)
    proj4 = re.sub(r"\+(datum|ellps)=\S+", "", proj4)
    proj4 = re.sub(r"\+type=crs", "", proj4)
    return " ".join(f"{proj4} +ellps=WGS84 +towgs84={OFFICIAL_VN2000_TOWGS84}".split())


@lru_cache(maxsize=64)
def _pinned(crs_wkt: str) -> CRS:
    crs = CRS.from_wkt(crs_wkt)
    return CRS.from_proj4(official_proj4(crs)) if is_vn2000(crs) else crs


def pinned(crs: CRS) -> CRS:
    """VN-2000 CRSs become a bound CRS with the official shift; others are returned as they are."""
    return _pinned(crs.to_wkt())


@lru_cache(maxsize=64)
def _transformer(src_wkt: str, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(_pinned(src_wkt), _pinned(dst_wkt), always_xy=True)


def transformer(src: CRS, dst: CRS = WGS84) -> Transformer:
    """A lon/lat-ordered transformer, VN-2000 pinned to the official parameters on either side."""
    return _transformer(src.to_wkt(), dst.to_wkt())


def postgis_srid(crs: CRS) -> int:
    """The SRID to use in PostGIS for this CRS: the pinned custom SRID for VN-2000 codes."""
    epsg = crs.to_epsg(min_confidence=70)
    if epsg is None:
        raise InvalidInput(f"{crs.name!r} has no EPSG code", where="crs",
                           hint="use an EPSG code, e.g. EPSG:5899 for VN-2000 / TM-3 107-45")
    return PINNED_SRID_OFFSET + epsg if epsg in VN2000_EPSG_CODES else epsg


def pinned_spatial_ref_rows() -> list[tuple[int, str, int, str, str]]:
    """Rows for PostGIS's spatial_ref_sys: (srid, auth_name, auth_srid, srtext, proj4text).

    ``auth_name`` is ours ('IOCGIS'), so PostGIS cannot look the code up in PROJ's database
    and uses the PROJ string, with its pinned ``+towgs84``.
    """
    rows = []
    for epsg in VN2000_EPSG_CODES:
        crs = CRS.from_epsg(epsg)
        rows.append((PINNED_SRID_OFFSET + epsg, "IOCGIS", PINNED_SRID_OFFSET + epsg, "",
                     official_proj4(crs)))
    return rows

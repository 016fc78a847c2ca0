"""VN-2000 is transformed with the official parameters, in Python and in PostGIS alike."""

from __future__ import annotations

import psycopg
import pytest
from pyproj import CRS

from iocgis import crs

BIEN_HOA_WGS84 = (106.82432, 10.94469)
BIEN_HOA_5899 = (398626.907, 1210495.416)  # the official transformation (shared/data/README.md)

ESRI_PRJ_WITHOUT_TOWGS84 = (
    'PROJCS["VN_2000_TM3_107_45",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",'
    'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",107.75],PARAMETER["Scale_Factor",0.9999],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
)


def test_official_shift_to_tm3_107_45() -> None:
    x, y = crs.transformer(crs.WGS84, CRS.from_epsg(5899)).transform(*BIEN_HOA_WGS84)
    assert x == pytest.approx(BIEN_HOA_5899[0], abs=0.01)
    assert y == pytest.approx(BIEN_HOA_5899[1], abs=0.01)


def test_prj_naming_only_the_datum_gets_the_official_shift() -> None:
    source = CRS.from_wkt(ESRI_PRJ_WITHOUT_TOWGS84)
    assert crs.is_vn2000(source)
    lon, lat = crs.transformer(source).transform(*BIEN_HOA_5899)
    assert lon == pytest.approx(BIEN_HOA_WGS84[0], abs=1e-7)
    assert lat == pytest.approx(BIEN_HOA_WGS84[1], abs=1e-7)


def test_unpinned_pyproj_differs_which_is_why_we_pin() -> None:
    plain = CRS.from_epsg(5899)
    x, _ = __import__("pyproj").Transformer.from_crs(4326, plain, always_xy=True).transform(
        *BIEN_HOA_WGS84)
    assert abs(x - BIEN_HOA_5899[0]) > 0.3


def test_wgs84_is_not_vn2000() -> None:
    assert not crs.is_vn2000(CRS.from_epsg(4326))
    assert not crs.is_vn2000(CRS.from_epsg(3857))


def test_postgis_uses_the_pinned_srid(conn: psycopg.Connection) -> None:
    srid = crs.postgis_srid(CRS.from_epsg(5899))
    assert srid == crs.PINNED_SRID_OFFSET + 5899
    x, y = conn.execute(
        "SELECT ST_X(g), ST_Y(g) FROM ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s) g",
        (*BIEN_HOA_WGS84, srid)).fetchone()
    assert x == pytest.approx(BIEN_HOA_5899[0], abs=0.01)
    assert y == pytest.approx(BIEN_HOA_5899[1], abs=0.01)


def test_unknown_crs_is_a_clear_error() -> None:
    with pytest.raises(crs.InvalidInput, match="EPSG:5899"):
        crs.parse_crs("EPSG:99999999")

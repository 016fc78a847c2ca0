"""The real reference data committed in ``demo/data`` (see its SOURCES.md)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from iocgis.demo.geo import DEGREE_GRID, lonlat_to_metric, to_metric
from iocgis.layers.model import nfc

DATA_DIR = Path(__file__).resolve().parent / "data"

PROVINCE_CODE = "75"
PROVINCE_NAME = "Tỉnh Đồng Nai"
ADMIN_CENTRE_CODE = "26041"  # Phường Trấn Biên
# Resolution 202/2025/QH15 on the arrangement of provinces (new Đồng Nai).
PROVINCE_AREA_KM2 = 12737.18
PROVINCE_POPULATION = 4_491_408
# Natural Earth features whose union is the new province.
OUTLINE_SOURCES = ("VN-39", "VN-58")


@dataclass(frozen=True)
class CommuneRef:
    code: str
    name: str
    type: str
    lat: float
    lon: float
    area_km2: float


@dataclass(frozen=True)
class PlaceRef:
    geonameid: int
    name: str
    lat: float
    lon: float
    population: int


@lru_cache(maxsize=1)
def outline_wgs84() -> shapely.Geometry:
    """The province: old VN-39 (Đồng Nai) ∪ old VN-58 (Bình Phước), on the 1e-7 degree grid."""
    raw = json.loads((DATA_DIR / "naturalearth_vn39_vn58.geojson").read_text(encoding="utf-8"))
    parts = [
        shape(f["geometry"])
        for f in raw["features"]
        if f["properties"]["iso_3166_2"] in OUTLINE_SOURCES
    ]
    if len(parts) != len(OUTLINE_SOURCES):
        raise RuntimeError("the committed Natural Earth file lacks VN-39 or VN-58")
    return shapely.set_precision(shapely.union_all(parts), DEGREE_GRID)


@lru_cache(maxsize=1)
def outline_metric() -> shapely.Geometry:
    """The outline in metres, densified first: a straight edge in degrees is not straight in
    UTM, and points clipped on a long edge would otherwise fall outside the degree outline."""
    dense = shapely.segmentize(outline_wgs84(), 0.0005)
    return shapely.make_valid(to_metric(dense).item())


@lru_cache(maxsize=1)
def communes() -> tuple[CommuneRef, ...]:
    """The 95 communes of Đồng Nai since 1 July 2025, in code order."""
    with open(DATA_DIR / "dong_nai_communes_2025.csv", encoding="utf-8", newline="") as f:
        rows = [
            CommuneRef(
                code=r["code"],
                name=nfc(r["name"]),
                type=nfc(r["type"]),
                lat=float(r["lat"]),
                lon=float(r["lon"]),
                area_km2=float(r["area_km2"]),
            )
            for r in csv.DictReader(f)
            if r["province_code"] == PROVINCE_CODE
        ]
    return tuple(sorted(rows, key=lambda c: c.code))


@lru_cache(maxsize=1)
def places() -> tuple[PlaceRef, ...]:
    with open(DATA_DIR / "geonames_dong_nai_places.csv", encoding="utf-8", newline="") as f:
        return tuple(
            PlaceRef(
                int(r["geonameid"]),
                nfc(r["name"]),
                float(r["lat"]),
                float(r["lon"]),
                int(r["population"]),
            )
            for r in csv.DictReader(f)
        )


def point_metric(lon: float, lat: float) -> tuple[float, float]:
    x, y = lonlat_to_metric(np.array([lon]), np.array([lat]))
    return float(x[0]), float(y[0])

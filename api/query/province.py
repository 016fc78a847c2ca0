"""The province frame every coordinate and drawn polygon is checked against: extent and area.

Read from the registry's province layer (the unit whose code is ``settings.province_code``),
else from the extent of its commune layer, else Vietnam's bounding box; cached per database
for a minute so a fresh import of boundaries is seen without a restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from iocgis.access import SYSTEM, plan_for
from iocgis.access.database import Reader
from iocgis.layers import Registry

# Mainland Vietnam and its islands, a last resort when no boundary has been imported yet.
VIETNAM_BBOX = (102.1, 8.3, 109.5, 23.4)
CACHE_SECONDS = 60.0
# A point or polygon may lie this far (degrees, about 5 km) outside the province's extent:
# boundary data are generalised and incidents happen on the border.
EXTENT_MARGIN_DEG = 0.05


@dataclass(frozen=True)
class ProvinceFrame:
    code: str
    bbox: tuple[float, float, float, float]
    area_m2: float | None  # None: no province polygon, the area check is skipped
    source: str

    def contains(self, lon: float, lat: float) -> bool:
        minx, miny, maxx, maxy = self.bbox
        m = EXTENT_MARGIN_DEG
        return minx - m <= lon <= maxx + m and miny - m <= lat <= maxy + m

    def contains_bbox(self, bounds: tuple[float, float, float, float]) -> bool:
        return self.contains(bounds[0], bounds[1]) and self.contains(bounds[2], bounds[3])

    def describe(self) -> str:
        minx, miny, maxx, maxy = self.bbox
        return f"{minx:.2f}–{maxx:.2f}°E, {miny:.2f}–{maxy:.2f}°N"


_cache: dict[int, tuple[float, ProvinceFrame]] = {}


async def province_frame(reader: Reader, registry: Registry,
                         province_code: str) -> ProvinceFrame:
    cached = _cache.get(id(reader.pool))
    if cached and cached[0] > time.monotonic():
        return cached[1]
    frame = await _load(reader, registry, province_code)
    if frame.source != "default":  # keep asking until boundaries are imported
        _cache[id(reader.pool)] = (time.monotonic() + CACHE_SECONDS, frame)
    return frame


def forget(pool: AsyncConnectionPool) -> None:
    """Drop the cached frame (after boundaries change, and in tests)."""
    _cache.pop(id(pool), None)


async def _load(reader: Reader, registry: Registry, code: str) -> ProvinceFrame:
    """The province's frame, measured by the platform itself (``access.SYSTEM``): it checks
    every caller's coordinates, whatever the caller may read."""
    province = registry.admin_layer("province")
    commune = registry.admin_layer("commune")
    by_province = sql.SQL(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), a FROM ("
        " SELECT ST_Extent(geom)::geometry AS e, sum(ST_Area(geom::geography)) AS a"
        " FROM {} WHERE code = %s) s").format(sql.Identifier(province.schema_name,
                                                             province.table_name))
    by_communes = sql.SQL(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), NULL FROM ("
        " SELECT ST_Extent(geom)::geometry AS e FROM {} WHERE province_code = %s) s").format(
        sql.Identifier(commune.schema_name, commune.table_name))
    plans = [plan_for(SYSTEM, province, registry), plan_for(SYSTEM, commune, registry)]
    async with reader.reading(plans, what="province frame", note=False) as conn:
        for source, statement in ((province.id, by_province), (commune.id, by_communes)):
            cur = await conn.execute(statement, (code,))
            row = await cur.fetchone()
            if row and row[0] is not None:
                return ProvinceFrame(code, (row[0], row[1], row[2], row[3]),
                                     float(row[4]) if row[4] is not None else None, source)
    return ProvinceFrame(code, VIETNAM_BBOX, None, "default")

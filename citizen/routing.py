"""Where a report goes: the commune its location falls in, and the processing unit that the
category and the routing rules (categories.yaml) name for that commune."""

from __future__ import annotations

from dataclasses import dataclass

from iocgis.access import SYSTEM, plan_for
from iocgis.access.database import Reader
from iocgis.citizen.definitions import COMMUNE, Process
from iocgis.errors import InvalidInput, NotFound
from iocgis.layers import Registry
from iocgis.layers.types import STORAGE_SRID

# The report's point as sent (%(lon)s, %(lat)s), and its public point (``public_geom``): the
# commune's point on surface (%(clon)s, %(clat)s) for a category shown at the commune only,
# else the centre of its 100 m cell (EPSG:3857 metres, ~98 m on the ground at Đồng Nai's
# latitude). The public point's SQL reads ``m.p``: put ``FROM {IN_METRES}`` in the statement.
PRECISE_POINT = f"ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), {STORAGE_SRID})"
IN_METRES = f"(SELECT ST_Transform({PRECISE_POINT}, 3857) AS p) m"
PUBLIC_POINT = f"""CASE WHEN %(precision)s = 'commune' AND %(clon)s::float8 IS NOT NULL
         THEN ST_SetSRID(ST_MakePoint(%(clon)s, %(clat)s), {STORAGE_SRID})
         ELSE ST_Transform(ST_SetSRID(ST_MakePoint(floor(ST_X(m.p) / 100) * 100 + 50,
                                                   floor(ST_Y(m.p) / 100) * 100 + 50), 3857),
                           {STORAGE_SRID})
    END"""
# A point on a boundary shared by two communes lies in both (ST_Intersects): it goes to the
# lower code, the rule the importers' commune_from_location follows too.
COMMUNE_AT = f"""
SELECT code, name, type, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))
FROM admin.communes
WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(%s, %s), {STORAGE_SRID}))
ORDER BY code LIMIT 1
"""
COMMUNE_BY_CODE = """
SELECT code, name, type, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))
FROM admin.communes WHERE code = %s
"""


@dataclass(frozen=True)
class Place:
    """The commune a report belongs to, and the point that stands for it in public."""

    commune_code: str
    commune_name: str
    commune_type: str | None
    centre: tuple[float, float]


@dataclass(frozen=True)
class Unit:
    code: str
    vi: str
    en: str


async def _place(reader: Reader, registry: Registry, statement: str, params: tuple) -> Place | None:
    # The platform itself reads the boundaries (public data) on the caller's behalf.
    plan = plan_for(SYSTEM, "admin.communes", registry)
    async with reader.reading(plan, what="commune lookup", note=False) as conn:
        cur = await conn.execute(statement, params)
        row = await cur.fetchone()
    if row is None:
        return None
    return Place(commune_code=row[0], commune_name=row[1], commune_type=row[2],
                 centre=(float(row[3]), float(row[4])))


async def commune_at(reader: Reader, registry: Registry, lon: float, lat: float) -> Place:
    place = await _place(reader, registry, COMMUNE_AT, (lon, lat))
    if place is None:
        raise InvalidInput(f"the location {lon:.6f}, {lat:.6f} lies in no commune of the "
                           "province", where="lat/long",
                           hint="pick the place on the map inside the province")
    return place


async def commune_by_code(reader: Reader, registry: Registry, code: str) -> Place:
    place = await _place(reader, registry, COMMUNE_BY_CODE, (code,))
    if place is None:
        raise NotFound(f"no commune {code!r}", where="unit",
                       hint="use ubnd_<5-digit commune code> or a department code")
    return place


def commune_unit(process: Process, place: Place) -> Unit:
    template = process.routing.commune_unit
    values = {"code": place.commune_code, "name": place.commune_name}
    return Unit(code=template.code.format(**values), vi=template.vi.format(**values),
                en=template.en.format(**values))


def department(process: Process, code: str) -> Unit:
    names = process.routing.departments[code]
    return Unit(code=code, vi=names.vi, en=names.en)


def unit_for(process: Process, category: str, place: Place) -> Unit:
    """The first routing rule that matches, else the category's own unit."""
    chosen = process.category(category).unit
    for rule in process.routing.rules:
        if rule.matches(category, place.commune_code, place.commune_type):
            chosen = rule.unit
            break
    return commune_unit(process, place) if chosen == COMMUNE else department(process, chosen)


async def unit_by_code(process: Process, reader: Reader, registry: Registry, code: str) -> Unit:
    """A unit named in a request: a department code or a commune's People's Committee."""
    if code in process.routing.departments:
        return department(process, code)
    prefix, _, suffix = process.routing.commune_unit.code.partition("{code}")
    if code.startswith(prefix) and code.endswith(suffix):
        commune = code[len(prefix):len(code) - len(suffix)] if suffix else code[len(prefix):]
        if commune.isdigit() and len(commune) == 5:
            return commune_unit(process, await commune_by_code(reader, registry, commune))
    raise InvalidInput(f"unknown processing unit {code[:60]!r}", where="unit",
                       hint=f"use one of {sorted(process.routing.departments)} or "
                            f"{process.routing.commune_unit.code.format(code='<commune code>')}")

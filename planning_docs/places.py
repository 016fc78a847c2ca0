"""The place a planning lookup is about: a point, a parcel (by key or id) or a drawn polygon.

A parcel is read under the caller's plan for ``land.parcels`` (internal: an anonymous caller
is told the layer does not exist; a commune-limited one finds only its communes' parcels, and
a parcel elsewhere is "not found" exactly like one that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from psycopg import sql
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from iocgis.access import AccessPlan
from iocgis.api.query import allowlist
from iocgis.api.query.context import QueryContext
from iocgis.api.query.params import as_number, check_point
from iocgis.api.query.region import Region
from iocgis.errors import InvalidInput, NotFound
from iocgis.layers import Registry

PARCELS = "land.parcels"
PARCEL_FIELDS = ("commune_code", "sheet_no", "parcel_no", "land_use", "area_m2", "address")


@dataclass(frozen=True)
class Place:
    kind: str  # point | parcel | region
    geometry: BaseGeometry  # EPSG:4326
    area_m2: float | None  # geodesic area (parcel, region); None for a point
    parcel: dict[str, Any] | None = None  # the parcel's readable attributes
    plan: AccessPlan | None = None  # the parcels plan, for a parcel

    @property
    def wkb(self) -> bytes:
        return shapely.to_wkb(self.geometry)

    def echo(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "point":
            out["point"] = [round(self.geometry.x, 7), round(self.geometry.y, 7)]
        else:
            out["area_m2"] = round(self.area_m2 or 0.0, 2)
            out["bbox"] = [round(v, 7) for v in self.geometry.bounds]
        if self.parcel is not None:
            out["parcel"] = self.parcel
        return out


async def point_place(ctx: QueryContext, raw: str) -> Place:
    parts = raw.split(",")
    if len(parts) != 2:
        raise InvalidInput("point must be 'lon,lat'", where="point",
                           hint="give point=106.8243,10.9447 (degrees, lon first)")
    lon = as_number(parts[0], "point", what="a longitude")
    lat = as_number(parts[1], "point", what="a latitude")
    check_point(lon, lat, await ctx.frame(), where="point")
    return Place("point", Point(lon, lat), None)


def region_place(region: Region) -> Place:
    return Place("region", region.geometry, region.area_m2)


def _key_clauses(plan: AccessPlan, registry: Registry, parcel: str | None,
                 parcel_id: str | None) -> tuple[list[sql.Composable], list[Any]]:
    layer = plan.layer
    if parcel_id is not None:
        if not parcel_id.isdigit() or len(parcel_id) > 18:
            raise InvalidInput(f"parcel_id {parcel_id[:30]!r} is not a parcel id", where="parcel_id",
                               hint="give the fid of /collections/land.parcels/items")
        return [sql.SQL("fid = %s")], [int(parcel_id)]
    assert parcel is not None
    parts = parcel.split("/")
    if len(parts) != len(layer.key):
        raise InvalidInput(f"parcel must be {'/'.join(layer.key)}", where="parcel",
                           hint="e.g. parcel=26041/12/345 for commune code, map sheet and "
                                "parcel number")
    values = [allowlist.parse_value(registry, layer, layer.field(k), v, "parcel")
              for k, v in zip(layer.key, parts, strict=True)]
    return [sql.SQL("{} = %s").format(sql.Identifier(k)) for k in layer.key], values


def parcel_statement(plan: AccessPlan, registry: Registry, parcel: str | None,
                     parcel_id: str | None) -> tuple[sql.Composed, list[Any]]:
    """The parcel's readable fields, geometry and geodesic area, within the plan's communes."""
    layer = plan.layer
    clauses, values = _key_clauses(plan, registry, parcel, parcel_id)
    if plan.commune_field is not None:
        clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(plan.commune_field)))
        values.append(list(plan.communes or ()))
    statement = sql.SQL(
        "SELECT fid, {fields}, ST_AsBinary(geom), ST_Area(geom::geography) FROM {table} "
        "WHERE {where} AND geom IS NOT NULL LIMIT 1").format(
        fields=sql.SQL(", ").join(sql.Identifier(f) for f in plan.fields),
        table=sql.Identifier(layer.schema_name, layer.table_name),
        where=sql.SQL(" AND ").join(clauses))
    return statement, values


@dataclass(frozen=True)
class ParcelRequest:
    """A parcel to read, by key or id, under the caller's parcels plan (read in the lookup's
    own transaction, in the pipeline that opens the caller's scope: no round trip of its
    own)."""

    plan: AccessPlan
    statement: sql.Composed
    values: list[Any]
    given: str
    where: str

    def place(self, row: tuple[Any, ...] | None) -> Place:
        """The place from the row of ``statement`` (read in the lookup's opening pipeline)."""
        if row is None:
            what = "/".join(self.plan.layer.key) if self.where == "parcel" else "fid"
            raise NotFound(f"no land.parcels has {what} {self.given[:60]!r}", where=self.where,
                           hint="check the value against /collections/land.parcels/items")
        attributes = {"fid": row[0], **dict(zip(self.plan.fields, row[1:-2], strict=True))}
        return Place("parcel", shapely.from_wkb(bytes(row[-2])), float(row[-1]), attributes,
                     self.plan)


def parcel_request(ctx: QueryContext, parcel: str | None, parcel_id: str | None
                   ) -> ParcelRequest:
    plan = ctx.plan(PARCELS).with_fields(PARCEL_FIELDS)
    statement, values = parcel_statement(plan, ctx.registry, parcel, parcel_id)
    return ParcelRequest(plan, statement, values, str(parcel if parcel is not None else parcel_id),
                         "parcel" if parcel is not None else "parcel_id")

"""The statements of the planning lookup, built from the caller's plans (the benchmark runs
these very statements): zones and plans covering a place, in force on a day.

Identifiers come from the registry (``psycopg.sql.Identifier``); values are bound. The day's
dossier facts (``asof.InForce``) arrive as array parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from iocgis.access import AccessPlan
from iocgis.planning_docs.asof import InForce

APPROVED_PROJECT = "da_phe_duyet"  # planning.projects.status of an approved plan
ZONE_FIELDS = ("zone_code", "project_code", "land_use", "far_max", "density_max_pct",
               "height_max_m", "floors_max", "label")
PROJECT_FIELDS = ("project_code", "name", "kind", "level", "scale", "approving_authority",
                  "decision_no", "decision_date", "status")
MAX_ZONES = 500
# A parcel that only touches a zone's edge shares no area with it (m², geodesic).
MIN_OVERLAP_M2 = 0.01


@dataclass(frozen=True)
class Statement:
    query: sql.Composed
    params: dict[str, Any]


def _table(plan: AccessPlan) -> sql.Identifier:
    return sql.Identifier(plan.layer.schema_name, plan.layer.table_name)


def _columns(plan: AccessPlan, alias: str, names: tuple[str, ...]) -> sql.Composed:
    for name in names:
        plan.field(name)  # every column read is one the plan reads
    return sql.SQL(", ").join(sql.Identifier(alias, n) for n in names)


# A project in force on the day: by its dossier when one governs it, else by the layer.
IN_FORCE = sql.SQL(
    "({code} = ANY(%(in_force)s) OR (NOT {code} = ANY(%(governed)s) AND p.status = %(approved)s"
    " AND (p.decision_date IS NULL OR p.decision_date <= %(as_of)s)))")


def zones_statement(zones: AccessPlan, projects: AccessPlan, facts: InForce, target: bytes,
                    *, area: bool, shapes: bool) -> Statement:
    overlap = (sql.SQL("ST_Area(ST_Intersection(z.geom, ST_GeomFromWKB(%(target)s, 4326))"
                       "::geography)") if area else sql.SQL("NULL::float8"))
    shape = sql.SQL("ST_AsGeoJSON(z.geom, 7)") if shapes else sql.SQL("NULL::text")
    query = sql.SQL(
        "SELECT {columns}, {overlap} AS overlap_m2, {shape} AS shape FROM {zones} z "
        "LEFT JOIN {projects} p ON p.project_code = z.project_code "
        "WHERE ST_Intersects(z.geom, ST_GeomFromWKB(%(target)s, 4326)) "
        "AND NOT z.zone_code = ANY(%(superseded)s) AND NOT z.project_code = ANY(%(replaced)s) "
        "AND {in_force} ORDER BY z.project_code, z.zone_code LIMIT {limit}").format(
        columns=_columns(zones, "z", ZONE_FIELDS), overlap=overlap, shape=shape,
        zones=_table(zones), projects=_table(projects),
        in_force=IN_FORCE.format(code=sql.Identifier("z", "project_code")),
        limit=sql.Literal(MAX_ZONES))
    _columns(projects, "p", ("project_code", "status", "decision_date"))
    return Statement(query, {**facts.params, "target": target, "approved": APPROVED_PROJECT})


# A plan's outline (a commune, a province) has thousands of vertices: a point inside the
# place is tested first (point-in-polygon is cheap), the whole place only when that misses.
COVERS = sql.SQL(
    "CASE WHEN ST_Intersects(p.geom, ST_PointOnSurface(ST_GeomFromWKB(%(target)s, 4326))) "
    "THEN true ELSE ST_Intersects(p.geom, ST_GeomFromWKB(%(target)s, 4326)) END")


def projects_statement(projects: AccessPlan, zones: AccessPlan, facts: InForce,
                       target: bytes) -> Statement:
    """The plans in force on the day whose zones lie at the place (the zones statement's
    test, so both statements go in one pipeline) or whose outline covers it; ``covers_place``
    tells the second kind, so that a plan found only through zones that the overlap rule
    (``MIN_OVERLAP_M2``, applied to the zone rows) drops is dropped too."""
    query = sql.SQL(
        "SELECT {columns}, (p.geom && ST_GeomFromWKB(%(target)s, 4326) AND {covers}) AS "
        "covers_place FROM {projects} p WHERE (p.project_code IN (SELECT z.project_code "
        "FROM {zones} z WHERE ST_Intersects(z.geom, ST_GeomFromWKB(%(target)s, 4326)) AND NOT "
        "z.zone_code = ANY(%(superseded)s)) OR (p.geom && ST_GeomFromWKB(%(target)s, 4326) "
        "AND {covers})) AND NOT p.project_code = ANY(%(replaced)s) AND {in_force}").format(
        columns=_columns(projects, "p", PROJECT_FIELDS), projects=_table(projects),
        zones=_table(zones), in_force=IN_FORCE.format(code=sql.Identifier("p", "project_code")),
        covers=COVERS)
    _columns(zones, "z", ("zone_code", "project_code"))
    return Statement(query, {**facts.params, "target": target, "approved": APPROVED_PROJECT})

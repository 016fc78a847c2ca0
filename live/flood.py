"""The flood scenario in one call, live: river stations at or over an alarm level (II by
default), the flood zones they drive (the zone's station, else the river station nearest to
it; scenario bao_dong_2 from level II, bao_dong_3 from level III), the houses inside them by
commune (poor and near-poor households), and the shelters within a radius of those zones.
Every layer is read under the caller's plan; a layer the caller may not see is left out."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import JSONResponse

from iocgis.access import AccessPlan, current_caller, plan_for
from iocgis.errors import InvalidInput, NotFound
from iocgis.live.jsonable import jsonable

SCENARIO_AT = {2: "bao_dong_2", 3: "bao_dong_3"}

STATIONS = """
SELECT station_code, name, value, unit, alarm_level, observed_at, commune_code
FROM iot.latest WHERE parameter = 'water_level' AND kind = 'muc_nuoc_song'
  AND alarm_level >= %(level)s{scope}
ORDER BY alarm_level DESC, station_code
"""
ZONES = """
SELECT z.zone_code, z.scenario, z.max_depth_m,
       coalesce((SELECT s.station_code FROM iot.stations s  -- the zone's own river station
                 WHERE s.station_code = z.station_code AND s.kind = 'muc_nuoc_song'),
                (SELECT s.station_code FROM iot.stations s  -- else the nearest one
                 WHERE s.kind = 'muc_nuoc_song' AND s.geom IS NOT NULL
                 ORDER BY s.geom <-> z.geom LIMIT 1)) AS station_code
FROM emergency.flood_zones z
WHERE z.scenario = ANY(%(scenarios)s) AND z.geom IS NOT NULL
"""
HOUSES = """
SELECT h.commune_code, count(*) AS houses, coalesce(sum(h.household_size), 0) AS people,
       count(*) FILTER (WHERE h.is_poor) AS poor, count(*) FILTER (WHERE h.is_near_poor)
       AS near_poor
FROM housing.houses h
WHERE EXISTS (SELECT 1 FROM emergency.flood_zones z WHERE z.zone_code = ANY(%(zones)s)
              AND z.geom && h.geom AND ST_Intersects(z.geom, h.geom)){scope}
GROUP BY h.commune_code ORDER BY poor DESC, h.commune_code
"""
SHELTERS = """
WITH zones AS (SELECT geom FROM emergency.flood_zones WHERE zone_code = ANY(%(zones)s))
SELECT s.shelter_id, s.name, s.capacity_people, s.commune_code,
       round(min(ST_Distance(s.geom::geography, z.geom::geography))::numeric, 1)::float
       AS distance_m, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
FROM emergency.shelters s JOIN zones z
  ON ST_DWithin(s.geom::geography, z.geom::geography, %(radius)s){scope}
GROUP BY s.shelter_id, s.name, s.capacity_people, s.commune_code, s.geom
ORDER BY distance_m, s.shelter_id LIMIT 200
"""


def _number(request: Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query_params.get(name)
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        raise InvalidInput(f"{name} is a number", where=name, hint=f"{name}={default:g}") from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be {low:g}..{high:g}", where=name,
                           hint=f"{name}={default:g}")
    return value


def _plan(caller: Any, layer: str, registry: Any) -> AccessPlan | None:
    try:
        return plan_for(caller, layer, registry)
    except NotFound:
        return None


def _scope(plan: AccessPlan, alias: str = "") -> str:
    column = f"{alias}{plan.layer.commune_field}" if plan.layer.commune_field else ""
    return "" if plan.communes is None else f" AND {column} = ANY(%(communes)s)"


def _json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [jsonable(r) for r in rows]


async def flood(request: Request) -> JSONResponse:
    """``GET /live/flood?level=2&radius_m=3000``."""
    state = request.app.state.iocgis
    caller = current_caller()
    level = int(_number(request, "level", 2, 2, 3))
    radius = _number(request, "radius_m", 3000, 1, 50_000)
    latest = plan_for(caller, "iot.latest", state.registry)
    zones_plan = plan_for(caller, "emergency.flood_zones", state.registry)
    stations_plan = plan_for(caller, "iot.stations", state.registry)
    houses_plan = _plan(caller, "housing.houses", state.registry)
    shelters_plan = _plan(caller, "emergency.shelters", state.registry)
    plans = [p for p in (latest, zones_plan, stations_plan, houses_plan, shelters_plan) if p]
    communes = list(caller.commune_codes)
    async with state.reader.reading(plans, what="flood scenario") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(STATIONS.format(scope=_scope(latest)),
                          {"level": level, "communes": communes})
        stations = await cur.fetchall()
        by_station = {s["station_code"]: s["alarm_level"] for s in stations}
        zones: list[dict[str, Any]] = []
        if stations:
            reached = sorted({SCENARIO_AT[min(lv, 3)] for lv in by_station.values() if lv >= 2})
            await cur.execute(ZONES, {"scenarios": reached})
            zones = [z for z in await cur.fetchall()
                     if by_station.get(z["station_code"], 0) >= 2
                     and z["scenario"] in {SCENARIO_AT[k] for k in SCENARIO_AT
                                           if k <= by_station[z["station_code"]]}]
        codes = [z["zone_code"] for z in zones]
        houses = shelters = None
        if houses_plan is not None:
            houses = []
            if codes:
                await cur.execute(HOUSES.format(scope=_scope(houses_plan, "h.")),
                                  {"zones": codes, "communes": communes})
                houses = await cur.fetchall()
        if shelters_plan is not None:
            shelters = []
            if codes:
                await cur.execute(SHELTERS.format(scope=_scope(shelters_plan, "s.")),
                                  {"zones": codes, "radius": radius, "communes": communes})
                shelters = await cur.fetchall()
    totals = None if houses is None else {
        k: sum(int(r[k]) for r in houses) for k in ("houses", "people", "poor", "near_poor")}
    return JSONResponse({
        "level": level, "radius_m": radius, "stations": _json(stations), "zones": _json(zones),
        "houses_by_commune": houses, "houses_total": totals, "shelters": shelters,
        "left_out": [layer for layer, plan in (("housing.houses", houses_plan),
                                               ("emergency.shelters", shelters_plan))
                     if plan is None]})

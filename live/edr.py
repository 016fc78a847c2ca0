"""OGC API - EDR over the stations' time series: a conformant subset as Starlette routes.

One collection, ``iot.timeseries``: its locations are the stations with live datastreams
(``iot.latest``), its data the readings of ``iot.observations``. Queries: ``position``
(``coords=POINT(lon lat)``: the nearest station that has the named parameters), ``area``
(``coords=POLYGON((...))``: the stations inside), ``items`` (the stations as GeoJSON features)
and ``items/{station}`` (one station's series); each with ``datetime`` (an instant or an
interval, open ends ``..``) and ``parameter-name`` (comma-separated codes of the registry's
parameter list). Answers: CoverageJSON (``PointSeries``, the default; ``f=CoverageJSON``) or
GeoJSON (``f=GeoJSON``: one point feature per reading). Both layers are read through the
caller's access plans (a commune-limited caller finds only its communes' stations).

Why not pygeoapi's EDR (``pygeoapi.api.environmental_data_retrieval``): in pygeoapi 0.24 its
handler has no ``items`` query (items would come from a second, feature provider), answers
CoverageJSON unless a formatter plugin is written, refuses a ``datetime`` outside the
collection's configured extent (a live series' extent moves with every reading: the same
problem ``pygeoapi_seams`` works around for features), parses ``coords`` itself (its refusals
are not the project's errors), and mounting it means new handlers, a provider type and OpenAPI
paths in the shared OGC adapter (``api/ogc``). These routes answer the same requests with the
project's parameter checks and errors; the media types are pygeoapi's (``vnd.cov+json``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import shapely
import shapely.errors
import shapely.wkt
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iocgis.access import AccessPlan, Caller, can_see, current_caller, plan_for
from iocgis.api.kit.responses import UnicodeJSON
from iocgis.api.kit.urls import public_base_url
from iocgis.api.ogc.params import parse_datetime
from iocgis.errors import InvalidInput, NotFound, PayloadTooLarge
from iocgis.layers import Registry
from iocgis.live.access import LATEST_LAYER, readings_plan

COLLECTION = "iot.timeseries"
OBSERVATIONS = "iot.observations"
COVJSON = "application/vnd.cov+json"  # CoverageJSON (OGC Community Standard 1.0)
GEOJSON = "application/geo+json"
FORMATS = {"coveragejson": COVJSON, "covjson": COVJSON, "geojson": GEOJSON, "json": COVJSON}
MAX_READINGS = 50_000  # one answer; a longer series: a narrower datetime
MAX_STATIONS = 500
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
KNOWN_PARAMETERS = frozenset({"coords", "datetime", "parameter-name", "f"})


def parameter_codes(registry: Registry) -> dict[str, Any]:
    """The parameters (code -> Code with vi/en titles) of the observations' code list."""
    field = registry.get(OBSERVATIONS).field("parameter")
    return {c.code: c for c in registry.resolve_domain(field) or ()}


def _checked_names(request: Request) -> None:
    unknown = sorted(set(request.query_params) - KNOWN_PARAMETERS)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]!r}", where=unknown[0],
                           hint=f"EDR queries here take {', '.join(sorted(KNOWN_PARAMETERS))}")


def _parameters(request: Request, registry: Registry) -> list[str]:
    known = parameter_codes(registry)
    raw = request.query_params.get("parameter-name")
    if raw is None:
        return sorted(known)
    names = [n.strip() for n in raw.split(",")]
    for name in names:
        if name not in known:
            raise InvalidInput(f"parameter-name {name[:40]!r} is not a parameter of "
                               f"{COLLECTION}", where="parameter-name",
                               hint=f"one or more of {', '.join(sorted(known))}, comma-separated")
    return list(dict.fromkeys(names))


def _window(request: Request) -> tuple[datetime | None, datetime | None]:
    raw = request.query_params.get("datetime")
    return (None, None) if raw is None else parse_datetime(raw)


def _media(request: Request) -> str:
    raw = request.query_params.get("f", "CoverageJSON")
    media = FORMATS.get(raw.lower())
    if media is None:
        raise InvalidInput(f"f={raw[:30]!r} is not an output format of {COLLECTION}", where="f",
                           hint="f=CoverageJSON or f=GeoJSON")
    return media


def _coords(request: Request, kind: str) -> shapely.Geometry:
    raw = request.query_params.get("coords")
    example = "POINT(106.83 10.95)" if kind == "Point" else \
        "POLYGON((106.8 10.9,106.9 10.9,106.9 11,106.8 11,106.8 10.9))"
    if not raw:
        raise InvalidInput("coords is required", where="coords", hint=f"coords={example}")
    try:
        geometry = shapely.wkt.loads(raw)
    except (shapely.errors.ShapelyError, ValueError, TypeError):
        raise InvalidInput(f"coords {raw[:60]!r} is not WKT", where="coords",
                           hint=f"coords={example} (longitude latitude, CRS84)") from None
    kinds = (kind, "Multi" + kind)
    if geometry.geom_type not in kinds or geometry.is_empty:
        raise InvalidInput(f"coords is a {geometry.geom_type}; this query takes a {kind}",
                           where="coords", hint=f"coords={example}")
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput("coords is outside longitude -180..180 / latitude -90..90",
                           where="coords", hint="longitude first, then latitude (CRS84)")
    if kind == "Polygon" and not geometry.is_valid:
        raise InvalidInput("coords is not a valid polygon (it crosses itself)",
                           where="coords", hint=f"coords={example}")
    return geometry


def _plans(request: Request) -> tuple[AccessPlan, AccessPlan]:
    registry = request.app.state.iocgis.registry
    caller = current_caller()
    return readings_plan(caller, registry), plan_for(caller, OBSERVATIONS, registry)


def _communes(plan: AccessPlan) -> str:
    return "" if plan.communes is None else " AND commune_code = ANY(%(communes)s)"


async def _read(request: Request, *, where: str, order: str, params: dict[str, Any],
                parameters: list[str], window: tuple[datetime | None, datetime | None],
                stations_only: bool = False, most: int = MAX_STATIONS
                ) -> tuple[list[dict], list[dict]]:
    """The stations that match (with their datastreams' parameters) and their readings."""
    stations_plan, observations_plan = _plans(request)
    args = {**params, "parameters": parameters, "communes": list(stations_plan.communes or ()),
            "start": window[0], "end": window[1], "most": min(most, MAX_STATIONS + 1)}
    stations_sql = (
        "SELECT station_code, min(name) AS name, min(commune_code) AS commune_code, "
        "ST_X(geom) AS lon, ST_Y(geom) AS lat, array_agg(DISTINCT parameter ORDER BY parameter)"
        " AS parameters FROM iot.latest WHERE parameter = ANY(%(parameters)s)"
        f"{_communes(stations_plan)}{where} GROUP BY station_code, geom "
        f"ORDER BY {order} LIMIT %(most)s")
    state = request.app.state.iocgis
    async with state.reader.reading([stations_plan, observations_plan],
                                    what="EDR query", hint="narrow datetime or coords") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(stations_sql, args)
        stations = await cur.fetchall()
        if len(stations) > MAX_STATIONS:
            raise PayloadTooLarge(f"more than {MAX_STATIONS} stations match", where="coords",
                                  hint="a smaller area or fewer parameters")
        if stations_only or not stations:
            return stations, []
        # only the bounds given: the monthly partitions outside them are pruned at planning
        bounds = ("" if window[0] is None else " AND observed_at >= %(start)s") + (
            "" if window[1] is None else " AND observed_at <= %(end)s")
        await cur.execute(
            "SELECT station_code, parameter, observed_at, value, unit FROM iot.observations "
            "WHERE station_code = ANY(%(stations)s) AND parameter = ANY(%(parameters)s)"
            f"{bounds} ORDER BY station_code, observed_at, parameter LIMIT %(limit)s",
            {**args, "stations": [s["station_code"] for s in stations],
             "limit": MAX_READINGS + 1})
        readings = await cur.fetchall()
    if len(readings) > MAX_READINGS:
        raise PayloadTooLarge(f"more than {MAX_READINGS} readings match", where="datetime",
                              hint="a narrower datetime interval or fewer parameters")
    return stations, readings


# --- answers ------------------------------------------------------------------------------

def _parameter_doc(code: Any, unit: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "Parameter", "description": {"vi": code.vi, "en": code.en},
        "observedProperty": {"id": code.code, "label": {"vi": code.vi, "en": code.en}}}
    if unit:
        doc["unit"] = {"symbol": unit}
    return doc


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _coverage(station: dict, readings: list[dict], parameters: list[str],
              codes: dict[str, Any]) -> dict[str, Any]:
    """One station's series as a CoverageJSON PointSeries: one time axis, a value (or null)
    per parameter at each time."""
    times = sorted({r["observed_at"] for r in readings})
    index = {t: i for i, t in enumerate(times)}
    ranges: dict[str, list[float | None]] = {p: [None] * len(times) for p in parameters}
    units: dict[str, str | None] = {}
    for r in readings:
        ranges[r["parameter"]][index[r["observed_at"]]] = float(r["value"])
        units.setdefault(r["parameter"], r["unit"])
    return {
        "type": "Coverage",
        "id": station["station_code"],
        "domain": {"type": "Domain", "domainType": "PointSeries", "axes": {
            "x": {"values": [station["lon"]]}, "y": {"values": [station["lat"]]},
            "t": {"values": [_time(t) for t in times]}},
            "referencing": [
                {"coordinates": ["x", "y"], "system": {"type": "GeographicCRS", "id": CRS84}},
                {"coordinates": ["t"], "system": {"type": "TemporalRS",
                                                  "calendar": "Gregorian"}}]},
        "parameters": {p: _parameter_doc(codes[p], units.get(p)) for p in parameters},
        "ranges": {p: {"type": "NdArray", "dataType": "float", "axisNames": ["t"],
                       "shape": [len(times)], "values": values}
                   for p, values in ranges.items()},
        "properties": {"station_code": station["station_code"], "name": station["name"],
                       "commune_code": station["commune_code"]},
    }


def _answer(request: Request, stations: list[dict], readings: list[dict],
            parameters: list[str]) -> Response:
    media = _media(request)
    by_station: dict[str, list[dict]] = {s["station_code"]: [] for s in stations}
    for r in readings:
        by_station[r["station_code"]].append(r)
    if media == GEOJSON:
        places = {s["station_code"]: s for s in stations}
        features = [{"type": "Feature", "geometry": {
            "type": "Point", "coordinates": [places[r["station_code"]]["lon"],
                                             places[r["station_code"]]["lat"]]},
            "properties": {"station_code": r["station_code"],
                           "name": places[r["station_code"]]["name"],
                           "parameter": r["parameter"], "observed_at": _time(r["observed_at"]),
                           "value": float(r["value"]), "unit": r["unit"]}} for r in readings]
        return UnicodeJSON({"type": "FeatureCollection", "features": features,
                            "numberReturned": len(features)}, media_type=GEOJSON)
    codes = parameter_codes(request.app.state.iocgis.registry)
    coverages = [_coverage(s, by_station[s["station_code"]],
                           [p for p in parameters if p in s["parameters"]], codes)
                 for s in stations]
    return UnicodeJSON({"type": "CoverageCollection", "domainType": "PointSeries",
                        "parameters": {p: _parameter_doc(codes[p], None) for p in parameters},
                        "coverages": coverages}, media_type=COVJSON)


# --- routes -------------------------------------------------------------------------------

async def position(request: Request) -> Response:
    """``GET /collections/iot.timeseries/position?coords=POINT(lon lat)``: the nearest
    station having the parameters, its readings in the window."""
    _checked_names(request)
    registry = request.app.state.iocgis.registry
    parameters, window, _ = _parameters(request, registry), _window(request), _media(request)
    point = _coords(request, "Point")
    point = point if point.geom_type == "Point" else point.geoms[0]
    stations, readings = await _read(
        request, where="", order="geom <-> ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326)",
        params={"x": point.x, "y": point.y}, parameters=parameters, window=window, most=1)
    return _answer(request, stations, readings, parameters)


async def area(request: Request) -> Response:
    """``GET /collections/iot.timeseries/area?coords=POLYGON((...))``: the stations inside."""
    _checked_names(request)
    registry = request.app.state.iocgis.registry
    parameters, window, _ = _parameters(request, registry), _window(request), _media(request)
    polygon = _coords(request, "Polygon")
    stations, readings = await _read(
        request, where=" AND ST_Intersects(geom, ST_GeomFromText(%(wkt)s, 4326))",
        order="station_code", params={"wkt": polygon.wkt}, parameters=parameters,
        window=window)
    return _answer(request, stations, readings, parameters)


async def items(request: Request) -> Response:
    """``GET /collections/iot.timeseries/items``: the stations (locations) as GeoJSON."""
    _checked_names(request)
    parameters = _parameters(request, request.app.state.iocgis.registry)
    if request.query_params.get("f", "GeoJSON").lower() not in ("geojson", "json"):
        raise InvalidInput(f"the items of {COLLECTION} are GeoJSON", where="f",
                           hint="f=GeoJSON; a station's series: items/{station}")
    stations, _ = await _read(request, where="", order="station_code", params={},
                              parameters=parameters, window=(None, None), stations_only=True)
    base = f"{public_base_url(request)}/collections/{COLLECTION}/items"
    features = [{"type": "Feature", "id": s["station_code"],
                 "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                 "properties": {"name": s["name"], "commune_code": s["commune_code"],
                                "parameters": s["parameters"]},
                 "links": [{"rel": "data", "type": COVJSON,
                            "href": f"{base}/{s['station_code']}"}]} for s in stations]
    # the page's own links, in the body and as a Link header, as the Features items carry them
    # (clients such as the OGC test suite read the media types from the header)
    links = [{"rel": "self", "type": GEOJSON, "href": f"{base}?f=GeoJSON"},
             {"rel": "collection", "type": "application/json",
              "href": f"{public_base_url(request)}/collections/{COLLECTION}"}]
    header = ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"; type="{link["type"]}"'
                       for link in links)
    return UnicodeJSON({"type": "FeatureCollection", "features": features,
                        "numberReturned": len(features), "links": links},
                       media_type=GEOJSON, headers={"Link": header})


async def item(request: Request) -> Response:
    """``GET /collections/iot.timeseries/items/{station}``: one station's series."""
    _checked_names(request)
    registry = request.app.state.iocgis.registry
    parameters, window, _ = _parameters(request, registry), _window(request), _media(request)
    code = request.path_params["station"]
    stations, readings = await _read(request, where=" AND station_code = %(code)s",
                                     order="station_code", params={"code": code},
                                     parameters=parameters, window=window)
    if not stations:
        raise NotFound(f"no station {code[:40]!r} with {', '.join(parameters)} in "
                       f"{COLLECTION}", where="station",
                       hint=f"list them at /collections/{COLLECTION}/items")
    return _answer(request, stations, readings, parameters)


QUERIES = ("position", "area", "items")
FORMAT_NAMES = ["CoverageJSON", "GeoJSON"]


def visible(caller: Caller, registry: Registry) -> bool:
    """Whether the caller may read the collection: both layers it is made of."""
    return all(can_see(caller, registry.get(layer)) for layer in (LATEST_LAYER, OBSERVATIONS))


def describe(base_url: str, registry: Registry) -> dict[str, Any]:
    """The EDR collection document (``/collections/iot.timeseries`` and its entry in
    ``/collections``): its queries (``data_queries``, and a ``data`` link each, as pygeoapi
    writes an EDR collection's links), formats and parameters."""
    codes = parameter_codes(registry)
    base = f"{base_url}/collections/{COLLECTION}"
    query = {"output_formats": FORMAT_NAMES, "default_output_format": "CoverageJSON",
             "crs_details": [{"crs": "CRS84", "wkt": CRS84}]}
    return {
        "id": COLLECTION,
        "title": "Chuỗi số liệu quan trắc tại trạm (station time series)",
        "description": "Chuỗi thời gian đo tại các trạm / time series measured at the stations "
                       "(OGC API - EDR: position, area, items)",
        "links": [{"rel": "self", "type": "application/json", "href": base},
                  {"rel": "items", "type": GEOJSON, "href": f"{base}/items"},
                  *({"rel": "data", "type": GEOJSON if name == "items" else COVJSON,
                     "title": f"{name} query", "href": f"{base}/{name}"} for name in QUERIES)],
        "data_queries": {
            name: {"link": {"href": f"{base}/{name}", "rel": "data", "variables": {
                "query_type": name, **query}}} for name in QUERIES},
        "crs": [CRS84],
        "output_formats": FORMAT_NAMES,
        "parameter_names": {c: _parameter_doc(code, None) for c, code in codes.items()},
    }


def listed(request: Request) -> list[dict[str, Any]]:
    """This collection's entry in ``/collections``, when the caller may read it."""
    registry = request.app.state.iocgis.registry
    if not visible(current_caller(), registry):
        return []
    return [describe(public_base_url(request), registry)]


async def collection(request: Request) -> Response:
    """``GET /collections/iot.timeseries``: the EDR collection: its queries and parameters."""
    _plans(request)  # a caller who may not see the layers gets their 404
    return UnicodeJSON(describe(public_base_url(request), request.app.state.iocgis.registry))


def routes() -> list[BaseRoute]:
    base = f"/collections/{COLLECTION}"
    return [Route(base, collection), Route(f"{base}/position", position),
            Route(f"{base}/area", area), Route(f"{base}/items", items),
            Route(f"{base}/items/{{station}}", item)]

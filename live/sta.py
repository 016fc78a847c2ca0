"""A SensorThings API 1.1 subset under ``/sta/v1.1`` for existing STA clients and gateways:
Things (the stations), Datastreams, Observations (GET with the usual query options; POST
single, a JSON array of them, and ``CreateObservations`` with ``dataArray``). POSTs need a
device key and go through the one ingestion pipeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from iocgis.access import current_caller, plan_for
from iocgis.api.kit.urls import public_base_url
from iocgis.errors import InvalidInput, NotFound
from iocgis.jsonbody import parse_json
from iocgis.live import sta_query
from iocgis.live.access import STATIONS_LAYER
from iocgis.live.context import live_context
from iocgis.live.http_ingest import device_of, ingest
from iocgis.live.readings import BadReading, Reading, parse_time, parse_value
from iocgis.live.sta_query import Column
from iocgis.live.validate import Rejected

BASE = "/sta/v1.1"
THING_COLUMNS = {"@iot.id": Column("station_code", "text"), "name": Column("name", "text"),
                 "properties/kind": Column("kind", "text"),
                 "properties/commune_code": Column("commune_code", "text")}
STREAM_COLUMNS = {"@iot.id": Column("d.id", "number"), "name": Column("d.name", "text"),
                  "Thing/@iot.id": Column("d.station_code", "text"),
                  "ObservedProperty/name": Column("d.parameter", "text"),
                  "unitOfMeasurement/symbol": Column("d.unit", "text")}
OBS_COLUMNS = {"phenomenonTime": Column("observed_at", "time"),
               "resultTime": Column("observed_at", "time"), "result": Column("value", "number")}


def _url(request: Request, path: str) -> str:
    return public_base_url(request) + BASE + path


def _id(raw: str) -> str:
    return raw[1:-1].replace("''", "'") if len(raw) >= 2 and raw[0] == raw[-1] == "'" else raw


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def root(request: Request) -> JSONResponse:
    return JSONResponse({"value": [{"name": n, "url": _url(request, f"/{n}")}
                                   for n in ("Things", "Datastreams", "Observations")],
                         "serverSettings": {"conformance": [
                             "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                             "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations",
                             "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array"]}})


def _page(request: Request, rows: list[dict], query: sta_query.Query, total: int | None) -> dict:
    body: dict[str, Any] = {"value": rows}
    if total is not None:
        body["@iot.count"] = total
    if len(rows) == query.top and query.top:
        params = dict(request.query_params)
        params["$skip"] = str(query.skip + query.top)
        body["@iot.nextLink"] = f"{public_base_url(request)}{request.url.path}?{urlencode(params)}"
    return body


def _thing(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    code = row["station_code"]
    thing = {"@iot.id": code, "@iot.selfLink": _url(request, f"/Things('{code}')"),
             "name": row["name"], "description": row["name"],
             "properties": {"kind": row["kind"], "commune_code": row["commune_code"],
                            "operator": row.get("operator")},
             "Datastreams@iot.navigationLink": _url(request, f"/Things('{code}')/Datastreams")}
    if row.get("lon") is not None:
        thing["Locations"] = [{"name": row["name"], "encodingType": "application/geo+json",
                               "location": {"type": "Point",
                                            "coordinates": [row["lon"], row["lat"]]}}]
    return thing


async def _things(request: Request, station: str | None) -> tuple[list[dict], int | None,
                                                                  sta_query.Query]:
    state = request.app.state.iocgis
    plan = plan_for(current_caller(), STATIONS_LAYER, state.registry)
    query = sta_query.parse(request.query_params, THING_COLUMNS, default_order="@iot.id",
                            expandable=frozenset({"Datastreams", "Locations"}))
    where = list(query.where)
    params = dict(query.params)
    if station is not None:
        where.append("station_code = %(station)s")
        params["station"] = station
    if plan.communes is not None:
        where.append("commune_code = ANY(%(communes)s)")
        params["communes"] = list(plan.communes)
    clause = " AND ".join(where) or "true"
    async with state.reader.reading(plan, what="SensorThings Things") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT station_code, name, kind, commune_code, operator, "
                          f"ST_X(geom) AS lon, ST_Y(geom) AS lat FROM iot.stations WHERE "
                          f"{clause} ORDER BY {query.order} LIMIT {query.top} OFFSET "
                          f"{query.skip}", params)
        rows = await cur.fetchall()
        total = None
        if query.count:
            await cur.execute(f"SELECT count(*) AS n FROM iot.stations WHERE {clause}", params)
            total = (await cur.fetchone())["n"]
    return rows, total, query


async def things(request: Request) -> JSONResponse:
    rows, total, query = await _things(request, None)
    out = [_thing(request, r) for r in rows]
    if "Datastreams" in query.expand:
        streams = await _stream_rows(request, [r["station_code"] for r in rows])
        for thing in out:
            thing["Datastreams"] = [_stream(request, s) for s in streams
                                    if s["station_code"] == thing["@iot.id"]]
    return JSONResponse(_page(request, out, query, total))


async def thing(request: Request) -> JSONResponse:
    rows, _, _ = await _things(request, _id(request.path_params["id"]))
    if not rows:
        raise NotFound("no such Thing", where="@iot.id", hint=f"list them at {BASE}/Things")
    return JSONResponse(_thing(request, rows[0]))


def _stream(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    sid = row["id"]
    return {"@iot.id": sid, "@iot.selfLink": _url(request, f"/Datastreams({sid})"),
            "name": row["name"] or f"{row['station_code']} {row['parameter']}",
            "description": f"{row['parameter']} at {row['station_code']}",
            "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
                               "OM_Measurement",
            "unitOfMeasurement": {"name": row["unit"], "symbol": row["unit"],
                                  "definition": ""},
            "ObservedProperty": {"name": row["parameter"]},
            "phenomenonTime": _iso(row["last_observed_at"]),
            "properties": {"cadence_s": row["cadence_s"], "alarm_level": row["alarm_level"]},
            "Thing@iot.navigationLink": _url(request, f"/Things('{row['station_code']}')"),
            "Observations@iot.navigationLink": _url(request, f"/Datastreams({sid})/Observations")}


async def _stream_rows(request: Request, stations: list[str] | None,
                       query: sta_query.Query | None = None,
                       stream_id: int | None = None) -> list[dict[str, Any]]:
    plan = plan_for(current_caller(), STATIONS_LAYER, request.app.state.iocgis.registry)
    query = query or sta_query.parse({}, STREAM_COLUMNS, default_order="@iot.id")
    where, params = list(query.where), dict(query.params)
    if stations is not None:
        where.append("d.station_code = ANY(%(stations)s)")
        params["stations"] = stations
    if stream_id is not None:
        where.append("d.id = %(sid)s")
        params["sid"] = stream_id
    if plan.communes is not None:
        where.append("s.commune_code = ANY(%(communes)s)")
        params["communes"] = list(plan.communes)
    limit = "" if stations is not None else f" LIMIT {query.top} OFFSET {query.skip}"
    pool = await live_context(request).owner()
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT d.id, d.name, d.station_code, d.parameter, d.unit, d.cadence_s,"
                          " d.alarm_level, d.last_observed_at FROM live.datastreams d LEFT JOIN "
                          "iot.stations s USING (station_code) WHERE "
                          f"{' AND '.join(where) or 'true'} ORDER BY {query.order}{limit}", params)
        return await cur.fetchall()


async def datastreams(request: Request) -> JSONResponse:
    query = sta_query.parse(request.query_params, STREAM_COLUMNS, default_order="@iot.id",
                            expandable=frozenset({"Thing", "ObservedProperty"}))
    station = request.path_params.get("id")
    rows = await _stream_rows(request, [_id(station)] if station else None, query)
    return JSONResponse(_page(request, [_stream(request, r) for r in rows], query, None))


def _no_stream() -> NotFound:
    return NotFound("no such Datastream", where="@iot.id", hint=f"list them at {BASE}/Datastreams")


def _stream_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit():
        raise _no_stream()
    return int(raw)


async def datastream(request: Request) -> JSONResponse:
    rows = await _stream_rows(request, None, stream_id=_stream_id(request))
    if not rows:
        raise _no_stream()
    return JSONResponse(_stream(request, rows[0]))


async def observations(request: Request) -> JSONResponse:
    """``GET /Datastreams(id)/Observations``: the series from iot.observations (one btree
    range on (station, parameter, time) in the partitions the time filter keeps)."""
    state = request.app.state.iocgis
    streams = await _stream_rows(request, None, stream_id=_stream_id(request))
    if not streams:
        raise _no_stream()
    stream = streams[0]
    plan = plan_for(current_caller(), "iot.observations", state.registry)
    query = sta_query.parse(request.query_params, OBS_COLUMNS,
                            default_order="phenomenonTime desc")
    where = ["station_code = %(station)s", "parameter = %(parameter)s", *query.where]
    params = {**query.params, "station": stream["station_code"],
              "parameter": stream["parameter"]}
    async with state.reader.reading(plan, what="SensorThings Observations") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT fid, observed_at, value FROM iot.observations WHERE "
                          f"{' AND '.join(where)} ORDER BY {query.order} LIMIT {query.top} "
                          f"OFFSET {query.skip}", params)
        rows = await cur.fetchall()
    out = [{"@iot.id": r["fid"], "phenomenonTime": _iso(r["observed_at"]),
            "resultTime": _iso(r["observed_at"]), "result": r["value"]} for r in rows]
    return JSONResponse(_page(request, out, query, None))


def _observation(item: Any, stream_id: int | None) -> Reading:
    if not isinstance(item, dict):
        raise BadReading("bad_payload", "an Observation is a JSON object")
    stream = item.get("Datastream") or {}
    sid = stream.get("@iot.id", stream_id) if isinstance(stream, dict) else stream_id
    if not isinstance(sid, int) or isinstance(sid, bool):
        raise BadReading("bad_payload", "the Observation names no Datastream @iot.id")
    return Reading("", "", parse_time(item.get("phenomenonTime", item.get("resultTime"))),
                   parse_value(item.get("result")), None, datastream_id=sid)


def _from_items(items: list, stream_id: int | None, device: str) -> tuple[list[Reading],
                                                                          list[Rejected]]:
    readings, bad = [], []
    for item in items:
        try:
            readings.append(_observation(item, stream_id))
        except BadReading as exc:
            bad.append(Rejected(exc.reason, exc.detail, device))
    return readings, bad


async def post_observations(request: Request) -> JSONResponse:
    """One Observation (201 and its Location), or a JSON array of them."""
    device = await device_of(request)
    body = parse_json(await request.body(), hint="send an Observation or an array of them")
    stream_id = int(request.path_params["id"]) if str(request.path_params.get("id", "")
                                                       ).isdigit() else None
    items = body if isinstance(body, list) else [body]
    readings, bad = _from_items(items, stream_id, device.code)
    result = await ingest(request, readings, bad, device)
    if isinstance(body, dict):
        if result.rejected:
            reason = next(iter(result.rejected))
            raise InvalidInput(f"the Observation was refused: {reason}", where="Observation",
                               hint="see GET /live/rejections for the detail")
        return JSONResponse(result.as_dict(), status_code=201,
                            headers={"Location": _url(request, "/Observations")})
    return JSONResponse(result.as_dict(), status_code=201)


async def create_observations(request: Request) -> JSONResponse:
    """``POST /CreateObservations`` with the dataArray form (components phenomenonTime,
    result; resultTime accepted)."""
    device = await device_of(request)
    body = parse_json(await request.body(), hint="send the dataArray form of SensorThings 1.1")
    if not isinstance(body, list):
        raise InvalidInput("CreateObservations takes a JSON array", where="body",
                           hint='[{"Datastream": {"@iot.id": 1}, "components": '
                                '["phenomenonTime", "result"], "dataArray": [[...]]}]')
    readings: list[Reading] = []
    bad: list[Rejected] = []
    answer: list[str] = []
    for group in body:
        stream = group.get("Datastream", {}) if isinstance(group, dict) else {}
        components = group.get("components") if isinstance(group, dict) else None
        rows = group.get("dataArray") if isinstance(group, dict) else None
        if not isinstance(components, list) or not isinstance(rows, list) \
                or "result" not in components:
            bad.append(Rejected("bad_payload", "a dataArray group needs components (with "
                                "result) and dataArray", device.code))
            continue
        for row in rows:
            item = dict(zip(components, row, strict=False)) if isinstance(row, list) else None
            made, refused = _from_items([{**(item or {}), "Datastream": stream}], None,
                                        device.code)
            readings += made
            bad += refused
            answer.append("ok" if made else "error")
    result = await ingest(request, readings, bad, device)
    return JSONResponse({**result.as_dict(), "value": answer}, status_code=201)


def routes() -> list[BaseRoute]:
    return [
        Route(BASE, root),
        Route(f"{BASE}/Things", things),
        Route(f"{BASE}/Things({{id}})", thing),
        Route(f"{BASE}/Things({{id}})/Datastreams", datastreams),
        Route(f"{BASE}/Datastreams", datastreams),
        Route(f"{BASE}/Datastreams({{id}})", datastream),
        Route(f"{BASE}/Datastreams({{id}})/Observations", observations),
        Route(f"{BASE}/Datastreams({{id}})/Observations", post_observations, methods=["POST"]),
        Route(f"{BASE}/Observations", post_observations, methods=["POST"]),
        Route(f"{BASE}/CreateObservations", create_observations, methods=["POST"]),
    ]

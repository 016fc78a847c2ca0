"""Reading live data over HTTP: latest readings (the iot.latest layer, through the caller's
plan), freshness of every datastream, alerts (and acknowledging one), rejection counters."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import JSONResponse

from iocgis.access import Caller, current_caller
from iocgis.errors import InvalidInput, NotFound
from iocgis.jsonbody import parse_json
from iocgis.layers import Registry
from iocgis.live.access import incidents_plan, readings_plan, require_respond
from iocgis.live.alarms import ALERT_COLUMNS
from iocgis.live.context import live_context
from iocgis.live.jsonable import jsonable
from iocgis.live.silence import FRESHNESS_SQL
from iocgis.security import audit


def _limit(request: Request, default: int = 500, most: int = 10_000) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise InvalidInput(f"limit must be 1..{most}", where="limit", hint=f"e.g. limit={default}")
    return int(raw)


def _commune_filter(communes: tuple[str, ...] | None, column: str = "commune_code",
                    param: str = "communes") -> str:
    return "" if communes is None else f" AND {column} = ANY(%({param})s)"


async def latest_rows(request: Request) -> list[dict[str, Any]]:
    state = request.app.state.iocgis
    plan = readings_plan(current_caller(), state.registry)
    columns = ", ".join(plan.fields)
    statement = (f"SELECT {columns}, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM iot.latest "
                 f"WHERE true{_commune_filter(plan.communes)} ORDER BY station_code, parameter")
    async with state.reader.reading(plan, what="latest readings") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(statement, {"communes": list(plan.communes or ())})
        return [jsonable(r) for r in await cur.fetchall()]


async def latest(request: Request) -> JSONResponse:
    """``GET /live/latest``: the latest reading of every datastream the caller may see."""
    return JSONResponse({"readings": await latest_rows(request)})


def _visible_alerts(caller: Caller, registry: Registry) -> tuple[str, dict[str, Any]]:
    """The rows of live.alerts the caller may see: sensor alerts as the readings (iot.latest's
    plan), overdue-step alerts as the incidents (emergency.incidents's plan)."""
    plan = readings_plan(caller, registry)
    incidents = incidents_plan(caller, registry)
    sensors = "kind <> 'overdue'" + _commune_filter(plan.communes)
    steps = "false" if incidents is None else "kind = 'overdue'" + _commune_filter(
        incidents.communes, "commune_code", "incident_communes")
    return f" AND (({sensors}) OR ({steps}))", {
        "communes": list(plan.communes or ()),
        "incident_communes": list(incidents.communes or ()) if incidents else []}


async def alert_rows(request: Request, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    visible, params = _visible_alerts(current_caller(), request.app.state.iocgis.registry)
    pool = await live_context(request).owner()
    state_filter = " AND state <> 'cleared'" if open_only else ""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT {ALERT_COLUMNS} FROM live.alerts WHERE true{state_filter}"
                          f"{visible} ORDER BY raised_at DESC, id DESC LIMIT %(limit)s",
                          {**params, "limit": limit})
        return [jsonable(r) for r in await cur.fetchall()]


async def alerts(request: Request) -> JSONResponse:
    """``GET /live/alerts?state=open|all``: alerts of the stations the caller may see."""
    state = request.query_params.get("state", "open")
    if state not in ("open", "all"):
        raise InvalidInput("state must be open or all", where="state", hint="state=open")
    return JSONResponse({"alerts": await alert_rows(request, open_only=state == "open",
                                                    limit=_limit(request))})


async def acknowledge(request: Request) -> JSONResponse:
    """``POST /live/alerts/{id}/ack`` (``{"note": "..."}``): raised -> acknowledged, audited."""
    caller = current_caller()
    require_respond(caller, "acknowledging an alert")
    visible, params = _visible_alerts(caller, request.app.state.iocgis.registry)
    raw = await request.body()
    body = parse_json(raw) if raw.strip() else {}
    note = body.get("note") if isinstance(body, dict) else None
    if note is not None and not isinstance(note, str):
        raise InvalidInput("note is text", where="note", hint='{"note": "đã báo đội ứng cứu"}')
    alert_id = request.path_params["id"]
    if not alert_id.isdigit() or len(alert_id) > 18:
        raise NotFound(f"no alert {alert_id[:20]!r}", where="id", hint="list them at /live/alerts")
    pool = await live_context(request).owner()
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT {ALERT_COLUMNS} FROM live.alerts WHERE id = %(id)s"
                          f"{visible}", {**params, "id": alert_id})
        found = await cur.fetchone()
        if found is None:
            raise NotFound(f"no alert {alert_id}", where="id", hint="list them at /live/alerts")
        if found["state"] != "raised":
            raise InvalidInput(f"alert {alert_id} is {found['state']}, not raised",
                               where="state", hint="only a raised alert is acknowledged")
        await cur.execute(
            "UPDATE live.alerts SET state = 'acknowledged', acknowledged_at = now(), "
            "acknowledged_by = %s, note = %s, updated_at = now() WHERE id = %s AND "
            "state = 'raised' RETURNING " + ALERT_COLUMNS, (caller.name, note, alert_id))
        row = await cur.fetchone()
        await audit.record(conn, actor=caller.name, action="live.alert_acknowledged",
                           target=f"alert {alert_id}", layer="iot.latest", client=caller.client,
                           details={"station": found["station_code"],
                                    "parameter": found["parameter"], "level": found["level"],
                                    "note": note})
    return JSONResponse(jsonable(row))


async def freshness(request: Request) -> JSONResponse:
    """``GET /live/freshness``: every datastream's last reading, cadence and freshness."""
    plan = readings_plan(current_caller(), request.app.state.iocgis.registry)
    pool = await live_context(request).owner()
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT d.id AS datastream_id, d.station_code, d.parameter, d.unit, d.cadence_s, "
            "d.last_observed_at, d.last_received_at, d.last_value, d.alarm_level, "
            f"{FRESHNESS_SQL} AS freshness, s.commune_code FROM live.datastreams d LEFT JOIN "
            f"iot.stations s USING (station_code) WHERE true"
            f"{_commune_filter(plan.communes, 's.commune_code')} ORDER BY 2, 3",
            {"silent": live_context(request).live.silent_after_cadences,
             "communes": list(plan.communes or ())})
        return JSONResponse({"datastreams": [jsonable(r) for r in await cur.fetchall()]})


async def rejections(request: Request) -> JSONResponse:
    """``GET /live/rejections?days=7``: refused messages by day, channel, device and reason."""
    raw = request.query_params.get("days", "7")
    if not raw.isdigit() or not 1 <= int(raw) <= 366:
        raise InvalidInput("days must be 1..366", where="days", hint="days=7")
    pool = await live_context(request).owner()
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT day, channel, device_code, reason, count, last_at, last_detail "
                          "FROM live.rejections WHERE day > current_date - %s::int "
                          "ORDER BY day DESC, count DESC", (int(raw),))
        rows = await cur.fetchall()
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["reason"]] = totals.get(r["reason"], 0) + r["count"]
    return JSONResponse({"totals": totals, "rejections": [
        {**jsonable(r), "day": r["day"].isoformat()} for r in rows]})

"""The emergency loop (Điều 18.4): an incident moves reported -> verified -> dispatched to a
unit -> in progress -> resolved -> closed, each step timed, noted, by whom, audited; any other
move is refused. The unit reports back through the same steps (in progress, resolved)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import JSONResponse

from iocgis.access import AccessPlan, current_caller, plan_for
from iocgis.errors import Forbidden, InvalidInput, NotFound
from iocgis.jsonbody import parse_json
from iocgis.live.access import INCIDENTS_LAYER, require_respond
from iocgis.live.context import live_context
from iocgis.live.jsonable import jsonable
from iocgis.live.overdue import clear_overdue
from iocgis.live.readings import nfc
from iocgis.live.workflow import workflow
from iocgis.security import audit

# The statuses, steps and overdue times: live/workflow.yaml (iocgis.live.workflow).
MAX_NOTE = 2000



def _body(raw: bytes) -> tuple[str, str | None, str | None]:
    body = parse_json(raw, hint='send {"to": "xac_minh", "note": "...", "unit": "..."}')
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        raise InvalidInput("the step names the status it goes to", where="to",
                           hint=f'{{"to": one of {sorted(workflow().statuses)}}}')
    note, unit = body.get("note"), body.get("unit")
    for name, value in (("note", note), ("unit", unit)):
        if value is not None and (not isinstance(value, str) or len(value) > MAX_NOTE):
            raise InvalidInput(f"{name} is text of at most {MAX_NOTE} characters", where=name,
                               hint="shorten it")
    return body["to"], note, unit


async def step(request: Request) -> JSONResponse:
    """``POST /live/incidents/{code}/steps`` ``{"to", "note", "unit"}``: one step, or 409."""
    caller = current_caller()
    require_respond(caller, "moving an incident")
    plan = plan_for(caller, INCIDENTS_LAYER, request.app.state.iocgis.registry)
    code = request.path_params["code"]
    to, note, unit = _body(await request.body())
    flow = workflow()
    if to not in flow.statuses:
        raise InvalidInput(f"unknown status {to!r}", where="to",
                           hint=f"use one of {sorted(flow.statuses)}")
    if flow.statuses[to].names_unit and not unit:
        raise InvalidInput("dispatching names the unit sent", where="unit",
                           hint='{"to": "dieu_dong", "unit": "Đội PCCC khu vực Biên Hòa"}')
    pool = await live_context(request).owner()
    async with pool.connection() as conn:
        async with conn.transaction():
            made, refused = await _move(conn, caller.name, code, to, unit, note, plan)
        details = {"to": to, "unit": unit, "note": note}
        if refused is not None:
            await audit.record(conn, actor=caller.name, action="live.incident_step",
                               outcome="denied", target=f"incident {code}",
                               layer=INCIDENTS_LAYER, client=caller.client,
                               details={**details, "from": refused[0]})
            raise IllegalStep(f"incident {code} is {refused[0]}: it cannot go to {to}",
                              where="to", hint=f"from {refused[0]} it may go to "
                              f"{sorted(refused[1]) or 'nothing (closed)'}")
        await audit.record(conn, actor=caller.name, action="live.incident_step",
                           target=f"incident {code}", layer=INCIDENTS_LAYER,
                           client=caller.client, details={**details, "from": made["from_status"]})
    return JSONResponse(jsonable(made), status_code=201)


async def _move(conn: Any, actor: str, code: str, to: str, unit: str | None, note: str | None,
                plan: AccessPlan) -> tuple[dict[str, Any], tuple[str, frozenset[str]] | None]:
    """Inside a transaction: the step made, or (status, allowed steps) when refused; only a
    row the caller's plan allows (its row filter, the registry's ``commune_field``)."""
    communes = plan.communes
    scope = sql.SQL("") if plan.commune_field is None else sql.SQL(
        " AND {} = ANY(%(communes)s)").format(sql.Identifier(plan.commune_field))
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(sql.SQL("SELECT incident_code, status, assigned_unit FROM "
                              "emergency.incidents WHERE incident_code = %(code)s{} FOR UPDATE"
                              ).format(scope),
                      {"code": code, "communes": list(communes or ())})
    found = await cur.fetchone()
    if found is None:
        raise NotFound(f"no incident {code!r}", where="code",
                       hint="list incidents at /collections/emergency.incidents/items")
    allowed = workflow().steps_from(found["status"])
    if to not in allowed:
        return {}, (found["status"], allowed)
    await cur.execute(
        "UPDATE emergency.incidents SET status = %s, status_at = now(), updated_at = now(), "
        "assigned_unit = coalesce(%s, assigned_unit) WHERE incident_code = %s", (to, unit, code))
    await cur.execute(
        "INSERT INTO live.incident_steps (incident_code, from_status, to_status, actor, unit, "
        "note) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, incident_code, from_status, "
        "to_status, at, actor, unit, note",
        (code, found["status"], to, actor, unit or found["assigned_unit"], note))
    made = await cur.fetchone()
    await cur.execute("UPDATE meta.layers SET data_version = data_version + 1 WHERE id = %s",
                      (INCIDENTS_LAYER,))
    made["cleared_alerts"] = await clear_overdue(conn, code, to)
    return made, None


async def show(request: Request) -> JSONResponse:
    """``GET /live/incidents/{code}``: the incident (fields of the caller's plan) and its steps."""
    state = request.app.state.iocgis
    plan = plan_for(current_caller(), INCIDENTS_LAYER, state.registry)
    code = request.path_params["code"]
    scope = "" if plan.communes is None else " AND commune_code = ANY(%(communes)s)"
    async with state.reader.reading(plan, what="incident") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(f"SELECT {', '.join(plan.fields)} FROM emergency.incidents WHERE "
                          f"incident_code = %(code)s{scope}",
                          {"code": code, "communes": list(plan.communes or ())})
        incident = await cur.fetchone()
    if incident is None:
        raise NotFound(f"no incident {code!r}", where="code",
                       hint="list incidents at /collections/emergency.incidents/items")
    pool = await live_context(request).owner()
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT from_status, to_status, at, actor, unit, note FROM "
                          "live.incident_steps WHERE incident_code = %s ORDER BY at, id", (code,))
        steps = [jsonable(r) for r in await cur.fetchall()]
    return JSONResponse({"incident": jsonable(incident), "steps": steps,
                         "next": sorted(workflow().steps_from(incident["status"]))})


class IllegalStep(InvalidInput):
    """A move the workflow does not allow from the incident's status."""

    http_status = 409
    code = "IllegalTransition"


MAX_TITLE = 300


def _kinds(plan: AccessPlan) -> tuple[str, ...]:
    domain = plan.layer.field("kind").domain
    return tuple(c.code for c in domain) if isinstance(domain, tuple) else ()


def _number(body: dict[str, Any], name: str, low: float, high: float, *,
            whole: bool = False, required: bool = False) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    wrong = (isinstance(value, bool) or not isinstance(value, (int, float))
             or (whole and not isinstance(value, int)) or not low <= value <= high)
    if wrong:
        raise InvalidInput(f"{name} is a {'whole ' if whole else ''}number from {low:g} to "
                           f"{high:g}", where=name, hint=f'e.g. "{name}": {low + 1:g}')
    return value


def _new_incident(raw: bytes, plan: AccessPlan) -> dict[str, Any]:
    """The fields of a new incident from its JSON body, each checked (what, where, hint)."""
    body = parse_json(raw, hint='send {"kind": "chay", "title": "...", "lon": 106.8, '
                                '"lat": 10.95}')
    if not isinstance(body, dict):
        raise InvalidInput("an incident is a JSON object", where="body",
                           hint='{"kind": "chay", "title": "...", "lon": 106.8, "lat": 10.95}')
    kinds = _kinds(plan)
    kind = body.get("kind")
    if kind not in kinds:
        raise InvalidInput(f"unknown incident kind {kind!r}", where="kind",
                           hint=f"use one of {list(kinds)}")
    title = body.get("title")
    if not isinstance(title, str) or not nfc(title) or len(title) > MAX_TITLE:
        raise InvalidInput(f"title is text of 1 to {MAX_TITLE} characters", where="title",
                           hint='"title": "Cháy kho hàng đường Đồng Khởi"')
    phone = body.get("reporter_phone")
    if phone is not None and (not isinstance(phone, str) or len(phone) > 32):
        raise InvalidInput("reporter_phone is text of at most 32 characters",
                           where="reporter_phone", hint='"reporter_phone": "0912345678"')
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise InvalidInput(f"note is text of at most {MAX_NOTE} characters", where="note",
                           hint="shorten it")
    return {"kind": kind, "title": nfc(title),
            "lon": _number(body, "lon", -180, 180, required=True),
            "lat": _number(body, "lat", -90, 90, required=True),
            "severity": _number(body, "severity", 1, 5, whole=True),
            "casualties": _number(body, "casualties", 0, 100_000, whole=True),
            "reporter_phone": nfc(phone) if phone else None,
            "note": nfc(note) if note else None}


CREATE = """
WITH here AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS geom),
commune AS (SELECT c.code FROM admin.communes c, here WHERE ST_Covers(c.geom, here.geom)
            ORDER BY c.code LIMIT 1)
INSERT INTO emergency.incidents (incident_code, kind, title, status, severity, reported_at,
                                 commune_code, casualties, reporter_phone, status_at, geom)
SELECT %(code)s, %(kind)s, %(title)s, %(status)s, %(severity)s, now(), commune.code,
       %(casualties)s, %(reporter_phone)s, now(), here.geom
FROM here LEFT JOIN commune ON true
RETURNING incident_code, commune_code, reported_at
"""


async def create(request: Request) -> JSONResponse:
    """``POST /live/incidents`` ``{"kind", "title", "lon", "lat", "severity", "casualties",
    "reporter_phone", "note"}``: a reported incident in the commune its location falls in
    (one the caller acts for), its first step, audited; 201 with the incident."""
    caller = current_caller()
    require_respond(caller, "reporting an incident")
    state = request.app.state.iocgis
    plan = plan_for(caller, INCIDENTS_LAYER, state.registry)
    new = _new_incident(await request.body(), plan)
    status = workflow().first
    code = f"SC-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3).upper()}"
    pool = await live_context(request).owner()
    async with pool.connection() as conn:
        async with conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(CREATE, {**new, "code": code, "status": status})
            made = await cur.fetchone()
            commune = made["commune_code"]
            if commune is None or (plan.communes is not None and commune not in plan.communes):
                # (rolled back with the transaction: nothing is written)
                raise (InvalidInput(f"the location {new['lon']}, {new['lat']} is in no commune "
                                    "of the province", where="lon, lat",
                                    hint="check the coordinates (WGS 84 longitude, latitude)")
                       if commune is None else
                       Forbidden(f"the location is in commune {commune}, which you do not act "
                                 "for", where="lon, lat",
                                 hint=f"your communes: {sorted(plan.communes or ())}"))
            await cur.execute(
                "INSERT INTO live.incident_steps (incident_code, from_status, to_status, actor, "
                "note) VALUES (%s, NULL, %s, %s, %s)", (code, status, caller.name, new["note"]))
            await cur.execute("UPDATE meta.layers SET data_version = data_version + 1 "
                              "WHERE id = %s", (INCIDENTS_LAYER,))
        await audit.record(conn, actor=caller.name, action="live.incident_created",
                           target=f"incident {code}", layer=INCIDENTS_LAYER, client=caller.client,
                           details={"kind": new["kind"], "commune": commune,
                                    "severity": new["severity"]})
    async with state.reader.reading(plan, what="incident") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(sql.SQL("SELECT {} FROM emergency.incidents WHERE incident_code = "
                                  "%(code)s").format(sql.SQL(", ").join(
                                      sql.Identifier(f) for f in plan.fields)), {"code": code})
        incident = await cur.fetchone()
    return JSONResponse({"incident": jsonable(incident or {}),
                         "next": sorted(workflow().steps_from(status))}, status_code=201,
                        headers={"Location": f"/live/incidents/{code}"})

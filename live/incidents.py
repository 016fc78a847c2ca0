"""The emergency loop (Điều 18.4): an incident moves reported -> verified -> dispatched to a
unit -> in progress -> resolved -> closed, each step timed, noted, by whom, audited; any other
move is refused. The unit reports back through the same steps (in progress, resolved)."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import JSONResponse

from iocgis.access import AccessPlan, current_caller, plan_for
from iocgis.errors import InvalidInput, NotFound
from iocgis.jsonbody import parse_json
from iocgis.live.access import INCIDENTS_LAYER, require_respond
from iocgis.live.context import live_context
from iocgis.live.jsonable import jsonable
from iocgis.security import audit

# status code (layers/emergency.yaml) -> the steps allowed from it
TRANSITIONS: dict[str, frozenset[str]] = {
    "moi": frozenset({"xac_minh", "dong"}),  # reported: verified, or closed as false alarm
    "xac_minh": frozenset({"dieu_dong", "dong"}),  # verified: a unit dispatched
    "dieu_dong": frozenset({"dang_xu_ly"}),  # dispatched: the unit on site reports
    "dang_xu_ly": frozenset({"da_xu_ly"}),  # in progress: resolved
    "da_xu_ly": frozenset({"dong", "dang_xu_ly"}),  # resolved: closed, or work resumes
    "dong": frozenset(),
}
NEEDS_UNIT = frozenset({"dieu_dong"})
MAX_NOTE = 2000



def _body(raw: bytes) -> tuple[str, str | None, str | None]:
    body = parse_json(raw, hint='send {"to": "xac_minh", "note": "...", "unit": "..."}')
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        raise InvalidInput("the step names the status it goes to", where="to",
                           hint=f'{{"to": one of {sorted(TRANSITIONS)}}}')
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
    if to not in TRANSITIONS:
        raise InvalidInput(f"unknown status {to!r}", where="to",
                           hint=f"use one of {sorted(TRANSITIONS)}")
    if to in NEEDS_UNIT and not unit:
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
    allowed = TRANSITIONS.get(found["status"], frozenset())
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
                         "next": sorted(TRANSITIONS.get(incident["status"], ()))})


class IllegalStep(InvalidInput):
    """A move the workflow does not allow from the incident's status."""

    http_status = 409
    code = "IllegalTransition"

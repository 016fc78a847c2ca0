"""HTTP for the officers: a unit's queue, a report's file, its transitions and moderation, the
reporter's identity (personal-data right, purpose, audited), overdue alerts.

Who may see a report is decided by the registry's layer ``citizen.reports`` (internal,
commune-scoped): its access plan reads the row under the caller's PostgreSQL role and communes,
and only a report found that way is opened in the case file. Acting on a report needs one of
workflow.yaml's ``handler_roles``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iocgis.access import Caller, current_caller, note, plan_for
from iocgis.api.kit.responses import UnicodeJSON
from iocgis.citizen import identity, sla
from iocgis.citizen.context import CitizenContext
from iocgis.citizen.definitions import REPORTS_LAYER
from iocgis.citizen.routing import unit_by_code
from iocgis.citizen.workflow import Actor, Step, apply, clean_text, history
from iocgis.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from iocgis.jsonbody import parse_json
from iocgis.security import audit

QUEUE = """
SELECT report_code, category, status, unit_code, assigned_unit, commune_code, reported_at,
       due_at, answered_at, escalation_level, content, ST_X(geom) AS lon, ST_Y(geom) AS lat
FROM citizen.reports
WHERE (%(unit)s::text IS NULL OR unit_code = %(unit)s)
  AND (%(status)s::text[] IS NULL OR status = ANY(%(status)s))
  AND (%(communes)s::text[] IS NULL OR commune_code = ANY(%(communes)s))
  AND (NOT %(overdue)s OR (status = ANY(%(open)s) AND due_at < now()))
ORDER BY due_at NULLS LAST, report_code
LIMIT %(limit)s
"""
VISIBLE = "SELECT report_code FROM citizen.reports WHERE report_code = %s"


def _json(body: Any, status: int = 200) -> Response:
    return UnicodeJSON(body, status_code=status, headers={"Cache-Control": "no-store"})


def _iso(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _require_account(caller: Caller) -> None:
    if caller.is_anonymous:
        raise Unauthorized("this needs a signed-in account", where="Authorization",
                           hint="sign in (POST /auth/token) or send an X-API-Key")


def _require_handler(context: CitizenContext, caller: Caller) -> None:
    _require_account(caller)
    if not set(caller.roles) & set(context.process.workflow.handler_roles):
        raise Forbidden("handling citizen reports needs a handler role", where=caller.name,
                        hint="roles: " + ", ".join(context.process.workflow.handler_roles))


async def _visible_case(context: CitizenContext, caller: Caller, code: str) -> int:
    """The case id of a report the caller may see (its row of citizen.reports under the
    caller's plan), else NotFound - the same answer as for a code that does not exist."""
    plan = plan_for(caller, REPORTS_LAYER, context.registry).with_fields(["report_code"])
    async with context.reader.reading(plan, what="report lookup") as conn:
        found = await (await conn.execute(VISIBLE, (code[:40],))).fetchone()
    if found is None:
        raise NotFound(f"unknown report {code[:40]!r}", where="code")
    async with context.pool.connection() as conn:
        row = await (await conn.execute("SELECT id FROM citizen_private.cases "
                                        "WHERE report_code = %s", (code,))).fetchone()
    if row is None:  # imported, never through the intake: no case file to act on
        raise NotFound(f"report {code!r} has no case file (it was imported)", where="code",
                       hint="`iocgis citizen seal-imported` opens case files for imports")
    return row[0]


def _list(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


async def queue(request: Request) -> Response:
    """A unit's reports (``?unit=ubnd_26041``), most urgent first."""
    context = CitizenContext.of(request)
    caller = current_caller()
    plan = plan_for(caller, REPORTS_LAYER, context.registry)
    q = request.query_params
    try:
        limit = max(1, min(1000, int(q.get("limit", "200"))))
    except ValueError:
        raise InvalidInput("limit must be a whole number", where="limit") from None
    params = {"unit": q.get("unit"), "status": _list(q.get("status")),
              "communes": list(plan.communes) if plan.communes is not None else None,
              "overdue": q.get("overdue") in ("1", "true"), "limit": limit,
              "open": list(context.process.workflow.open_statuses)}
    async with context.reader.reading(plan.with_fields([f for f in plan.fields if f not in
                                                        plan.layer.pii_fields]),
                                      what="report queue") as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(QUEUE, params)
        rows = [_iso(r) for r in await cur.fetchall()]
    return _json({"unit": params["unit"], "count": len(rows), "reports": rows})


async def case_file(request: Request) -> Response:
    """One report: where, what, its steps and photos (with the location their EXIF held)."""
    context = CitizenContext.of(request)
    caller = current_caller()
    case_id = await _visible_case(context, caller, request.path_params["code"])
    async with context.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT report_code, category, content, content_enc, summary, answer, status, "
            "unit_code, "
            "unit_name, commune_code, ST_X(geom) AS lon, ST_Y(geom) AS lat, "
            "ST_X(public_geom) AS public_lon, ST_Y(public_geom) AS public_lat, "
            "location_precision, location_source, address, channel, client_account, "
            "reported_at, due_at, answered_at, closed_at, rating, escalation_level, "
            "reporter_pseudonym, published, "
            "EXISTS (SELECT 1 FROM citizen_private.identities i WHERE i.case_id = c.id) "
            "AS has_identity FROM citizen_private.cases c WHERE id = %s", (case_id,))
        case = _iso(await cur.fetchone())
        original = case.pop("content_enc")
        if original and caller.sees_pii:  # the text as sent names people: the right, audited
            case["content_as_sent"] = context.keyring.decrypt(original)
            note("pii", REPORTS_LAYER)
        case["history"] = [_iso(h) for h in await history(conn, case_id)]
        await cur.execute("SELECT public_id, width, height, bytes_sent, published, exif_lon, "
                          "exif_lat, exif_taken_at FROM citizen_private.photos "
                          "WHERE case_id = %s ORDER BY id", (case_id,))
        case["photos"] = await cur.fetchall()
    case["allowed_steps"] = list(context.process.workflow.targets(case["status"]))
    return _json(case)


async def reporter_identity(request: Request) -> Response:
    """The reporter's name, phone and e-mail: the personal-data right and a purpose."""
    context = CitizenContext.of(request)
    caller = current_caller()
    _require_account(caller)
    if not caller.sees_pii:
        raise Forbidden("the reporter's identity needs the personal-data right",
                        where=caller.name, hint="ask an administrator for the PII right "
                        "(administrators: a session opened with TOTP)")
    purpose = clean_text(request.query_params.get("purpose"), "purpose", limit=300) or ""
    minimum = context.process.privacy.identity_read.get("min_purpose_chars", 10)
    if len(purpose) < minimum:
        raise InvalidInput("say why you read the reporter's identity", where="purpose",
                           hint=f"at least {minimum} characters; it is kept in the audit trail")
    code = request.path_params["code"]
    case_id = await _visible_case(context, caller, code)
    note("pii", REPORTS_LAYER)
    async with context.pool.connection() as conn:
        body = await identity.read(conn, context.keyring, case_id, code, caller.name,
                                   caller.client, purpose)
    return _json(body)


async def transition(request: Request) -> Response:
    """``{"to": status, "note", "unit", "answer", "reason"}``: one step of the process."""
    context = CitizenContext.of(request)
    caller = current_caller()
    _require_handler(context, caller)
    body = parse_json(await request.body())
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        raise InvalidInput("send a JSON object with the target status in 'to'", where="to",
                           hint='e.g. {"to": "dang_xu_ly", "note": "..."}')
    case_id = await _visible_case(context, caller, request.path_params["code"])
    unit = None
    if body.get("unit"):
        unit = await unit_by_code(context.process, context.reader, context.registry,
                                  str(body["unit"]))
    step = Step(to=body["to"], note=clean_text(body.get("note"), "note"), unit=unit,
                answer=clean_text(body.get("answer"), "answer"),
                reason=clean_text(body.get("reason"), "reason"))
    actor = Actor(name=caller.name, kind="handler", client=caller.client)
    async with context.pool.connection() as conn, conn.transaction():
        after = await apply(conn, context.process, case_id, step, actor)
    return _json({"report_code": after["report_code"], "status": after["status"],
                  "unit_code": after["unit_code"],
                  "allowed_steps": list(context.process.workflow.targets(after["status"]))})


async def moderation(request: Request) -> Response:
    """``{"summary": text, "photos": {public_id: true|false}, "published": bool}``: what the
    public sees of a report (its text and photos only once a handler approved them)."""
    context = CitizenContext.of(request)
    caller = current_caller()
    _require_handler(context, caller)
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object", where="body")
    code = request.path_params["code"]
    case_id = await _visible_case(context, caller, code)
    photos = body.get("photos") or {}
    if not isinstance(photos, dict):
        raise InvalidInput("photos must map photo ids to true or false", where="photos")
    async with context.pool.connection() as conn, conn.transaction():
        for public_id, shown in photos.items():
            await conn.execute("UPDATE citizen_private.photos SET published = %s "
                               "WHERE case_id = %s AND public_id = %s",
                               (bool(shown), case_id, str(public_id)))
        sets, params = ["updated_at = now()"], []
        if "summary" in body:
            sets.append("summary = %s")
            params.append(clean_text(body.get("summary"), "summary"))
        if "published" in body:
            sets.append("published = %s")
            params.append(bool(body["published"]))
        await conn.execute(f"UPDATE citizen_private.cases SET {', '.join(sets)} WHERE id = %s",
                           (*params, case_id))
        await audit.record(conn, actor=caller.name, action="citizen.moderation", target=code,
                           layer="citizen.reports", client=caller.client,
                           details={"summary": "summary" in body, "photos": photos,
                                    "published": body.get("published")})
    return _json({"report_code": code, "moderated": True})


async def alerts(request: Request) -> Response:
    """Open overdue and escalation alerts, per unit (``?unit=``)."""
    context = CitizenContext.of(request)
    caller = current_caller()
    plan = plan_for(caller, REPORTS_LAYER, context.registry)  # who may see reports at all
    async with context.pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(sla.OPEN_ALERTS, {
            "unit": request.query_params.get("unit"),
            "communes": list(plan.communes) if plan.communes is not None else None})
        rows = [_iso(r) for r in await cur.fetchall()]
    return _json({"count": len(rows), "alerts": rows})


async def sla_check(request: Request) -> Response:
    context = CitizenContext.of(request)
    caller = current_caller()
    _require_handler(context, caller)
    async with context.pool.connection() as conn, conn.transaction():
        raised = await sla.scan(conn, context.process, context.calendar,
                                datetime.now(UTC), actor=caller.name)
    return _json({"raised": [a.__dict__ for a in raised]})


def routes() -> list[BaseRoute]:
    return [
        Route("/citizen/queue", queue, methods=["GET"]),
        Route("/citizen/alerts", alerts, methods=["GET"]),
        Route("/citizen/sla/check", sla_check, methods=["POST"]),
        Route("/citizen/cases/{code}", case_file, methods=["GET"]),
        Route("/citizen/cases/{code}/identity", reporter_identity, methods=["GET"]),
        Route("/citizen/cases/{code}/transitions", transition, methods=["POST"]),
        Route("/citizen/cases/{code}/moderation", moderation, methods=["POST"]),
    ]

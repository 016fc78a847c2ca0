"""Dossiers over HTTP: list, read, create, set the decision, move the status.

Reads follow ``rules`` (a draft is internal: an anonymous caller gets 404 for it, as for a
dossier that does not exist); changes need the import right (``rules.require_editor``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from iocgis.access import current_caller
from iocgis.api.query.params import Params
from iocgis.api.query.render import dumps, json_response
from iocgis.errors import InvalidInput, NotFound
from iocgis.jsonbody import parse_json
from iocgis.planning_docs import records, rules, workflow
from iocgis.planning_docs.views import dossier_view, summary_view


def dossier_id_of(request: Request) -> int:
    raw = request.path_params["id"]
    if not str(raw).isdigit() or len(str(raw)) > 18:
        raise NotFound(f"no planning dossier {str(raw)[:30]!r}", where="id",
                       hint="list the dossiers at /planning/dossiers")
    return int(raw)


async def body_of(request: Request) -> dict[str, Any]:
    body = parse_json(await request.body(), hint="send a JSON object (application/json)")
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object", where="body",
                           hint='e.g. {"project_code": "QHCT-26041-01"}')
    return body


async def readable_dossier(request: Request, dossier_id: int) -> Response:
    caller = current_caller()
    async with request.app.state.iocgis.pool.connection() as conn:
        row = await records.dossier(conn, dossier_id)
        if row is None or not rules.may_read_dossier(caller, row["status"]):
            raise NotFound(f"no planning dossier {dossier_id}", where="id",
                           hint="list the dossiers at /planning/dossiers")
        return json_response(dumps(await dossier_view(conn, caller, row)))


async def list_dossiers(request: Request) -> Response:
    params = Params(request.query_params, ("status", "kind", "limit", "offset"))
    caller = current_caller()
    status = params.text("status")
    if status is not None and status not in rules.STATUSES:
        raise InvalidInput(f"unknown status {status[:30]!r}", where="status",
                           hint=f"one of: {', '.join(rules.STATUSES)}")
    limit = params.integer("limit", default=100, low=1, high=1000)
    offset = params.integer("offset", default=0, low=0, high=1_000_000)
    async with request.app.state.iocgis.pool.connection() as conn:
        rows = await records.dossiers(conn, rules.visible_statuses(caller), status=status,
                                      kind=params.text("kind"), limit=limit, offset=offset)
    return json_response(dumps({"numberReturned": len(rows),
                                "dossiers": [summary_view(caller, r) for r in rows]}))


async def get_dossier(request: Request) -> Response:
    return await readable_dossier(request, dossier_id_of(request))


async def create_dossier(request: Request) -> Response:
    caller = current_caller()
    rules.require_editor(caller)
    change = workflow.Change(request.app.state.iocgis, caller)
    dossier_id = await workflow.create(change, await body_of(request))
    response = await readable_dossier(request, dossier_id)
    response.status_code = 201
    response.headers["Location"] = f"/planning/dossiers/{dossier_id}"
    return response


async def _change(request: Request, step: Callable[..., Awaitable[None]]) -> Response:
    """One change of an existing dossier (a workflow step taking the JSON body), then the
    dossier as it is now."""
    caller = current_caller()
    rules.require_editor(caller)
    dossier_id = dossier_id_of(request)
    await step(workflow.Change(request.app.state.iocgis, caller), dossier_id,
               await body_of(request))
    return await readable_dossier(request, dossier_id)


async def set_decision(request: Request) -> Response:
    return await _change(request, workflow.decide)


async def set_status(request: Request) -> Response:
    return await _change(request, workflow.change_status)

"""HTTP for imports under review: the list (``GET /imports?status=pending``), the diff
(``GET /imports/{id}/diff``), the map preview of the staged rows through the tile SQL
(``GET /imports/{id}/tiles/{z}/{x}/{y}.mvt``), the decision (``POST /imports/{id}/approve``,
``POST /imports/{id}/reject`` with a reason) and the review page (``/imports/review``).

Only the import's submitter and those who may decide on its group see it (anyone else gets
the 404 of a missing import), through their access plan: its fields (personal data only with
that right) and its communes. Staging and diff tables are not layer tables: they are read
with the platform's own connection (like the import jobs), never the serving role's.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iocgis.access import AccessPlan, Caller, current_caller, note_read, plan_for, require_right
from iocgis.api.kit.pages import html_page, page_file
from iocgis.errors import InvalidInput, NotFound, Unauthorized
from iocgis.importers import review
from iocgis.importers.staging import staging_ident
from iocgis.layers import LayerDef
from iocgis.layers.model import TileSpec

WEB_DIR = Path(__file__).resolve().parent / "web"
ASSETS = {"review.js": "text/javascript", "review.css": "text/css"}
STATUSES = ("pending", "approved", "rejected", "withdrawn", "expired", "all")
MVT_TYPE = "application/vnd.mapbox-vector-tile"


class JSON(Response):
    media_type = "application/json"

    def __init__(self, content: Any, status_code: int = 200) -> None:
        super().__init__(json.dumps(content, ensure_ascii=False, default=str).encode("utf-8"),
                         status_code=status_code, headers={"Cache-Control": "private, no-store"})


def authorise(caller: Caller) -> None:
    """Reviews are for signed-in callers who import or approve."""
    if caller.is_anonymous:
        raise Unauthorized("reviewing imports needs a signed-in account", where="Authorization",
                           hint="sign in (POST /auth/token) or send an API key")
    if not (caller.may("import") or caller.may("approve")):
        require_right(caller, "approve")


def _connect(request: Request) -> psycopg.Connection:
    return psycopg.connect(request.app.state.iocgis.database_url, autocommit=True)


def _missing(import_id: str) -> NotFound:
    return NotFound(f"no import {import_id[:40]!r} under review", where="id",
                    hint="list the imports you may review at GET /imports?status=pending")


def _import_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not raw.isdigit() or len(raw) > 18:
        raise _missing(raw)
    return int(raw)


def _visible(conn: psycopg.Connection, request: Request, caller: Caller,
             import_id: int) -> tuple[dict[str, Any], AccessPlan, review.Reviewer]:
    """The review, the caller's plan of its layer and the caller as a reviewer; the 404 of a
    missing import when the caller may not see it."""
    try:
        found = review.get(conn, import_id)
    except NotFound:
        raise _missing(str(import_id)) from None
    reviewer = review.reviewer_for(conn, caller)
    registry = request.app.state.iocgis.registry
    if not review.may_see(found, reviewer) or found["layer_id"] not in registry:
        raise _missing(str(import_id))
    try:
        plan = plan_for(caller, found["layer_id"], registry)
    except NotFound:
        raise _missing(str(import_id)) from None
    return found, plan, reviewer


def _columns(plan: AccessPlan) -> tuple[str, ...]:
    """What a reader of the plan sees of a row: its fields, and ``extra`` unless the layer has
    personal data the reader may not see (source leftovers may be personal too)."""
    return plan.fields + (("extra",) if plan.reads_extra else ())


def _entry(found: dict[str, Any], reviewer: review.Reviewer) -> dict[str, Any]:
    body = review.summary(found)
    body["findings"] = found["report"].get("findings", [])
    body["may_decide"] = (found["status"] == "pending" and reviewer.may_decide(found["group_name"])
                          and found["submitted_by"] != reviewer.name)
    body["may_withdraw"] = found["status"] == "pending" and found["submitted_by"] == reviewer.name
    return body


async def _in_thread(request: Request, work: Any) -> Any:
    def run() -> Any:
        with _connect(request) as conn:
            return work(conn)

    return await asyncio.to_thread(run)


async def list_imports(request: Request) -> Response:
    caller = current_caller()
    authorise(caller)
    status = request.query_params.get("status", "pending")
    if status not in STATUSES:
        raise InvalidInput(f"unknown status {status[:40]!r}", where="status",
                           hint=f"one of {', '.join(STATUSES)}")
    layer = request.query_params.get("layer")
    registry = request.app.state.iocgis.registry

    def work(conn: psycopg.Connection) -> list[dict[str, Any]]:
        reviewer = review.reviewer_for(conn, caller)
        out = []
        for found in review.listing(conn, None if status == "all" else status, layer):
            if not review.may_see(found, reviewer) or found["layer_id"] not in registry:
                continue
            try:
                plan_for(caller, found["layer_id"], registry)
            except NotFound:
                continue
            out.append(_entry(found, reviewer))
        return out

    return JSON({"imports": await _in_thread(request, work)})


async def show_diff(request: Request) -> Response:
    caller = current_caller()
    authorise(caller)
    import_id = _import_id(request)
    change = request.query_params.get("change", "changed")
    try:
        offset = int(request.query_params.get("offset", "0"))
        limit = int(request.query_params.get("limit", "50"))
    except ValueError:
        raise InvalidInput("offset and limit are whole numbers", where="limit") from None

    def work(conn: psycopg.Connection) -> dict[str, Any]:
        found, plan, reviewer = _visible(conn, request, caller, import_id)
        body = _entry(found, reviewer)
        if found["status"] == "pending":
            body["changes"] = review.changes(conn, plan.layer, import_id, change,
                                             columns=_columns(plan), communes=plan.communes,
                                             offset=offset, limit=limit)
            note_read(plan)
        return body

    return JSON(await _in_thread(request, work))


def _preview_layer(layer: LayerDef) -> LayerDef:
    """The layer as the preview draws it: its own tile settings, or plain ones from zoom 0."""
    return layer if layer.tiles else layer.model_copy(update={"tiles": TileSpec(minzoom=0)})


async def preview_tile(request: Request) -> Response:
    from iocgis.tiles.grid import parse_address
    from iocgis.tiles.sql import build_statement

    caller = current_caller()
    authorise(caller)
    import_id = _import_id(request)
    p = request.path_params
    address = parse_address(p["z"], p["x"], p["y"])
    simplify_px = request.app.state.iocgis.settings.tiles.simplify_px  # the app's, as tiles use

    def work(conn: psycopg.Connection) -> bytes:
        found, plan, _ = _visible(conn, request, caller, import_id)
        if found["status"] != "pending" or not plan.layer.is_spatial:
            return b""
        layer = _preview_layer(plan.layer)
        scoped = plan.communes is not None and layer.commune_field is not None
        statement = build_statement((layer,), address.z, scoped=scoped,
                                    tables={layer.id: staging_ident(import_id)})
        params = statement.params_for(address, simplify_px,
                                      communes=plan.communes if scoped else None)
        row = conn.execute(statement.text, params, binary=True).fetchone()
        note_read(plan.with_fields(()))
        return b"".join(bytes(row[2 * i] or b"") for i in range(len(statement.parts))) \
            if row else b""

    raw = await _in_thread(request, work)
    if not raw:
        return Response(status_code=204, headers={"Cache-Control": "private, no-store"})
    return Response(gzip.compress(raw, compresslevel=5, mtime=0), media_type=MVT_TYPE,
                    headers={"Content-Encoding": "gzip", "Cache-Control": "private, no-store"})


async def _reason(request: Request) -> str:
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        from iocgis.jsonbody import parse_json

        raw = await request.body()
        body = parse_json(raw, hint='send {"reason": "..."}') if raw else {}
        reason = body.get("reason") if isinstance(body, dict) else None
    else:
        async with request.form(max_files=0, max_fields=4) as form:
            reason = form.get("reason")
    return str(reason or "")


async def approve(request: Request) -> Response:
    return await _decide(request, "approve")


async def reject(request: Request) -> Response:
    return await _decide(request, "reject")


async def _decide(request: Request, action: str) -> Response:
    caller = current_caller()
    authorise(caller)
    import_id = _import_id(request)
    reason = await _reason(request) if action == "reject" else ""
    registry = request.app.state.iocgis.registry

    def work(conn: psycopg.Connection) -> dict[str, Any]:
        _, _, reviewer = _visible(conn, request, caller, import_id)
        if action == "approve":
            return review.approve(conn, registry, import_id, reviewer)
        return review.reject(conn, registry, import_id, reviewer, reason)

    return JSON(await _in_thread(request, work))


async def page(request: Request) -> Response:
    return html_page(WEB_DIR / "review.html")  # a map page (MapLibre from /map/assets)


async def asset(request: Request) -> Response:
    return page_file(request, WEB_DIR, ASSETS, "review asset")


def routes() -> list[BaseRoute]:
    """Before ``/imports/{id}``: ``review`` is a page, not an import id."""
    return [
        Route("/imports/review", page, methods=["GET"]),
        Route("/imports/review/assets/{file}", asset, methods=["GET"]),
        Route("/imports", list_imports, methods=["GET"]),
        Route("/imports/{id}/diff", show_diff, methods=["GET"]),
        Route("/imports/{id}/tiles/{z}/{x}/{y}.mvt", preview_tile, methods=["GET"]),
        Route("/imports/{id}/approve", approve, methods=["POST"]),
        Route("/imports/{id}/reject", reject, methods=["POST"]),
    ]

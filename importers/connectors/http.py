"""HTTP for the sources: ``GET /sources`` (JSON), ``GET /sources/{id}`` (state, recent runs),
``POST /sources/{id}/run`` (run now, in the background: 202) and the page ``/sources/overview``.

Reading needs a signed-in caller with the import or approve right, and shows only sources of
layers the caller's access plan lets them see (no row of any layer is returned); running one
needs an admin or a data steward of the layer's group (importers/review.py decides who).
The sources' state is the platform's own bookkeeping: read with its connection, like reviews.
"""

from __future__ import annotations

import asyncio
import html
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from iocgis.access import Caller, current_caller, plan_for, require_right
from iocgis.errors import Forbidden, NotFound, Unauthorized
from iocgis.importers import review
from iocgis.importers.connectors import status
from iocgis.importers.connectors.run import Connectors, run_source

PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
            "base-uri 'none'; form-action 'none'")
_RUNS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iocgis-source")


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"),
                    status_code=status_code, media_type="application/json",
                    headers={"Cache-Control": "private, no-store"})


def authorise(caller: Caller) -> None:
    if caller.is_anonymous:
        raise Unauthorized("the sources need a signed-in account", where="Authorization",
                           hint="sign in (POST /auth/token) or send an API key")
    if not (caller.may("import") or caller.may("approve")):
        require_right(caller, "approve")


def _connectors(request: Request) -> Connectors:
    state = request.app.state.iocgis
    found = getattr(request.app.state, "connectors", None)
    if found is None:
        found = Connectors.load(state.settings, state.registry, state.database_url)
        request.app.state.connectors = found
    return found


def _visible(caller: Caller, connectors: Connectors, layer_id: str) -> bool:
    try:
        plan_for(caller, layer_id, connectors.registry)
    except NotFound:
        return False
    return True


def _missing(source_id: str) -> NotFound:
    return NotFound(f"no source {source_id[:60]!r}", where="id",
                    hint="list the sources you may see at GET /sources")


async def _in_thread(connectors: Connectors, work: Any) -> Any:
    def run() -> Any:
        with psycopg.connect(connectors.url, autocommit=True) as conn:
            return work(conn)

    return await asyncio.to_thread(run)


async def _listing(request: Request) -> list[dict[str, Any]]:
    caller = current_caller()
    authorise(caller)
    connectors = _connectors(request)
    rows = await _in_thread(connectors, lambda conn: status.listing(conn, connectors))
    return [r for r in rows if _visible(caller, connectors, r["layer"])]


async def list_sources(request: Request) -> Response:
    return _json({"sources": await _listing(request)})


async def show_source(request: Request) -> Response:
    caller = current_caller()
    authorise(caller)
    connectors = _connectors(request)
    source_id = request.path_params["id"]
    source = connectors.sources.get(source_id)
    if source is None or not _visible(caller, connectors, source.layer):
        raise _missing(source_id)

    def work(conn: psycopg.Connection) -> dict[str, Any]:
        row = next(r for r in status.listing(conn, connectors) if r["id"] == source_id)
        return {**row, "runs": status.runs(conn, source_id, 20)}

    return _json(await _in_thread(connectors, work))


async def start_run(request: Request) -> Response:
    caller = current_caller()
    if caller.is_anonymous:
        raise Unauthorized("running a source needs a signed-in account", where="Authorization",
                           hint="sign in as an admin or a data steward")
    require_right(caller, "approve")
    connectors = _connectors(request)
    source_id = request.path_params["id"]
    source = connectors.sources.get(source_id)
    if source is None or not _visible(caller, connectors, source.layer):
        raise _missing(source_id)
    group = connectors.registry.get(source.layer).group

    def may_run(conn: psycopg.Connection) -> bool:
        return review.reviewer_for(conn, caller).may_decide(group)

    if not await _in_thread(connectors, may_run):
        raise Forbidden(f"only an admin or a data steward of {group} runs {source_id}",
                        where="id", hint="ask a steward of the group")
    _RUNS.submit(run_source, connectors, source_id, trigger="http", user=caller.name)
    return _json({"source": source_id, "status": "queued",
                  "poll": f"/sources/{source_id}"}, 202)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if hasattr(value, "strftime"):
        return html.escape(f"{value:%Y-%m-%d %H:%M}")
    return html.escape(str(value))


async def page(request: Request) -> Response:
    """Every source the caller may see, one row each (server-rendered: no script)."""
    rows = await _listing(request)
    head = ("Nguồn / source", "Lớp / layer", "Loại / kind", "Lịch / schedule",
            "Thành công gần nhất / last success", "Thay đổi gần nhất / last change",
            "Lần chạy tới / next run", "Lỗi liên tiếp / failures", "Cảnh báo / alert")
    body = "".join(
        "<tr{}>{}</tr>".format(
            ' class="stale"' if r["stale_alert"] else "",
            "".join(f"<td>{c}</td>" for c in (
                f"<b>{_cell(r['id'])}</b><br>{_cell(r['title']['vi'])}", _cell(r["layer"]),
                _cell(r["kind"]), _cell(r["schedule"]), _cell(r["last_success_at"]),
                _cell(r["last_change_at"]), _cell(r["next_run_at"]),
                _cell(r["failures"]) + (f"<br><small>{_cell(r['last_error'][:200])}</small>"
                                        if r["last_error"] else ""),
                _cell(r["stale_alert"]["message"]) if r["stale_alert"] else "")))
        for r in rows)
    text = (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        "<title>Nguồn dữ liệu kết nối – Connected sources</title><style>"
        "body{font-family:'Noto Sans',sans-serif;margin:1.5rem}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top;font-size:.9rem}"
        "th{background:#f0f0f0}tr.stale td{background:#fde2e2}</style></head><body>"
        f"<h1>Nguồn dữ liệu kết nối <small>(connected sources: {len(rows)})</small></h1>"
        "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"
        f"<tbody>{body}</tbody></table></body></html>")
    return Response(text.encode("utf-8"), media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": PAGE_CSP,
                             "Cache-Control": "private, no-store"})


def routes() -> list[BaseRoute]:
    """``/sources/overview`` before ``/sources/{id}``: a page, not a source id."""
    return [Route("/sources", list_sources, methods=["GET"]),
            Route("/sources/overview", page, methods=["GET"]),
            Route("/sources/{id}", show_source, methods=["GET"]),
            Route("/sources/{id}/run", start_run, methods=["POST"])]

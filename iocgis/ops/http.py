"""Every request measured and logged once (``RequestRecord``, the outermost middleware), and
``GET /metrics`` for Prometheus (callers with the ``metrics`` right: ``iocgis.access`` rules).

The route kind comes from the route Starlette matched (its path template), never from the raw
path, so the label set stays bounded; a request refused before routing (a 429, a 413, a path no
route takes) counts as ``unmatched``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iocgis.access import current_caller, require_right
from iocgis.errors import Unauthorized
from iocgis.ops import metrics
from iocgis.ops.logs import REQUEST_ID

access_log = logging.getLogger("iocgis.requests")
# A request id a proxy sent is kept when it is plain (nginx's $request_id is 32 hex digits).
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
PROBE_TIMEOUT_S = 2.0


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            sent = value.decode("latin-1")
            if _CLIENT_ID.match(sent):
                return sent
    return uuid.uuid4().hex


class RequestRecord:
    """Latency and status per route kind, pool gauges (at most once a second), an
    ``X-Request-Id`` on every answer and one access-log line without personal data (no
    address, no query string, no account: the route template, the status and the time)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pool_refresh = metrics.Throttle(1.0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        status = 500  # the app raised before answering: the error middleware answers 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            seconds = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", None)
            kind = metrics.route_kind(template)
            metrics.observe_response(kind, scope["method"], status, seconds)
            if self.pool_refresh.due():
                _record_pools(scope.get("app"))
            access_log.info("%s %s %d", scope["method"], template or "-", status, extra={
                "route_kind": kind, "route": template, "method": scope["method"],
                "status": status, "duration_ms": round(seconds * 1000, 2)})
            REQUEST_ID.reset(token)


def _record_pools(app: Any) -> None:
    state = getattr(getattr(app, "state", None), "iocgis", None)
    if state is not None:
        metrics.pool_usage(state.pool.name, state.pool.get_stats())


async def _probe(state: Any) -> float | None:
    """Seconds of a ``SELECT 1`` through the request pool; None when the database is away."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            async with state.pool.connection(timeout=PROBE_TIMEOUT_S) as conn:
                await conn.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "not reachable" here
        return None
    return time.perf_counter() - started


async def metrics_page(request: Request) -> Response:
    """The Prometheus text of every worker, with this scrape's database probe."""
    caller = current_caller()
    if caller.is_anonymous:
        raise Unauthorized("metrics need a signed-in caller with the metrics right",
                           where="Authorization",
                           hint="send the X-API-Key of the monitoring account (an admin's key)")
    require_right(caller, "metrics")
    _record_pools(request.app)
    probe = await _probe(request.app.state.iocgis)
    body = metrics.exposition([metrics.database_reachability(probe)])
    return Response(body, headers={"content-type": metrics.CONTENT_TYPE_LATEST,
                                   "cache-control": "no-store"})


def routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics_page, methods=["GET"])]

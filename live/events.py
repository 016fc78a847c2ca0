"""``GET /live/events``: alerts and latest readings pushed as Server-Sent Events, each event
only to callers whose plan covers its station (layer visibility and communes). Without
``Accept: text/event-stream`` the answer is a snapshot (open alerts and latest readings)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from iocgis.access import current_caller
from iocgis.errors import InvalidInput
from iocgis.live.access import incidents_plan, readings_plan, sees_alert
from iocgis.live.context import live_context
from iocgis.live.reads import alert_rows, latest_rows

KEEPALIVE_S = 15.0
# A stream ends after this long; EventSource reconnects at once, and the caller's rights are
# checked again (a revoked key or an expired session stops receiving).
MAX_STREAM_S = 900.0
TYPES = frozenset({"alert", "latest"})


async def events(request: Request) -> Response:
    caller = current_caller()
    plan = readings_plan(caller, request.app.state.iocgis.registry)
    incidents = incidents_plan(caller, request.app.state.iocgis.registry)
    wanted = set(request.query_params.get("types", "alert,latest").split(","))
    if not wanted <= TYPES:
        raise InvalidInput(f"unknown event types {sorted(wanted - TYPES)}", where="types",
                           hint="types=alert,latest (or one of them)")
    if "text/event-stream" not in request.headers.get("accept", ""):
        return JSONResponse({"alerts": await alert_rows(request, open_only=True, limit=1000),
                             "readings": await latest_rows(request)})
    hub = live_context(request).hub
    queue = hub.subscribe()

    async def stream() -> AsyncIterator[str]:
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hub.listening.wait(), 10)
            yield "retry: 2000\n: listening\n\n"
            ends = time.monotonic() + MAX_STREAM_S
            while time.monotonic() < ends:
                try:
                    batch = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                for event in batch:
                    kind = event.get("type")
                    if kind in wanted and sees_alert(plan, incidents, event):
                        data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
                        yield f"event: {kind}\ndata: {data}\n\n"
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

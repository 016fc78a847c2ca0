"""The one ASGI application: pygeoapi's OGC APIs at the root beside the project's own routes.

Route modules contribute ``routes(state) -> list[BaseRoute]``; the app is built by a factory
from explicit settings so tests run it against their own database.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pygeoapi
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route

from iocgis.api.errors import install_error_handlers
from iocgis.api.ogc import routes as ogc_routes
from iocgis.api.ogc.pool import get_pool
from iocgis.api.ogc.service import OgcService
from iocgis.api.security.http import install as install_security
from iocgis.api.state import AppState
from iocgis.changes import ChangeListener
from iocgis.ops import logs
from iocgis.ops.heap import freeze_startup_heap
from iocgis.ops.http import RequestRecord
from iocgis.read_routing import ReadRouting
from iocgis.settings import Settings, get_settings
from iocgis.tiles.service import renderer_for

# Each module exposes ``routes() -> list[BaseRoute]``; add a module here to mount its routes.
ROUTE_MODULES: tuple[str, ...] = (
    "iocgis.tiles.routes",
    "iocgis.styles.routes",
    "iocgis.api.security.routes",
    "iocgis.api.query.routes",
    "iocgis.importers.http",
    "iocgis.citizen.routes",
    "iocgis.planning_docs.routes",
    "iocgis.live.routes",
    "iocgis.reports.routes",
    "iocgis.sharing.routes",
    "iocgis.ops.http",
)


# Browsers ask every site for /favicon.ico: answer with the small icon the HTML pages use
# (shipped with pygeoapi, served from here: the IOC network is closed), not a 404 in the logs.
FAVICON = Path(pygeoapi.__file__).parent / "static" / "img" / "favicon.ico"


async def favicon(request: Request) -> FileResponse:
    return FileResponse(FAVICON, media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})


async def health(request: Request) -> JSONResponse:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers and is migrated; beside it, what degrades without
    failing readiness: Redis (shared limits and key cache), this worker's NOTIFY listener
    (revocations, catalog changes) and the read replica (where reads go, its lag)."""
    state: AppState = request.app.state.iocgis
    async with state.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*), current_user FROM meta.layers")
        (layers, role) = await cur.fetchone()
    changes = getattr(request.app.state, "changes", None)
    body = {"status": "ready", "layers": layers, "db_role": role,
            "redis": None if state.shared is None else
            ("up" if await state.shared.ping() else "down"),
            "notify_listener": "listening" if changes is not None and changes.connected.is_set()
            else "not listening",
            "replica": None if state.router is None else state.router.describe()}
    return JSONResponse(body)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    state = AppState.build(settings)
    ogc = OgcService(settings, state.registry, state.serving_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.open()
        # the tile renderer of this app's settings, on this loop: pygeoapi's tile provider
        # finds it by database URL (iocgis.tiles.service), not one made from the environment
        renderer_for(state)
        # key revocations and imports pushed to this worker (PostgreSQL NOTIFY)
        changes = ChangeListener(state.serving_url, state.shared, ogc.mark_stale)
        app.state.changes = changes
        try:
            await run_in_threadpool(ogc.open)  # generates the pygeoapi config + OpenAPI
            if state.router is not None:  # pygeoapi's pool reads from the replica too
                await run_in_threadpool(state.router.attach_sync, get_pool(ogc.pool_key))
            changes.start()
            freeze_startup_heap()  # start-up's objects left out of every full GC
            yield
        finally:
            await changes.stop()
            await run_in_threadpool(ogc.close)
            reports = getattr(app.state, "reports", None)
            if reports is not None:  # the report service's browser and pool (reports/)
                await reports.close()
            await state.close()

    routes = [Route("/health", health), Route("/ready", ready), Route("/favicon.ico", favicon)]
    for module in ROUTE_MODULES:
        routes += importlib.import_module(module).routes()
    # pygeoapi's OGC APIs answer every path the project's own routes do not claim.
    routes.append(Mount("/", routes=ogc_routes.routes(), name="ogc"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.iocgis = state
    app.state.ogc = ogc
    install_error_handlers(app)
    # Inside authentication: which reads may go to the replica; a writer's pin to the primary
    # (only with a replica: no layer on every request of a server without one).
    if state.router is not None:
        app.add_middleware(ReadRouting)
    # Authentication (sets the caller of every request), CORS, size/rate limits, headers.
    install_security(app, settings)
    # Outermost: every answer measured (route kind, status, time) and logged once.
    app.add_middleware(RequestRecord)
    logs.configure(settings.log_format)
    return app

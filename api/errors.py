"""One place maps errors to HTTP responses with an OGC exception body; no stack traces leak."""

from __future__ import annotations

import logging

import psycopg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from iocgis.errors import DatabaseError, InternalError, IocgisError, TemporarilyUnavailable

log = logging.getLogger("iocgis.api")


# A 503 that names no wait of its own (a service that cannot be reached: Redis, the broker)
OUTAGE_RETRY_AFTER_S = 5


def error_headers(exc: IocgisError) -> dict[str, str]:
    """Headers an error answer carries: Retry-After when a retry may succeed, on every 503."""
    wait = exc.retry_after_s or (OUTAGE_RETRY_AFTER_S if exc.http_status == 503 else None)
    return {"Retry-After": str(wait)} if wait else {}


def error_response(exc: IocgisError) -> JSONResponse:
    """The one mapping from an error to its answer (the security middleware sends the same
    body through ``iocgis.api.security.http.send_error`` before a route exists)."""
    return JSONResponse(exc.as_dict(), status_code=exc.http_status,
                        headers=error_headers(exc) or None)


async def _iocgis_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IocgisError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"code": "HTTPError", "description": exc.detail}, status_code=exc.status_code)


async def _database_away(request: Request, exc: Exception) -> JSONResponse:
    """The database stopped or restarts (a lost connection, no pooled connection in time):
    503 with Retry-After on every path, never a 500; the pool reconnects by itself."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return error_response(DatabaseError("the database is not reachable", where="database",
                                        hint="retry in a few seconds"))


async def _over_time_limit(request: Request, exc: Exception) -> JSONResponse:
    """A statement stopped by its time limit outside the statement runner (a capability's own
    pool, whose connections carry the pools' session limit): the runner's answer, a 503 with
    Retry-After, not the database-away answer its parent class would get."""
    from iocgis.access.database import RETRY_AFTER_S

    log.warning("statement over its time limit on %s %s", request.method, request.url.path)
    return error_response(TemporarilyUnavailable(
        "the request's statement ran longer than its time limit and was stopped",
        where="database", hint=f"narrow the request, or retry in {RETRY_AFTER_S} s",
        retry_after_s=RETRY_AFTER_S))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(InternalError())


def install_error_handlers(app: Starlette) -> None:
    app.add_exception_handler(IocgisError, _iocgis_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(psycopg.OperationalError, _database_away)
    app.add_exception_handler(psycopg.errors.QueryCanceled, _over_time_limit)
    app.add_exception_handler(Exception, _unexpected)

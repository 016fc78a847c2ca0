"""HTTP hardening and authentication, as plain ASGI middleware (streaming responses such as
tiles and exports pass through untouched).

Order, outermost first: ``Hardening`` (security headers, body size, rate limit, no stack
traces) -> CORS -> ``Authentication`` (who is calling; sets ``iocgis.access.CURRENT_CALLER``
and ``request.state.caller``; writes refusals and sensitive reads to the audit trail).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from iocgis.access import ACCESS_NOTES, ANONYMOUS, CURRENT_CALLER, AccessNotes, Caller
from iocgis.errors import (
    DatabaseError,
    InternalError,
    IocgisError,
    PayloadTooLarge,
    TemporarilyUnavailable,
    TooManyRequests,
    Unauthorized,
)
from iocgis.security import accounts, audit, login
from iocgis.security.audit_window import AuditWindow
from iocgis.security.key_cache import LocalKeyCache
from iocgis.security.keys import jwt_signing_key
from iocgis.security.settings import SecuritySettings, in_networks
from iocgis.settings import Settings
from iocgis.shared_state import SharedState, SharedUnavailable

log = logging.getLogger("iocgis.security")

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
)
# Frames, plugins and form targets are locked down; script sources are left to the pages
# (MapLibre needs workers from blob:), which may send a stricter policy of their own.
DEFAULT_CSP = b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
LOGIN_PATHS = ("/auth/token", "/auth/refresh", "/auth/password")
VARY_CALLER = (b"Authorization", b"X-API-Key")
PROBE_WINDOW_S = 600.0
REFUSAL_STATUSES = {401, 403, 413, 429}


@dataclass
class SecurityContext:
    """What the middlewares and auth routes share, built once when the app is built."""

    settings: SecuritySettings
    signing_key: bytes
    last_inactive_sweep: float = 0.0

    @classmethod
    def build(cls, settings: Settings) -> SecurityContext:
        return cls(settings=settings.security, signing_key=jwt_signing_key(settings))


def client_address(scope: Scope, settings: SecuritySettings) -> str | None:
    """The peer address; behind a trusted proxy, the last untrusted X-Forwarded-For hop."""
    peer = (scope.get("client") or (None,))[0]
    if not settings.trusted_proxies or not in_networks(peer, settings.trusted_proxies):
        return peer
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops = [h.strip() for h in value.decode("latin-1").split(",") if h.strip()]
            for hop in reversed(hops):
                try:
                    ipaddress.ip_address(hop)
                except ValueError:
                    return peer
                if not in_networks(hop, settings.trusted_proxies):
                    return hop
    return peer


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def send_error(send: Send, exc: IocgisError,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """An error answered by the middleware, with the body and headers of the one error
    mapping (``iocgis.api.errors.error_response``)."""
    from iocgis.api.errors import error_headers

    extra = [(k.lower().encode(), v.encode()) for k, v in error_headers(exc).items()]
    await send_json(send, exc.http_status, exc.as_dict(), [*extra, *(headers or [])])


async def send_json(send: Send, status: int, body: dict[str, Any],
                    headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()),
                            (b"cache-control", b"no-store"), *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token buckets per client address in memory, per process (bounded in size): the limit of
    a single worker, and of each worker while the shared buckets in Redis are unreachable."""

    per_minute: int
    burst: int
    buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict)
    max_clients: int = 50_000

    def allow(self, client: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        bucket = self.buckets.get(client)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), stamp=now)
            self.buckets[client] = bucket
            if len(self.buckets) > self.max_clients:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(client)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


class Hardening:
    """Security headers on every answer, body size limits (413), rate limits (429), and a
    plain 500 without a stack trace when anything below fails."""

    def __init__(self, app: ASGIApp, context: SecurityContext) -> None:
        self.app = app
        self.context = context
        s = context.settings
        self.requests = RateLimiter(s.rate_limit_per_minute, s.rate_limit_burst)
        self.logins = RateLimiter(s.login_rate_limit_per_minute,
                                  max(1, min(s.login_rate_limit_per_minute, 10)))

    async def _wait(self, scope: Scope, client: str, path: str) -> float:
        """Seconds to wait before this request may pass (0: now). With several workers the
        buckets are in Redis, shared; Redis down: logins SharedUnavailable (fail closed),
        the rest under this process's own buckets."""
        s = self.context.settings
        login_path = path in LOGIN_PATHS
        shared = _shared(scope)
        if shared is not None:
            try:
                wait = await shared.take("req:" + client, s.rate_limit_per_minute,
                                         s.rate_limit_burst)
                if not wait and login_path:
                    wait = await shared.take("login:" + client, s.login_rate_limit_per_minute,
                                             self.logins.burst)
                return wait
            except SharedUnavailable:
                if login_path:
                    raise
        wait = self.requests.allow(client)
        if not wait and login_path:
            wait = self.logins.allow(client)
        return wait

    def _limit_for(self, path: str) -> int:
        s = self.context.settings
        return s.upload_max_bytes if path.startswith(tuple(s.upload_paths)) else s.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        s = self.context.settings
        client = client_address(scope, s) or "unknown"
        path = scope.get("path", "")
        https = scope.get("scheme") == "https" or (
            _header(scope, b"x-forwarded-proto") == "https"
            and in_networks((scope.get("client") or (None,))[0], s.trusted_proxies))
        extra = list(SECURITY_HEADERS)
        if https and s.hsts:
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

        if not in_networks(client, s.rate_limit_exempt):
            try:
                wait = await self._wait(scope, client, path)
            except SharedUnavailable:
                closed = TemporarilyUnavailable(
                    "logins are paused: the shared login limits cannot be checked",
                    where="rate limit", hint="retry in a few seconds", retry_after_s=5)
                await _refuse(scope, send, closed, client, extra)
                return
            if wait:
                limited = TooManyRequests("too many requests from this address",
                                          hint="wait and retry; the limit is "
                                               f"{s.rate_limit_per_minute} requests a minute")
                limited.retry_after_s = max(1, int(wait + 0.999))
                await _refuse(scope, send, limited, client, extra)
                return

        limit = self._limit_for(path)
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = True
            if too_big:
                await _refuse(scope, send, PayloadTooLarge(
                    f"the request body is larger than {limit} bytes",
                    hint="send a smaller body (or split the upload)"), client, extra)
                return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"the request body is larger than {limit} bytes",
                                          where="body", hint="send a smaller body")
            return message

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in extra if k not in present]
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if b"content-security-policy" not in present and content_type.startswith(
                        b"text/html"):
                    headers.append((b"content-security-policy", DEFAULT_CSP))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except PayloadTooLarge as exc:
            if not started:
                await _refuse(scope, send, exc, client, extra)
        except Exception:  # noqa: BLE001 - the last line: log it, never show it
            log.exception("unhandled error on %s %s", scope.get("method"), path)
            if not started:
                await send_error(send, InternalError(), extra)


def _shared(scope: Scope) -> SharedState | None:
    app_state = getattr(getattr(scope.get("app"), "state", None), "iocgis", None)
    return getattr(app_state, "shared", None)


def _local_keys(scope: Scope) -> LocalKeyCache | None:
    """This worker's verified-key cache, kept by its NOTIFY listener (``app.state.changes``)."""
    changes = getattr(getattr(scope.get("app"), "state", None), "changes", None)
    return getattr(changes, "keys", None)


async def _refuse(scope: Scope, send: Send, exc: IocgisError, client: str,
                  headers: list[tuple[bytes, bytes]]) -> None:
    # Logged before the answer leaves: whoever reads the trail after the refusal finds it.
    await _audit_refusal(scope, exc.http_status, client, None, exc.message)
    await send_error(send, exc, headers)


async def _audit_refusal(scope: Scope, status: int, client: str | None, caller: Caller | None,
                         reason: str) -> None:
    """Every refusal (401/403/413/429) is logged; a failure to log must not fail the answer."""
    app_state = getattr(getattr(scope.get("app"), "state", None), "iocgis", None)
    if app_state is None:
        return
    try:
        async with app_state.pool.connection(timeout=5) as conn:
            await audit.record(conn, actor=caller.name if caller else "anonymous",
                               action="http.refused", outcome="denied",
                               target=f"{scope.get('method')} {scope.get('path', '')[:300]}",
                               client=client, details={"status": status, "reason": reason[:300]})
    except Exception:  # noqa: BLE001
        log.exception("could not write the audit record of a refusal")


class Authentication:
    """Who is calling: a bearer access token, an API key, or nobody (role ``public``)."""

    def __init__(self, app: ASGIApp, context: SecurityContext) -> None:
        self.app = app
        self.context = context
        # A scanner probing hidden layers: one record per (caller, address, layer) per window.
        self.probes = AuditWindow(PROBE_WINDOW_S)

    def _credentials(self, scope: Scope) -> tuple[str, str] | None:
        api_key = _header(scope, b"x-api-key")
        if api_key:
            return "api_key", api_key.strip()
        authorization = _header(scope, b"authorization")
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            value = value.strip()
            if scheme.lower() == "bearer" and value:
                return ("api_key" if value.startswith("iocgis_") else "bearer"), value
            if scheme.lower() == "apikey" and value:
                return "api_key", value
            return "malformed", ""
        return None

    async def _resolve(self, scope: Scope, client: str | None) -> Caller:
        credentials = self._credentials(scope)
        if credentials is None:
            return Caller(client=client) if client else ANONYMOUS
        kind, value = credentials
        if kind == "malformed":
            raise Unauthorized("the Authorization header is not understood", where="Authorization",
                               hint="send 'Bearer <access token>' or an X-API-Key header")
        pool = scope["app"].state.iocgis.pool
        s = self.context.settings
        shared = _shared(scope)
        local = _local_keys(scope)
        if kind == "api_key":  # this worker's cache, then the shared one: no database trip
            cached = await login.caller_for_cached_key(shared, s, value, client, local)
            if cached is not None:
                return cached
        async with pool.connection() as conn:
            if time.monotonic() - self.context.last_inactive_sweep > 3600:
                self.context.last_inactive_sweep = time.monotonic()
                await accounts.disable_inactive(conn, s)
            if kind == "bearer":
                return await login.caller_for_token(conn, s, self.context.signing_key, value,
                                                    client)
            return await login.caller_for_api_key(conn, s, value, client, shared, local)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = client_address(scope, self.context.settings)
        try:
            caller = await self._resolve(scope, client)
        except Unauthorized as exc:
            await _audit_refusal(scope, 401, client, None, exc.message)
            await send_error(send, exc, [(b"www-authenticate", b'Bearer error="invalid_token"')])
            return
        except (psycopg.Error, OSError, IocgisError) as exc:
            log.error("authentication could not reach the database: %s", exc)
            unavailable = DatabaseError("the account database does not answer",
                                        where="authentication", hint="retry shortly")
            unavailable.retry_after_s = 5
            await send_error(send, unavailable)
            return
        notes = AccessNotes()
        scope.setdefault("state", {})["caller"] = caller
        caller_token = CURRENT_CALLER.set(caller)
        notes_token = ACCESS_NOTES.set(notes)
        status = 0

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = _varies_by_caller(message)
                if not caller.is_anonymous:
                    message = _private(message, sensitive=bool(notes.restricted or notes.pii))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            CURRENT_CALLER.reset(caller_token)
            ACCESS_NOTES.reset(notes_token)
            if status in REFUSAL_STATUSES:
                await _audit_refusal(scope, status, client, caller, "refused by the application")
            notes.denied = {layer for layer in notes.denied
                            if self.probes.due((caller.name, caller.client, layer))}
            if notes:
                await _audit_reads(scope, caller, notes, status)


def _varies_by_caller(message: Message) -> Message:
    """Every answer may differ by who asks: caches key it on the credentials too."""
    headers, vary = [], b""
    for key, value in message.get("headers", []):
        if key.lower() == b"vary":
            vary = value
        else:
            headers.append((key, value))
    present = {v.strip().lower() for v in vary.split(b",") if v.strip()}
    missing = [v for v in VARY_CALLER if v.lower() not in present]
    headers.append((b"vary", b", ".join(([vary] if vary else []) + missing)))
    return {**message, "headers": headers}


def _private(message: Message, *, sensitive: bool = False) -> Message:
    """An answer for a signed-in caller may hold non-public data: no shared cache keeps it;
    one that read restricted layers or personal data is kept by no cache at all."""
    headers = []
    cache_control = None
    for key, value in message.get("headers", []):
        if key.lower() == b"cache-control":
            cache_control = value
        else:
            headers.append((key, value))
    if cache_control is None or sensitive:
        cache_control = b"private, no-store"
    elif b"public" in cache_control:
        cache_control = cache_control.replace(b"public", b"private")
    elif b"private" not in cache_control and b"no-store" not in cache_control:
        cache_control = b"private, " + cache_control
    headers.append((b"cache-control", cache_control))
    return {**message, "headers": headers}


async def _audit_reads(scope: Scope, caller: Caller, notes: AccessNotes, status: int) -> None:
    app_state = getattr(scope["app"].state, "iocgis", None)
    if app_state is None:
        return
    target = f"{scope.get('method')} {scope.get('path', '')[:300]}"
    query = scope.get("query_string", b"").decode("latin-1")[:500]
    events = ([("data.read_restricted", "ok", layer) for layer in sorted(notes.restricted)]
              + [("data.read_pii", "ok", layer) for layer in sorted(notes.pii)]
              + [("data.hidden_layer", "denied", layer) for layer in sorted(notes.denied)])
    # Under a sharing agreement every read is recorded with the agreement's id and how much
    # it returned: the trail answers who read what under which agreement, and the agreement's
    # usage report (iocgis/sharing/usage.py) is counted from these records.
    agreement = caller.narrowing.agreement_id if caller.narrowing is not None else None
    under = {"agreement": agreement} if agreement is not None else {}
    shared = [("data.read_shared", layer, {"agreement": agreement, "rows": read.rows,
                                           "tiles": read.tiles})
              for layer, read in sorted(notes.shared.items())]
    try:
        async with app_state.pool.connection(timeout=5) as conn:
            for action, outcome, layer in events:
                await audit.record(conn, actor=caller.name, action=action, outcome=outcome,
                                   target=target, layer=layer, client=caller.client,
                                   details={"status": status, "query": query,
                                            "auth": caller.auth, **under})
            for action, layer, counts in shared:
                await audit.record(conn, actor=caller.name, action=action,
                                   outcome="ok" if status < 400 else "failed", target=target,
                                   layer=layer, client=caller.client,
                                   details={"status": status, "query": query, **counts})
    except Exception:  # noqa: BLE001
        log.exception("could not write the audit record of a read")


def install(app: Any, settings: Settings) -> SecurityContext:
    """Add the security middlewares to a Starlette app (called by ``create_app``)."""
    context = SecurityContext.build(settings)
    app.state.security = context
    app.add_middleware(Authentication, context=context)
    s = settings.security
    if s.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=s.cors_origins,
                           allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "X-API-Key",
                                          "Accept", "Accept-Language"],
                           expose_headers=["ETag", "Link", "Retry-After"], max_age=600)
    app.add_middleware(Hardening, context=context)
    return context



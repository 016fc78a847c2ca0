"""HTTP routes of the security package: the OAuth2 password flow (``/auth/...``) and the
account administration API (``/admin/...``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from iocgis.access import Caller, current_caller, require_right
from iocgis.api.kit.values import boolean, whole_number
from iocgis.api.security.http import SecurityContext
from iocgis.errors import Forbidden, InvalidInput, Unauthorized
from iocgis.jsonbody import parse_json
from iocgis.security import accounts, login, review
from iocgis.security.accounts import Actor


def _context(request: Request) -> SecurityContext:
    return request.app.state.security


def _pool(request: Request):  # noqa: ANN202 - psycopg_pool.AsyncConnectionPool
    return request.app.state.iocgis.pool


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(json.loads(json.dumps(body, ensure_ascii=False, default=_default)),
                        status_code=status, headers={"cache-control": "no-store"})


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


async def _body(request: Request) -> dict[str, Any]:
    """A form (OAuth2 clients) or a JSON object; anything else is a 400."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        body = parse_json(await request.body(), hint='send a JSON object such as {"name": ...}')
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object", where="body",
                               hint='send {"name": ...}')
        return body
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form()
        except ValueError:
            raise InvalidInput("the form cannot be read", where="body",
                               hint="send application/x-www-form-urlencoded") from None
        return {k: v for k, v in form.items() if isinstance(v, str)}
    if not await request.body():
        return {}
    raise InvalidInput("the body must be a JSON object or a form", where="body",
                       hint="send application/json or application/x-www-form-urlencoded")


def _text(body: dict[str, Any], name: str, *, required: bool = True, limit: int = 1024) -> str:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name!r} is missing", where=name, hint=f"send {name}")
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{name!r} must be a text of at most {limit} characters", where=name,
                           hint=f"send {name} as a string")
    return value


def _list(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
            or len(value) > 200:
        raise InvalidInput(f"{name!r} must be a list of texts", where=name,
                           hint=f'send "{name}": ["..."]')
    return value


def _bool(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return boolean(value, name)
    raise InvalidInput(f"{name!r} must be true or false", where=name, hint="send a boolean")


def _int(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{name!r} must be a whole number", where=name, hint="send a number")
    return whole_number(str(value), name, low, high)


def _when(body: dict[str, Any], name: str) -> datetime | None:
    text = _text(body, name, required=False, limit=40)
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name!r} is not a date", where=name,
                           hint="write it as 2026-12-31 or 2026-12-31T17:00:00+07:00") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --- /auth ----------------------------------------------------------------------------------

async def token(request: Request) -> Response:
    """OAuth2 password flow (RFC 6749 4.3) with a ``totp`` field for the second factor."""
    body = await _body(request)
    grant = body.get("grant_type", "password")
    if grant != "password":
        raise InvalidInput("only grant_type=password is supported here", where="grant_type",
                           hint="use /auth/refresh to refresh a token")
    ctx, client = _context(request), current_caller().client
    async with _pool(request).connection() as conn:
        account, mfa = await login.authenticate(
            conn, ctx.settings, name=_text(body, "username", limit=200),
            password=_text(body, "password"), totp_code=_text(body, "totp", required=False,
                                                              limit=12) or None, client=client)
        login.check_password_fresh(account, ctx.settings)
        pair = await login.open_session(conn, ctx.settings, ctx.signing_key, account, mfa=mfa,
                                        client=client)
    return _json(pair.as_dict())


async def refresh(request: Request) -> Response:
    body = await _body(request)
    ctx = _context(request)
    async with _pool(request).connection() as conn:
        pair = await login.refresh(conn, ctx.settings, ctx.signing_key,
                                   _text(body, "refresh_token", limit=4096),
                                   current_caller().client)
    return _json(pair.as_dict())


async def logout(request: Request) -> Response:
    caller = current_caller()
    if caller.is_anonymous or caller.auth != "bearer":
        raise Unauthorized("not signed in with a token", where="Authorization",
                           hint="send the access token as Bearer")
    async with _pool(request).connection() as conn:
        await login.logout(conn, caller)
    return Response(status_code=204)


async def me(request: Request) -> Response:
    caller = current_caller()
    return _json({"name": caller.name, "roles": sorted(caller.roles), "pii": caller.sees_pii,
                  "communes": sorted(caller.commune_codes), "auth": caller.auth,
                  "mfa": caller.mfa, "anonymous": caller.is_anonymous})


async def change_password(request: Request) -> Response:
    """Change one's password (also when expired or temporary): name, password, totp, new one."""
    body = await _body(request)
    ctx, client = _context(request), current_caller().client
    new_password = _text(body, "new_password")
    async with _pool(request).connection() as conn:
        account, _ = await login.authenticate(
            conn, ctx.settings, name=_text(body, "username", limit=200),
            password=_text(body, "password"),
            totp_code=_text(body, "totp", required=False, limit=12) or None, client=client)
        await accounts.change_password(conn, ctx.settings, Actor(account["name"], client),
                                       account["id"], account["name"],
                                       account["totp_secret"] is not None, new_password)
    return Response(status_code=204)


# --- /admin ---------------------------------------------------------------------------------

def _admin(request: Request) -> tuple[Caller, Actor]:
    caller = current_caller()
    if caller.is_anonymous:
        raise Unauthorized("the administration API needs a signed-in administrator",
                           where="Authorization", hint="log in at /auth/token")
    require_right(caller, "admin")
    if "admin" in _context(request).settings.totp_required_roles and not caller.mfa:
        raise Forbidden("administration needs a session opened with a one-time code",
                        where="Authorization", hint="log in at /auth/token with 'totp' "
                                                    "(API keys cannot administer)")
    return caller, Actor(caller.name, caller.client)


def _not_self(caller: Caller, name: str) -> None:
    if caller.name == name:
        raise Forbidden("an administrator may not lock, revoke or expire their own account",
                        where="name", hint="ask another administrator")


def _secret(secret: accounts.NewSecret) -> dict[str, Any]:
    return {k: v for k, v in (("temporary_password", secret.password),
                              ("totp_secret", secret.totp_secret),
                              ("totp_uri", secret.totp_uri)) if v}


async def list_accounts(request: Request) -> Response:
    _admin(request)
    async with _pool(request).connection() as conn:
        return _json({"accounts": await accounts.list_all(conn)})


def _steward_groups(request: Request, body: dict[str, Any], roles: list[str]
                    ) -> list[str] | None:
    """The layer groups a data steward approves, checked against the registry."""
    from iocgis.importers.review import steward_groups_for

    return steward_groups_for(request.app.state.iocgis.registry, roles,
                              _list(body, "steward_groups"), where="steward_groups")


async def create_account(request: Request) -> Response:
    _, actor = _admin(request)
    body = await _body(request)
    ctx = _context(request)
    roles = _list(body, "roles") or ["viewer"]
    groups = _steward_groups(request, body, roles)
    async with _pool(request).connection() as conn:
        name = _text(body, "name", limit=63)
        secret = await accounts.create(
            conn, ctx.settings, actor, name=name, roles=roles, steward_groups=groups or (),
            password=_text(body, "password", required=False) or None,
            full_name=_text(body, "full_name", required=False, limit=200),
            email=_text(body, "email", required=False, limit=200) or None,
            pii=bool(_bool(body, "pii")), communes=_list(body, "communes") or [],
            with_totp=bool(_bool(body, "totp")), expires_at=_when(body, "expires_at"))
        account = await accounts.get(conn, name)
    return _json({"account": account, **_secret(secret)}, status=201)


async def get_account(request: Request) -> Response:
    _admin(request)
    async with _pool(request).connection() as conn:
        name = request.path_params["name"]
        return _json({"account": await accounts.get(conn, name),
                      "api_keys": await login.list_api_keys(conn, name)})


async def account_action(request: Request) -> Response:
    caller, actor = _admin(request)
    name, action = request.path_params["name"], request.path_params["action"]
    body = await _body(request)
    ctx = _context(request)
    secret = accounts.NewSecret()
    async with _pool(request).connection() as conn:
        if action == "grant":
            roles = _list(body, "roles") or []
            secret = await accounts.grant(conn, ctx.settings, actor, name, roles=roles,
                                          pii=_bool(body, "pii"),
                                          communes=_list(body, "communes"),
                                          steward_groups=_steward_groups(request, body, roles))
        elif action in ("lock", "revoke", "unlock"):
            if action != "unlock":
                _not_self(caller, name)
            status = {"lock": "locked", "revoke": "revoked", "unlock": "active"}[action]
            await accounts.set_status(conn, actor, name, status,
                                      _text(body, "reason", required=False, limit=300) or None)
        elif action == "expire":
            _not_self(caller, name)
            await accounts.expire(conn, actor, name, _when(body, "at"))
        elif action == "reset":
            secret = await accounts.reset(conn, ctx.settings, actor, name,
                                          new_totp=bool(_bool(body, "totp")))
        else:
            from iocgis.errors import NotFound

            raise NotFound(f"no account action {action!r}", where="path",
                           hint="grant, lock, unlock, revoke, expire or reset")
        account = await accounts.get(conn, name)
    return _json({"account": account, **_secret(secret)})


async def create_api_key(request: Request) -> Response:
    _, actor = _admin(request)
    body = await _body(request)
    async with _pool(request).connection() as conn:
        key, key_id = await login.create_api_key(
            conn, actor, request.path_params["name"],
            label=_text(body, "label", required=False, limit=200),
            days=_int(body, "days", 1, 3660), networks=_list(body, "networks"))
    return _json({"id": key_id, "key": key,
                  "note": "shown once: store it in the client's secret store"}, status=201)


async def revoke_api_key(request: Request) -> Response:
    _, actor = _admin(request)
    async with _pool(request).connection() as conn:
        await login.revoke_api_key(conn, actor, request.path_params["key_id"])
    return Response(status_code=204)


async def review_report(request: Request) -> Response:
    _admin(request)
    async with _pool(request).connection() as conn:
        return _json(await review.report(conn, _context(request).settings))


def routes() -> list[BaseRoute]:
    return [
        Route("/auth/token", token, methods=["POST"]),
        Route("/auth/refresh", refresh, methods=["POST"]),
        Route("/auth/logout", logout, methods=["POST"]),
        Route("/auth/password", change_password, methods=["POST"]),
        Route("/auth/me", me, methods=["GET"]),
        Route("/admin/accounts", list_accounts, methods=["GET"]),
        Route("/admin/accounts", create_account, methods=["POST"]),
        Route("/admin/accounts/{name}", get_account, methods=["GET"]),
        Route("/admin/accounts/{name}/apikeys", create_api_key, methods=["POST"]),
        Route("/admin/accounts/{name}/{action}", account_action, methods=["POST"]),
        Route("/admin/apikeys/{key_id:int}", revoke_api_key, methods=["DELETE"]),
        Route("/admin/review", review_report, methods=["GET"]),
    ]

"""The OpenAPI 3.0 fragment of the security routes (``/auth``, ``/admin``), to merge into the
served document: ``document = merge_into(document)``."""

from __future__ import annotations

import copy
from typing import Any

from iocgis.access import ROLE_RIGHTS

_ERROR = {"description": "refused or invalid (OGC exception body)",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/iocgisError"}}}}
_TEXT = {"type": "string", "maxLength": 1024}
_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_.-]{1,62}$"}
ROLES = {"type": "array", "items": {"type": "string", "enum": list(ROLE_RIGHTS)}}
COMMUNES = {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{5}$"}}
# the layer groups of the registry (layers/*.yaml); with the role data_steward only
GROUPS = {"type": "array", "items": {"type": "string", "maxLength": 63}}
_ADMIN = [{"bearerAuth": []}]


def _op(summary: str, *, body: dict[str, Any] | None = None, form: bool = False,
        ok: str = "200", secured: bool = False, params: list[dict[str, Any]] | None = None,
        tag: str = "auth") -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary, "tags": [tag],
        "responses": {ok: {"description": "done"}, "400": _ERROR, "401": _ERROR, "403": _ERROR,
                      "404": _ERROR, "413": _ERROR, "429": _ERROR}}
    if body is not None:
        media = "application/x-www-form-urlencoded" if form else "application/json"
        operation["requestBody"] = {"required": True, "content": {media: {"schema": body}}}
    if secured:
        operation["security"] = _ADMIN
    if params:
        operation["parameters"] = params
    return operation


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    # OpenAPI 3.0 wants a non-empty "required" or none at all
    return {"type": "object", "properties": properties, **({"required": required} if required else {})}


NAME_PARAM = {"name": "name", "in": "path", "required": True, "schema": _NAME}

PATHS: dict[str, Any] = {
    "/auth/token": {"post": _op(
        "OAuth2 password flow; 'totp' carries the one-time code", form=True,
        body=_object({"grant_type": {"type": "string", "enum": ["password"]}, "username": _TEXT,
                      "password": _TEXT, "totp": {"type": "string", "maxLength": 12}},
                     ["username", "password"]))},
    "/auth/refresh": {"post": _op("new tokens for a live session (the refresh token works once)",
                                  form=True, body=_object({"refresh_token": _TEXT},
                                                          ["refresh_token"]))},
    "/auth/logout": {"post": _op("end the session", ok="204", secured=True)},
    "/auth/me": {"get": _op("who the caller is")},
    "/auth/password": {"post": _op(
        "change one's password", ok="204",
        body=_object({"username": _TEXT, "password": _TEXT, "new_password": _TEXT,
                      "totp": {"type": "string"}}, ["username", "password", "new_password"]))},
    "/admin/accounts": {
        "get": _op("list the accounts", secured=True, tag="admin"),
        "post": _op("create an account", ok="201", secured=True, tag="admin", body=_object({
            "name": _NAME, "roles": ROLES, "full_name": _TEXT, "email": _TEXT,
            "pii": {"type": "boolean"}, "communes": COMMUNES, "steward_groups": GROUPS,
            "totp": {"type": "boolean"}, "password": _TEXT,
            "expires_at": {"type": "string", "format": "date-time"}}, ["name"]))},
    "/admin/accounts/{name}": {"get": _op("an account and its API keys", secured=True,
                                          tag="admin", params=[NAME_PARAM])},
    "/admin/accounts/{name}/{action}": {"post": _op(
        "grant, lock, unlock, revoke, expire or reset", secured=True, tag="admin",
        params=[NAME_PARAM, {"name": "action", "in": "path", "required": True, "schema": {
            "type": "string", "enum": ["grant", "lock", "unlock", "revoke", "expire", "reset"]}}],
        body=_object({"roles": ROLES, "pii": {"type": "boolean"}, "communes": COMMUNES,
                      "steward_groups": GROUPS, "reason": _TEXT, "at": _TEXT,
                      "totp": {"type": "boolean"}}))},
    "/admin/accounts/{name}/apikeys": {"post": _op(
        "a new API key (shown once)", ok="201", secured=True, tag="admin", params=[NAME_PARAM],
        body=_object({"label": _TEXT, "days": {"type": "integer", "minimum": 1, "maximum": 3660},
                      "networks": {"type": "array", "items": {"type": "string"}}}))},
    "/admin/apikeys/{key_id}": {"delete": _op(
        "revoke an API key at once", ok="204", secured=True, tag="admin",
        params=[{"name": "key_id", "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 1}}])},
    "/admin/review": {"get": _op("the account and permission review report", secured=True,
                                 tag="admin")},
}

COMPONENTS: dict[str, Any] = {
    "securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    },
    "schemas": {"iocgisError": {"type": "object", "properties": {
        "code": {"type": "string"}, "description": {"type": "string"}}}},
}


def merge_into(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the security paths, schemes and error schema added."""
    merged = copy.deepcopy(document)
    merged.setdefault("paths", {}).update(copy.deepcopy(PATHS))
    components = merged.setdefault("components", {})
    for key, values in COMPONENTS.items():
        components.setdefault(key, {}).update(copy.deepcopy(values))
    return merged

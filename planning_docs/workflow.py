"""Changes to dossiers: create, attach a document, set the decision, move the status.

Each change is one transaction that also appends its audit event (``iocgis.security.audit``),
so the trail never says a change happened that did not, or misses one that did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg import sql

from iocgis.access import Caller, plan_for
from iocgis.api.state import AppState
from iocgis.errors import InvalidInput, NotFound
from iocgis.planning_docs import codes, fields, records, rules
from iocgis.security import audit

TARGET = "planning dossier {}"


@dataclass(frozen=True)
class Change:
    """Who changes what: the caller and the app state (pool, registry, reader)."""

    state: AppState
    caller: Caller

    async def record(self, conn: psycopg.AsyncConnection, action: str, dossier_id: int,
                     details: dict[str, Any]) -> None:
        await audit.record(conn, actor=self.caller.name, action=action,
                           target=TARGET.format(dossier_id), client=self.caller.client,
                           details=details)


async def registered_project(change: Change, project_code: str) -> dict[str, Any] | None:
    """The planning.projects row of the code (name, kind, scale), read under the caller's plan."""
    plan = plan_for(change.caller, codes.PROJECTS, change.state.registry).with_fields(
        ("project_code", "name", "kind", "scale"))
    layer = plan.layer
    statement = sql.SQL("SELECT name, kind, scale FROM {} WHERE project_code = %s").format(
        sql.Identifier(layer.schema_name, layer.table_name))
    async with change.state.reader.reading(plan, what="project lookup") as conn:
        cur = await conn.execute(statement, (project_code,))
        row = await cur.fetchone()
    return None if row is None else {"name": row[0], "kind": row[1], "scale": row[2]}


async def _adjusted(conn: psycopg.AsyncConnection, body: dict[str, Any]) -> int | None:
    """The dossier an adjustment adjusts (by id or project code), or None."""
    raw = body.get("adjusts")
    if raw in (None, ""):
        return None
    found = (await records.dossier(conn, int(raw)) if isinstance(raw, int) or str(raw).isdigit()
             else await records.dossier_by_code(conn, str(raw)))
    if found is None:
        raise InvalidInput(f"adjusts names no dossier ({str(raw)[:60]!r})", where="adjusts",
                           hint="give the id or project code of the dossier being adjusted")
    return int(found["id"])


async def create(change: Change, body: dict[str, Any]) -> int:
    rules.require_editor(change.caller)
    registry = change.state.registry
    project_code = fields.project_code(body)
    known = await registered_project(change, project_code) or {}
    title = fields.text(body, "title", default=known.get("name"), required=not known)
    kind = codes.check(registry, codes.PROJECTS, "kind", body.get("kind") or known.get("kind"),
                       "kind")
    scale_raw = body.get("scale") or known.get("scale")
    scale = codes.check(registry, codes.PROJECTS, "scale", scale_raw, "scale") \
        if scale_raw else None
    values = {"project_code": project_code, "title": title, "kind": kind, "scale": scale,
              "description": fields.text(body, "description", max_length=20_000) or "",
              "replaces_all": fields.flag(body, "replaces_all")}
    superseded = fields.codes(body, "superseded_zones")
    async with change.state.pool.connection() as conn, conn.transaction():
        if await records.dossier_by_code(conn, project_code):
            raise InvalidInput(f"a dossier for {project_code} exists already",
                               where="project_code",
                               hint="add documents to it, or give an adjustment its own "
                                    "project code (e.g. " + project_code + "-DC1)")
        values["adjusts_id"] = await _adjusted(conn, body)
        if values["adjusts_id"] is None and (superseded or values["replaces_all"]):
            raise InvalidInput("superseded_zones and replaces_all belong to an adjustment",
                               where="adjusts", hint="name the dossier it adjusts")
        dossier_id = await records.insert_dossier(conn, values, change.caller.name)
        await records.replace_superseded(conn, dossier_id, superseded)
        await records.set_status(conn, dossier_id, "draft", None, "created",
                                 change.caller.name)
        await records.refresh_search(conn, dossier_id)
        await change.record(conn, "planning.dossier.create", dossier_id, {
            "project_code": project_code, "adjusts": values["adjusts_id"],
            "registered_project": bool(known)})
    return dossier_id


async def editable(conn: psycopg.AsyncConnection, dossier_id: int) -> dict[str, Any]:
    found = await records.dossier(conn, dossier_id, lock=True)
    if found is None:
        raise NotFound(f"no planning dossier {dossier_id}", where="id",
                       hint="list the dossiers at /planning/dossiers")
    if found["status"] == "expired":
        raise InvalidInput(f"dossier {dossier_id} has expired and is closed", where="status",
                           hint="an expired plan's dossier is kept as it was")
    return found


async def attach(change: Change, dossier_id: int, values: dict[str, Any], text: str) -> int:
    """A document row for a file already in the store."""
    async with change.state.pool.connection() as conn, conn.transaction():
        await editable(conn, dossier_id)
        document_id = await records.insert_document(
            conn, {**values, "dossier_id": dossier_id}, text, change.caller.name)
        await conn.execute("UPDATE planning_docs.dossiers SET updated_by = %s, "
                           "updated_at = now() WHERE id = %s",
                           (change.caller.name, dossier_id))
        await change.record(conn, "planning.document.add", dossier_id, {
            "document": document_id, "kind": values["kind"], "sha256": values["sha256"],
            "media_type": values["media_type"], "size": values["size_bytes"],
            "text_chars": len(text)})
    return document_id


async def decide(change: Change, dossier_id: int, body: dict[str, Any]) -> None:
    rules.require_editor(change.caller)
    decided = fields.day(body, "decision_date", required=True)
    effective = fields.day(body, "effective_date") or decided
    assert decided is not None and effective is not None
    if effective < decided:
        raise InvalidInput("effective_date is before decision_date", where="effective_date",
                           hint="a decision takes effect on or after the day it is signed")
    values = {"number": fields.text(body, "number", required=True, max_length=100),
              "decision_date": decided, "effective_date": effective,
              "authority": fields.text(body, "authority", required=True, max_length=300),
              "signer": fields.text(body, "signer", max_length=200),
              "document_id": fields.integer(body, "document_id")}
    async with change.state.pool.connection() as conn, conn.transaction():
        found = await editable(conn, dossier_id)
        if found["status"] not in rules.PENDING_STATUSES + ("approved",):
            raise InvalidInput(f"dossier {dossier_id} is {found['status']}: its decision "
                               "can no longer change", where="status",
                               hint="an adjustment has its own dossier and decision")
        if values["document_id"] is not None:
            doc = await records.document(conn, values["document_id"])
            if doc is None or doc["dossier_id"] != dossier_id:
                raise InvalidInput(f"document {values['document_id']} is not a document of "
                                   f"dossier {dossier_id}", where="document_id",
                                   hint="upload the decision file to this dossier first")
        await records.upsert_decision(conn, dossier_id, values, change.caller.name)
        await records.refresh_search(conn, dossier_id)
        await change.record(conn, "planning.decision", dossier_id, {
            k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()})


async def change_status(change: Change, dossier_id: int, body: dict[str, Any]) -> None:
    rules.require_editor(change.caller)
    wanted = fields.text(body, "status", required=True, max_length=20)
    note = fields.text(body, "note", max_length=2000) or ""
    assert wanted is not None
    async with change.state.pool.connection() as conn, conn.transaction():
        found = await records.dossier(conn, dossier_id, lock=True)
        if found is None:
            raise NotFound(f"no planning dossier {dossier_id}", where="id",
                           hint="list the dossiers at /planning/dossiers")
        current = found["status"]
        rules.check_transition(current, wanted)
        ends = None
        if wanted == "approved":
            await _check_approvable(conn, found)
        if wanted == "expired":
            ends = fields.day(body, "effective_to") or date.today()
            if found["effective_from"] and ends < found["effective_from"]:
                raise InvalidInput("effective_to is before the plan took effect",
                                   where="effective_to",
                                   hint=f"give a day on or after {found['effective_from']}")
        await records.set_status(conn, dossier_id, wanted, current, note, change.caller.name,
                                 ends)
        await change.record(conn, "planning.status", dossier_id, {
            "from": current, "to": wanted, "note": note,
            "project_code": found["project_code"]})
        if wanted == "approved" and found["adjusts_id"] is not None:
            await _mark_adjusted(change, conn, found)


async def _check_approvable(conn: psycopg.AsyncConnection, found: dict[str, Any]) -> None:
    if await records.decision(conn, found["id"]) is None:
        raise InvalidInput(f"dossier {found['id']} has no approving decision", where="status",
                           hint=f"set it first: PUT /planning/manage/dossiers/{found['id']}/decision")
    if found["adjusts_id"] is not None:
        parent = await records.dossier(conn, found["adjusts_id"], lock=True)
        if parent is None or parent["status"] not in ("approved", "adjusted"):
            raise InvalidInput("an adjustment can be approved only while the plan it adjusts "
                               "is in force", where="status",
                               hint=f"approve dossier {found['adjusts_id']} first")


async def _mark_adjusted(change: Change, conn: psycopg.AsyncConnection,
                         found: dict[str, Any]) -> None:
    parent = await records.dossier(conn, found["adjusts_id"])
    assert parent is not None
    if parent["status"] != "adjusted":
        note = f"điều chỉnh bởi hồ sơ {found['id']} ({found['project_code']})"
        await records.set_status(conn, parent["id"], "adjusted", parent["status"], note,
                                 change.caller.name)
        await change.record(conn, "planning.status", parent["id"], {
            "from": parent["status"], "to": "adjusted", "note": note,
            "project_code": parent["project_code"], "adjustment": found["id"]})

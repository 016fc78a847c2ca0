"""The planning lookup: every approved plan and zone covering a place on a day, with the
land use, the building limits, the parcel's share in each zone and the approving decision.

Order of work: the day's dossier facts (API role, ``asof``) -> the zones and plans under the
caller's plans (one reader transaction) -> the found plans' dossiers, decisions and pending
adjustments (API role) -> one ``Lookup``, shown as JSON, GeoJSON or the printed sheet.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.access import AccessPlan, Caller
from iocgis.api.query.context import QueryContext
from iocgis.planning_docs import asof, codes, limits, rules
from iocgis.planning_docs.lookup_sql import MIN_OVERLAP_M2, projects_statement, zones_statement
from iocgis.planning_docs.places import ParcelRequest, Place

SQL_DIR = Path(__file__).parent / "sql"
PLAN_DOSSIERS_SQL = (SQL_DIR / "plan_dossiers.sql").read_text(encoding="utf-8")
PENDING_SQL = (SQL_DIR / "pending.sql").read_text(encoding="utf-8")
KIND_ORDER = ("tong_the", "chung", "phan_khu", "chi_tiet")


@dataclass
class PlanResult:
    project: dict[str, Any]  # the planning.projects row (or what the dossier says)
    dossier: dict[str, Any] | None = None
    zones: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)

    @property
    def code(self) -> str:
        return str(self.project["project_code"])


@dataclass
class Lookup:
    place: Place
    as_of: date
    plans: list[PlanResult]

    @property
    def zones(self) -> list[dict[str, Any]]:
        return [z for p in self.plans for z in p.zones]


async def run_lookup(ctx: QueryContext, where: Place | ParcelRequest, as_of: date, *,
                     shapes: bool = False) -> Lookup:
    """Latency is round trips: the day's facts are read on the API connection while the
    reader opens the caller's scope (with the parcel's read in the same pipeline); the zones
    and the plans go in one pipeline; the plans' dossiers are read (both statements in one
    pipeline) while the reader commits. Three round trips in a row in all."""
    zones_plan = ctx.plan(codes.ZONES)
    projects_plan = ctx.plan(codes.PROJECTS)
    plans = [zones_plan, projects_plan] + (
        [where.plan] if isinstance(where, ParcelRequest) else [])
    async with ctx.pool.connection() as api:  # the dossier tables: the API role's own
        facts_read = asyncio.ensure_future(asof.in_force(api, as_of))
        dossiers_read: asyncio.Future[DossierRows] | None = None
        try:
            async with _scope_opened(ctx, plans, where) as (conn, place):
                facts = await facts_read
                area = place.kind != "point"
                zones_q = zones_statement(zones_plan, projects_plan, facts, place.wkb,
                                          area=area, shapes=shapes)
                projects_q = projects_statement(projects_plan, zones_plan, facts, place.wkb)
                zones_cur = conn.cursor(row_factory=dict_row)
                projects_cur = conn.cursor(row_factory=dict_row)
                async with conn.pipeline():
                    await zones_cur.execute(zones_q.query, zones_q.params)
                    await projects_cur.execute(projects_q.query, projects_q.params)
                zone_rows = [r for r in await zones_cur.fetchall()
                             if not area or (r["overlap_m2"] or 0) >= MIN_OVERLAP_M2]
                zone_projects = {r["project_code"] for r in zone_rows}
                found: dict[str, PlanResult] = {}
                for row in await projects_cur.fetchall():
                    if row.pop("covers_place") or row["project_code"] in zone_projects:
                        found[row["project_code"]] = PlanResult(row)
                for row in zone_rows:
                    found.setdefault(row["project_code"],
                                     PlanResult({"project_code": row["project_code"]}))
                if found:
                    dossiers_read = asyncio.ensure_future(dossier_rows(
                        api, dossier_params(ctx.caller, list(found), as_of)))
            dossiers = await dossiers_read if dossiers_read is not None else None
        finally:  # a failed lookup still lets the API connection's statement end
            for pending in (facts_read, dossiers_read):
                if pending is not None and not pending.done():
                    await asyncio.gather(pending, return_exceptions=True)
    for row in zone_rows:
        found[row["project_code"]].zones.append(zone_view(ctx, row, place))
    if dossiers is not None:
        attach_dossiers(ctx.caller, list(found.values()), dossiers)
    ordered = sorted(found.values(), key=lambda p: (
        KIND_ORDER.index(p.project.get("kind")) if p.project.get("kind") in KIND_ORDER else 9,
        p.code))
    return Lookup(place, as_of, ordered)


@asynccontextmanager
async def _scope_opened(ctx: QueryContext, plans: list[AccessPlan],
                        where: Place | ParcelRequest
                        ) -> AsyncIterator[tuple[psycopg.AsyncConnection, Place]]:
    """The reader's transaction under the caller's plans, and the place: a parcel is read in
    the pipeline that opens the scope."""
    what, hint = "planning lookup", "look up a smaller place"
    if isinstance(where, ParcelRequest):
        async with ctx.reader.reading_from(plans, (where.statement, where.values), what=what,
                                           hint=hint) as (conn, row):
            yield conn, where.place(row)
    else:
        async with ctx.reader.reading(plans, what=what, hint=hint) as conn:
            yield conn, where


def zone_view(ctx: QueryContext, row: dict[str, Any], place: Place) -> dict[str, Any]:
    values, from_label = limits.zone_limits(row)
    overlap = row.get("overlap_m2")
    share = (overlap / place.area_m2) if overlap is not None and place.area_m2 else None
    out = {"zone_code": row["zone_code"], "project_code": row["project_code"],
           "land_use": codes.titled(ctx.registry, codes.ZONES, "land_use", row["land_use"]),
           **values, "limits_from_label": from_label, "label": row.get("label"),
           "overlap_m2": None if overlap is None else round(overlap, 2),
           "share": None if share is None else round(min(share, 1.0), 4)}
    if row.get("shape"):
        out["geometry"] = json.loads(row["shape"])
    return out


@dataclass(frozen=True)
class DossierRows:
    dossiers: list[dict[str, Any]]
    pending: list[dict[str, Any]]


async def dossier_rows(conn: psycopg.AsyncConnection, params: dict[str, Any]) -> DossierRows:
    """The plans' dossiers and pending adjustments: two statements, one round trip."""
    async with conn.pipeline():
        dossiers = conn.cursor(row_factory=dict_row)
        pending = conn.cursor(row_factory=dict_row)
        await dossiers.execute(PLAN_DOSSIERS_SQL, params)
        await pending.execute(PENDING_SQL, params)
    return DossierRows(await dossiers.fetchall(), await pending.fetchall())


def attach_dossiers(caller: Caller, plans: list[PlanResult], rows: DossierRows) -> None:
    """Each found plan's dossier (when the caller may read it), decision and pending
    adjustments (draft ones only for callers who read drafts)."""
    by_code = {p.code: p for p in plans}
    for row in rows.dossiers:
        if rules.may_read_dossier(caller, row["status"]):
            by_code[row["project_code"]].dossier = dossier_summary(caller, row)
    for row in rows.pending:
        plan = by_code[row["adjusted_code"]]
        zone_codes = {z["zone_code"] for z in plan.zones}
        affects = row["replaces_all"] or bool(zone_codes & set(row["zones"])) \
            or not row["zones"]
        plan.pending.append({
            "dossier_id": row["id"], "project_code": row["project_code"],
            "title": row["title"], "status": row["status"],
            "status_title": rules.STATUS_TITLES[row["status"]],
            "effective_from": row["effective_from"], "replaces_all": row["replaces_all"],
            "superseded_zones": row["zones"], "affects_this_place": affects,
            "href": f"/planning/dossiers/{row['id']}"})
    for plan in plans:
        if plan.dossier and "name" not in plan.project:  # zones of a plan the layer lacks
            plan.project.update(name=plan.dossier["title"], kind=plan.dossier["kind"],
                                scale=plan.dossier["scale"])


def dossier_params(caller: Caller, project_codes: list[str], as_of: date) -> dict[str, Any]:
    """Parameters of the plans' dossier and pending-adjustment statements."""
    return {"codes": project_codes, "as_of": as_of,
            "pending": [s for s in rules.PENDING_STATUSES if rules.may_read_dossier(caller, s)],
            "approved": list(rules.APPROVED_STATUSES), "map_types": list(rules.MAP_TILE_TYPES)}


def dossier_summary(caller: Caller, row: dict[str, Any]) -> dict[str, Any]:
    decision = None
    if row["number"] is not None:
        document = None
        if row["document_id"] is not None and rules.may_read_document(
                caller, row["document_sensitivity"], row["status"]):
            document = {"id": row["document_id"], "media_type": row["media_type"],
                        "file_name": row["file_name"],
                        "href": f"/planning/documents/{row['document_id']}"}
        decision = {"number": row["number"], "date": row["decision_date"],
                    "effective_date": row["effective_date"], "authority": row["authority"],
                    "signer": row["signer"], "document": document}
    return {"id": row["id"], "title": row["title"], "kind": row["kind"], "scale": row["scale"],
            "status": row["status"], "status_title": rules.STATUS_TITLES[row["status"]],
            "effective_from": row["effective_from"], "effective_to": row["effective_to"],
            "adjusts": None if row["adjusts_id"] is None else {
                "id": row["adjusts_id"], "project_code": row["adjusts_project_code"]},
            "decision": decision, "scans": scans_of(caller, row),
            "href": f"/planning/dossiers/{row['id']}"}


def scans_of(caller: Caller, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The dossier's scans the caller may read, with their map tiles (the web map's overlay;
    the tile routes ask the same rule)."""
    base = "/planning/documents/{}"
    return [{"id": scan["id"], "title": scan["title"],
             "tilejson": base.format(scan["id"]) + "/tiles.json",
             "tiles": base.format(scan["id"]) + "/tiles/{z}/{x}/{y}.png"}
            for scan in row["scans"]
            if rules.may_read_document(caller, scan["sensitivity"], row["status"])]

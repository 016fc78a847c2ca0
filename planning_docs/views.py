"""Dossiers as the caller may see them: documents they may not read are left out, and the
accounts behind each change are shown to internal readers only."""

from __future__ import annotations

from typing import Any

import psycopg

from iocgis.access import Caller
from iocgis.planning_docs import records, rules

STAFF_KEYS = ("created_by", "updated_by", "uploaded_by", "changed_by", "set_by")


def _hide_staff(caller: Caller, row: dict[str, Any]) -> dict[str, Any]:
    return row if rules.sees_staff(caller) else {k: v for k, v in row.items()
                                                  if k not in STAFF_KEYS}


def document_view(caller: Caller, doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k != "sha256"}
    out.update(sha256=doc["sha256"], kind_title=rules.DOCUMENT_TITLES[doc["kind"]],
               href=f"/planning/documents/{doc['id']}")
    return _hide_staff(caller, out)


def summary_view(caller: Caller, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out.update(status_title=rules.STATUS_TITLES[row["status"]],
               href=f"/planning/dossiers/{row['id']}")
    return _hide_staff(caller, out)


async def dossier_view(conn: psycopg.AsyncConnection, caller: Caller,
                       row: dict[str, Any]) -> dict[str, Any]:
    dossier_id = row["id"]
    documents = [document_view(caller, d) for d in await records.documents(conn, dossier_id)
                 if rules.may_read_document(caller, d["sensitivity"], row["status"])]
    readable = {d["id"] for d in documents}
    decision = await records.decision(conn, dossier_id)
    if decision is not None:
        decision = _hide_staff(caller, dict(decision))
        if decision["document_id"] not in readable:
            decision["document_id"] = None
        else:
            decision["document_href"] = f"/planning/documents/{decision['document_id']}"
    adjustments = [summary_view(caller, a) for a in await records.adjustments(conn, dossier_id)
                   if rules.may_read_dossier(caller, a["status"])]
    return {**summary_view(caller, row),
            "superseded_zones": await records.superseded_zones(conn, dossier_id),
            "decision": decision, "documents": documents, "adjustments": adjustments,
            "history": [_hide_staff(caller, h) for h in await records.history(conn, dossier_id)]}

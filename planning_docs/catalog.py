"""Dossiers and their documents as records of the OGC API - Records catalogue, beside the
layers (``api/ogc/records.py`` asks this module; pygeoapi's providers are synchronous).

What a caller finds follows ``rules`` as every other path does: a draft dossier (and its
documents) only for internal readers, a document at the higher of its own sensitivity and its
dossier's level. ``q`` is answered by the dossiers' text search index (with or without
diacritics, either tone-mark placement: ``planning_docs.vn_folded``), any term matching.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.access import Caller
from iocgis.planning_docs import rules
from iocgis.planning_docs.vntext import normalise

DOSSIER_PREFIX, DOCUMENT_PREFIX = "planning.dossier.", "planning.document."
# Any of the terms, through the folded index (the index the search endpoint uses).
_MATCHES = ("(%(terms)s::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest(%(terms)s::text[]) t "
            "WHERE {tsv} @@ websearch_to_tsquery('planning_docs.vn_folded', t)))")
DOSSIERS_SQL = (
    "SELECT d.id, d.project_code, d.title, d.kind, d.scale, d.description, d.status, "
    "d.effective_from, d.effective_to, d.updated_at, c.number, c.decision_date, c.authority "
    "FROM planning_docs.dossiers d LEFT JOIN planning_docs.decisions c ON c.dossier_id = d.id "
    "WHERE d.status = ANY(%(statuses)s) AND (%(id)s::bigint IS NULL OR d.id = %(id)s) AND "
    + _MATCHES.format(tsv="d.tsv_folded") + " ORDER BY d.id")
DOCUMENTS_SQL = (
    "SELECT doc.id, doc.dossier_id, doc.kind, doc.title, doc.file_name, doc.media_type, "
    "doc.size_bytes, doc.sensitivity, doc.uploaded_at, d.project_code, d.status "
    "FROM planning_docs.documents doc JOIN planning_docs.dossiers d ON d.id = doc.dossier_id "
    "WHERE d.status = ANY(%(statuses)s) AND doc.sensitivity = ANY(%(levels)s) AND "
    "(%(id)s::bigint IS NULL OR doc.id = %(id)s) AND "
    + _MATCHES.format(tsv="doc.tsv_folded") + " ORDER BY doc.id")


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _common(kind: str, title: str, description: str, level: str,
            updated: datetime | None, keywords: list[str]) -> dict[str, Any]:
    """The properties every catalogue record has (the catalogue's queryables among them)."""
    return {"type": kind, "title": title, "description": description, "title_en": "",
            "description_en": "", "keywords": keywords, "language": {"code": "vi"},
            "themes": [{"concepts": [{"id": "planning"}], "scheme": "iocgis:layer-groups"}],
            "group": "planning", "sensitivity": level, "freshness": None,
            "updated": _iso(updated)}


def dossier_record(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    status = rules.STATUS_TITLES[row["status"]]
    decision = None if row["number"] is None else {
        "number": row["number"], "date": _iso(row["decision_date"]),
        "authority": row["authority"]}
    properties = _common("dossier", row["title"],
                         row["description"] or "", rules.dossier_level(row["status"]),
                         row["updated_at"], [row["project_code"], "quy hoạch", status["vi"]])
    properties.update(projectCode=row["project_code"], planKind=row["kind"],
                      scale=row["scale"], status=row["status"], statusTitle=status,
                      effectiveFrom=_iso(row["effective_from"]),
                      effectiveTo=_iso(row["effective_to"]), decision=decision)
    href = f"{base_url}/planning/dossiers/{row['id']}"
    return {"id": f"{DOSSIER_PREFIX}{row['id']}", "type": "Feature", "geometry": None,
            "time": None, "properties": properties,
            "links": [{"rel": "describes", "type": "application/json",
                       "title": "Hồ sơ quy hoạch / planning dossier", "href": href}]}


def document_record(row: dict[str, Any], base_url: str) -> dict[str, Any]:
    kind = rules.DOCUMENT_TITLES[row["kind"]]
    properties = _common("document", row["title"],
                         f"{kind['vi']} ({kind['en']}), {row['project_code']}: "
                         f"{row['file_name']}",
                         rules.document_level(row["sensitivity"], row["status"]),
                         row["uploaded_at"], [row["project_code"], kind["vi"]])
    properties.update(projectCode=row["project_code"], documentKind=row["kind"],
                      mediaType=row["media_type"], fileName=row["file_name"],
                      sizeBytes=row["size_bytes"], dossier=f"{DOSSIER_PREFIX}{row['dossier_id']}")
    href = f"{base_url}/planning/documents/{row['id']}"
    links = [{"rel": "enclosure", "type": row["media_type"], "title": row["file_name"],
              "href": href, "length": row["size_bytes"]},
             {"rel": "related", "type": "application/json", "title": "Hồ sơ / dossier",
              "href": f"{base_url}/planning/dossiers/{row['dossier_id']}"}]
    if rules.has_map_tiles(row["media_type"]):
        links.append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-map",
                      "type": "application/json", "title": "Bản đồ quét / map tiles",
                      "href": f"{href}/map/tiles"})
    return {"id": f"{DOCUMENT_PREFIX}{row['id']}", "type": "Feature", "geometry": None,
            "time": None, "properties": properties, "links": links}


def _params(caller: Caller, q: tuple[str, ...], record_id: int | None) -> dict[str, Any]:
    return {"statuses": rules.visible_statuses(caller), "levels": rules.readable_levels(caller),
            "terms": [normalise(t) for t in q] or None, "id": record_id}


def _rows(conn: psycopg.Connection, statement: str, params: dict[str, Any]) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(statement, params)
        return cur.fetchall()


def records(conn: psycopg.Connection, caller: Caller, base_url: str,
            q: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The dossiers, then the documents, the caller may read (those matching ``q``)."""
    params = _params(caller, q, None)
    return ([dossier_record(r, base_url) for r in _rows(conn, DOSSIERS_SQL, params)]
            + [document_record(r, base_url) for r in _rows(conn, DOCUMENTS_SQL, params)])


def record(conn: psycopg.Connection, caller: Caller, base_url: str,
           record_id: str) -> dict[str, Any] | None:
    """One record by its catalogue id, or None (unknown, or not for this caller)."""
    for prefix, statement, build in ((DOSSIER_PREFIX, DOSSIERS_SQL, dossier_record),
                                     (DOCUMENT_PREFIX, DOCUMENTS_SQL, document_record)):
        number = record_id.removeprefix(prefix)
        if number != record_id and number.isdigit() and len(number) <= 18:
            rows = _rows(conn, statement, _params(caller, (), int(number)))
            return build(rows[0], base_url) if rows else None
    return None

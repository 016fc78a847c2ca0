"""The dossier tables (schema ``planning_docs``): reads and writes, one function per question.

These tables are not registry layers: the API role reads and writes them on its own
connection, and the callers' rules (``iocgis.planning_docs.rules``) decide what is shown.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.planning_docs.vntext import search_text

Row = dict[str, Any]
DOSSIER = ("SELECT d.id, d.project_code, d.title, d.kind, d.scale, d.description, d.status, "
           "d.adjusts_id, a.project_code AS adjusts_project_code, d.replaces_all, "
           "d.effective_from, d.effective_to, d.created_by, d.created_at, d.updated_by, "
           "d.updated_at FROM planning_docs.dossiers d "
           "LEFT JOIN planning_docs.dossiers a ON a.id = d.adjusts_id ")
DOCUMENT = ("SELECT id, dossier_id, kind, title, file_name, sha256, media_type, size_bytes, "
            "sensitivity, text_chars, uploaded_by, uploaded_at FROM planning_docs.documents ")


async def _rows(conn: psycopg.AsyncConnection, query: str, params: Any = ()) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _one(conn: psycopg.AsyncConnection, query: str, params: Any = ()) -> Row | None:
    rows = await _rows(conn, query, params)
    return rows[0] if rows else None


async def dossier(conn: psycopg.AsyncConnection, dossier_id: int, *,
                  lock: bool = False) -> Row | None:
    return await _one(conn, DOSSIER + "WHERE d.id = %s" + (" FOR UPDATE OF d" if lock else ""),
                      (dossier_id,))


async def dossier_by_code(conn: psycopg.AsyncConnection, project_code: str) -> Row | None:
    return await _one(conn, DOSSIER + "WHERE d.project_code = %s", (project_code,))


async def dossiers(conn: psycopg.AsyncConnection, statuses: list[str], *,
                   status: str | None = None, kind: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[Row]:
    return await _rows(conn, DOSSIER + "WHERE d.status = ANY(%s) AND (%s::text IS NULL OR "
                       "d.status = %s) AND (%s::text IS NULL OR d.kind = %s) "
                       "ORDER BY d.updated_at DESC, d.id DESC LIMIT %s OFFSET %s",
                       (statuses, status, status, kind, kind, limit, offset))


async def documents(conn: psycopg.AsyncConnection, dossier_id: int) -> list[Row]:
    return await _rows(conn, DOCUMENT + "WHERE dossier_id = %s ORDER BY id", (dossier_id,))


async def document(conn: psycopg.AsyncConnection, document_id: int) -> Row | None:
    return await _one(conn, DOCUMENT + "WHERE id = %s", (document_id,))


async def decision(conn: psycopg.AsyncConnection, dossier_id: int) -> Row | None:
    return await _one(conn, "SELECT dossier_id, number, decision_date, effective_date, "
                            "authority, signer, document_id, set_by, set_at "
                            "FROM planning_docs.decisions WHERE dossier_id = %s", (dossier_id,))


async def history(conn: psycopg.AsyncConnection, dossier_id: int) -> list[Row]:
    return await _rows(conn, "SELECT status, previous, note, changed_by, changed_at "
                             "FROM planning_docs.status_history WHERE dossier_id = %s "
                             "ORDER BY changed_at, id", (dossier_id,))


async def adjustments(conn: psycopg.AsyncConnection, dossier_id: int) -> list[Row]:
    return await _rows(conn, "SELECT id, project_code, title, status, effective_from, "
                             "replaces_all FROM planning_docs.dossiers WHERE adjusts_id = %s "
                             "ORDER BY id", (dossier_id,))


async def superseded_zones(conn: psycopg.AsyncConnection, adjustment_id: int) -> list[str]:
    rows = await _rows(conn, "SELECT zone_code FROM planning_docs.superseded_zones "
                             "WHERE adjustment_id = %s ORDER BY zone_code", (adjustment_id,))
    return [r["zone_code"] for r in rows]


async def insert_dossier(conn: psycopg.AsyncConnection, values: Row, actor: str) -> int:
    cur = await conn.execute(
        "INSERT INTO planning_docs.dossiers (project_code, title, kind, scale, description, "
        "adjusts_id, replaces_all, created_by, updated_by) "
        "VALUES (%(project_code)s, %(title)s, %(kind)s, %(scale)s, %(description)s, "
        "%(adjusts_id)s, %(replaces_all)s, %(actor)s, %(actor)s) RETURNING id",
        {**values, "actor": actor})
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def replace_superseded(conn: psycopg.AsyncConnection, adjustment_id: int,
                             zone_codes: list[str]) -> None:
    await conn.execute("DELETE FROM planning_docs.superseded_zones WHERE adjustment_id = %s",
                       (adjustment_id,))
    if zone_codes:
        await conn.execute("INSERT INTO planning_docs.superseded_zones (adjustment_id, zone_code)"
                           " SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                           (adjustment_id, zone_codes))


async def insert_document(conn: psycopg.AsyncConnection, values: Row, text: str,
                          actor: str) -> int:
    cur = await conn.execute(
        "INSERT INTO planning_docs.documents (dossier_id, kind, title, file_name, sha256, "
        "media_type, size_bytes, sensitivity, text_chars, uploaded_by, search_text) VALUES "
        "(%(dossier_id)s, %(kind)s, %(title)s, %(file_name)s, %(sha256)s, %(media_type)s, "
        "%(size_bytes)s, %(sensitivity)s, %(text_chars)s, %(actor)s, %(search_text)s) "
        "RETURNING id",
        {**values, "actor": actor, "text_chars": len(text),
         "search_text": search_text(values["title"], values["file_name"], text)})
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def upsert_decision(conn: psycopg.AsyncConnection, dossier_id: int, values: Row,
                          actor: str) -> None:
    await conn.execute(
        "INSERT INTO planning_docs.decisions (dossier_id, number, decision_date, effective_date,"
        " authority, signer, document_id, set_by) VALUES (%(dossier_id)s, %(number)s, "
        "%(decision_date)s, %(effective_date)s, %(authority)s, %(signer)s, %(document_id)s, "
        "%(actor)s) ON CONFLICT (dossier_id) DO UPDATE SET number = EXCLUDED.number, "
        "decision_date = EXCLUDED.decision_date, effective_date = EXCLUDED.effective_date, "
        "authority = EXCLUDED.authority, signer = EXCLUDED.signer, "
        "document_id = EXCLUDED.document_id, set_by = EXCLUDED.set_by, set_at = now()",
        {**values, "dossier_id": dossier_id, "actor": actor})
    await conn.execute("UPDATE planning_docs.dossiers SET effective_from = %s, updated_by = %s, "
                       "updated_at = now() WHERE id = %s",
                       (values["effective_date"], actor, dossier_id))


async def set_status(conn: psycopg.AsyncConnection, dossier_id: int, status: str,
                     previous: str | None, note: str, actor: str,
                     effective_to: date | None = None) -> None:
    await conn.execute("UPDATE planning_docs.dossiers SET status = %s, updated_by = %s, "
                       "updated_at = now(), effective_to = coalesce(%s, effective_to) "
                       "WHERE id = %s", (status, actor, effective_to, dossier_id))
    await conn.execute("INSERT INTO planning_docs.status_history (dossier_id, status, previous, "
                       "note, changed_by) VALUES (%s, %s, %s, %s, %s)",
                       (dossier_id, status, previous, note, actor))


async def refresh_search(conn: psycopg.AsyncConnection, dossier_id: int) -> None:
    """The dossier's own index text: code, title, description, its decision."""
    found = await dossier(conn, dossier_id)
    if found is None:
        return
    made = await decision(conn, dossier_id)
    parts = [found["project_code"], found["title"], found["description"]]
    if made:
        parts += [made["number"], made["authority"], made["signer"]]
    await conn.execute("UPDATE planning_docs.dossiers SET search_text = %s WHERE id = %s",
                       (search_text(*parts), dossier_id))

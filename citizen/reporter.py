"""The reporter's one-time link: follow the report, and rate each answer once. A low rating
reopens the report (back in progress); any other closes it. The link shows no identity."""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.citizen.context import CitizenContext
from iocgis.citizen.workflow import Actor, IllegalTransition, Step, apply, clean_text
from iocgis.errors import InvalidInput, NotFound

TRACK = """
SELECT id, report_code, category, status, unit_code, unit_name, summary, answer, reported_at,
       due_at, answered_at, closed_at, answer_round, rating,
       EXISTS (SELECT 1 FROM citizen_private.ratings r
                WHERE r.case_id = c.id AND r.answer_round = c.answer_round) AS rated
FROM citizen_private.cases c WHERE tracking_hash = %s
"""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _find(conn: psycopg.AsyncConnection, token: str,
                lock: bool = False) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(TRACK + (" FOR UPDATE OF c" if lock else ""), (_hash(token[:200]),))
    row = await cur.fetchone()
    if row is None:
        raise NotFound("no report has this link", where="link",
                       hint="use the whole link you were given when you sent the report")
    return row


def public_view(context: CitizenContext, row: dict[str, Any]) -> dict[str, Any]:
    can_rate = row["status"] == "da_tra_loi" and not row["rated"]
    return {"report_code": row["report_code"], "category": row["category"],
            "status": row["status"], "unit": row["unit_name"], "answer": row["answer"],
            "reported_at": row["reported_at"].isoformat(),
            "due_at": row["due_at"].isoformat() if row["due_at"] else None,
            "answered_at": row["answered_at"].isoformat() if row["answered_at"] else None,
            "rating": row["rating"], "can_rate": can_rate,
            "rating_scale": context.process.workflow.rating.scale}


async def track(context: CitizenContext, token: str) -> dict[str, Any]:
    async with context.pool.connection() as conn:
        return public_view(context, await _find(conn, token))


async def rate(context: CitizenContext, token: str, rating: object, comment: object,
               client: str | None) -> dict[str, Any]:
    rule = context.process.workflow.rating
    try:
        value = int(str(rating))
    except ValueError:
        value = 0
    if not 1 <= value <= rule.scale:
        raise InvalidInput(f"the rating must be a whole number from 1 to {rule.scale}",
                           where="rating", hint=f"send 1 (not satisfied) .. {rule.scale}")
    note = clean_text(comment, "comment", limit=1000)
    async with context.pool.connection() as conn, conn.transaction():
        row = await _find(conn, token, lock=True)
        if row["status"] != "da_tra_loi" or row["rated"]:
            raise IllegalTransition("this answer cannot be rated (not answered yet, or rated "
                                    "already: each answer is rated once)", where="link",
                                    hint="wait for the unit's answer")
        await conn.execute("INSERT INTO citizen_private.ratings (case_id, answer_round, rating, "
                           "comment) VALUES (%s, %s, %s, %s)",
                           (row["id"], row["answer_round"], value, note))
        await conn.execute("UPDATE citizen_private.cases SET rating = %s WHERE id = %s",
                           (value, row["id"]))
        reporter = Actor(name="reporter", kind="reporter", client=client)
        if value <= rule.reopen_at_or_below:
            step = Step(to="dang_xu_ly", note=f"rated {value}/{rule.scale}: {note or ''}".strip())
        else:
            step = Step(to="da_dong", note=f"rated {value}/{rule.scale}")
        await apply(conn, context.process, row["id"], step, reporter)
        return public_view(context, await _find(conn, token))

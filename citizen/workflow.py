"""The handling process: a report moves only along the transitions of workflow.yaml, each one
recorded (who, when, note) in citizen_private.transitions and in the audit trail.

The caller of ``apply`` holds a transaction; the case row is locked (FOR UPDATE) so two
officers acting at once take turns and the second sees the first's status.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from iocgis.citizen.definitions import Process
from iocgis.citizen.routing import Unit
from iocgis.errors import InvalidInput, IocgisError, NotFound
from iocgis.security import audit

MAX_NOTE = 4000


class IllegalTransition(IocgisError):
    """The report's status does not allow this step (or not for this actor)."""

    http_status = 409
    code = "IllegalTransition"
    exit_code = 2


@dataclass(frozen=True)
class Actor:
    name: str
    kind: Literal["handler", "system", "reporter"]
    client: str | None = None


@dataclass(frozen=True)
class Step:
    to: str
    note: str | None = None
    unit: Unit | None = None
    answer: str | None = None
    reason: str | None = None


def clean_text(value: object, where: str, *, limit: int = MAX_NOTE) -> str | None:
    """NFC, stripped, at most ``limit`` characters; None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be text", where=where)
    text = unicodedata.normalize("NFC", value).replace("\x00", "").strip()
    if len(text) > limit:
        raise InvalidInput(f"{where} is longer than {limit} characters", where=where,
                           hint="shorten it")
    return text or None


# Columns a target status sets besides the status itself.
_EFFECTS: dict[str, str] = {
    "da_giao": "unit_code = %(unit_code)s, unit_name = %(unit_name)s",
    "da_tra_loi": "answer = %(answer)s, answered_at = now(), answer_round = answer_round + 1",
    "tu_choi": "answer = %(reason)s, final_at = now()",
    "da_dong": "closed_at = now(), final_at = now()",
    "dang_xu_ly": "answered_at = NULL",  # reopened: the next answer is the one that counts
}


def _check(process: Process, current: str, step: Step, actor: Actor, code: str) -> None:
    rule = process.workflow.transition(current, step.to)
    if rule is None:
        allowed = ", ".join(process.workflow.targets(current)) or "nothing (it is final)"
        raise IllegalTransition(f"report {code} is {current!r}: it cannot go to {step.to!r}",
                                where="to", hint=f"from {current!r} it may go to: {allowed}")
    if actor.kind not in rule.by:
        raise IllegalTransition(f"the step {current!r} -> {step.to!r} is not taken by a "
                                f"{actor.kind}", where="to",
                                hint=f"it is taken by: {', '.join(rule.by)}")
    for need in rule.needs:
        if getattr(step, need) is None:
            raise InvalidInput(f"the step {current!r} -> {step.to!r} needs a {need}",
                               where=need, hint=f"send {need} with the request")


async def apply(conn: psycopg.AsyncConnection, process: Process, case_id: int, step: Step,
                actor: Actor) -> dict[str, Any]:
    """Move one case (inside the caller's transaction); returns the case row after it."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT id, report_code, status, unit_code FROM citizen_private.cases "
                      "WHERE id = %s FOR UPDATE", (case_id,))
    case = await cur.fetchone()
    if case is None:
        raise NotFound("unknown report", where="report")
    _check(process, case["status"], step, actor, case["report_code"])
    effect = _EFFECTS.get(step.to, "")
    params = {"id": case_id, "status": step.to, "answer": step.answer, "reason": step.reason,
              "unit_code": step.unit.code if step.unit else None,
              "unit_name": step.unit.vi if step.unit else None}
    await cur.execute(
        f"UPDATE citizen_private.cases SET status = %(status)s{', ' + effect if effect else ''}, "
        "updated_at = now() WHERE id = %(id)s RETURNING *", params)
    after = await cur.fetchone()
    note = step.note or step.reason
    await conn.execute(
        "INSERT INTO citizen_private.transitions (case_id, from_status, to_status, actor, "
        "actor_kind, unit_code, note) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (case_id, case["status"], step.to, actor.name, actor.kind, after["unit_code"], note))
    if step.to not in process.workflow.open_statuses:
        await conn.execute("UPDATE citizen_private.alerts SET resolved_at = now() "
                           "WHERE case_id = %s AND resolved_at IS NULL", (case_id,))
    await audit.record(conn, actor=actor.name, action="citizen.transition",
                       target=case["report_code"], layer="citizen.reports", client=actor.client,
                       details={"from": case["status"], "to": step.to, "by": actor.kind,
                                "unit": after["unit_code"]})
    return after


async def history(conn: psycopg.AsyncConnection, case_id: int) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute("SELECT from_status, to_status, actor, actor_kind, unit_code, note, at "
                      "FROM citizen_private.transitions WHERE case_id = %s ORDER BY id",
                      (case_id,))
    return await cur.fetchall()

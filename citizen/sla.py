"""Deadlines: reports still open past their due time raise an alert for their unit; every
``escalation.after_working_days`` working days late they escalate one level to
``escalation.escalate_to`` (categories.yaml), up to ``max_level``. Run by ``iocgis citizen
sla-check`` (e.g. every hour from cron) or ``POST /citizen/sla/check``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from iocgis.citizen.calendar import WorkingCalendar
from iocgis.citizen.definitions import Process
from iocgis.security import audit

OVERDUE = """
SELECT id, report_code, unit_code, due_at, escalation_level FROM citizen_private.cases
WHERE final_at IS NULL AND status = ANY(%s) AND due_at < %s ORDER BY due_at
"""


@dataclass(frozen=True)
class Alert:
    report_code: str
    unit_code: str
    kind: str  # overdue | escalated
    level: int
    working_days_late: int


def level_for(process: Process, working_days_late: int) -> int:
    rule = process.routing.escalation
    return min(rule.max_level, 1 + working_days_late // rule.after_working_days)


async def scan(conn: psycopg.AsyncConnection, process: Process, calendar: WorkingCalendar,
               at: datetime, actor: str = "system") -> list[Alert]:
    """Raise the alerts due at ``at``; returns the new ones (an alert is raised once)."""
    raised: list[Alert] = []
    cur = await conn.execute(OVERDUE, (list(process.workflow.open_statuses), at))
    for case_id, code, unit, due, current in await cur.fetchall():
        late = calendar.working_days_late(due, at)
        target = level_for(process, late)
        for level in range(1, target + 1):
            kind = "overdue" if level == 1 else "escalated"
            to_unit = (unit or process.routing.escalation.escalate_to) if level == 1 \
                else process.routing.escalation.escalate_to
            added = await conn.execute(
                "INSERT INTO citizen_private.alerts (case_id, unit_code, kind, level, "
                "working_days_late, raised_at) VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (case_id, level) DO NOTHING", (case_id, to_unit, kind, level, late,
                                                            at))
            if added.rowcount:
                raised.append(Alert(code, to_unit, kind, level, late))
                await audit.record(conn, actor=actor, action=f"citizen.sla.{kind}", target=code,
                                   layer="citizen.reports",
                                   details={"unit": to_unit, "level": level,
                                            "working_days_late": late})
        if target > current:
            await conn.execute("UPDATE citizen_private.cases SET escalation_level = %s "
                               "WHERE id = %s", (target, case_id))
    return raised


OPEN_ALERTS = """
SELECT a.unit_code, c.report_code, a.kind, a.level, a.working_days_late, a.raised_at,
       c.due_at, c.status, c.commune_code
FROM citizen_private.alerts a JOIN citizen_private.cases c ON c.id = a.case_id
WHERE a.resolved_at IS NULL AND (%(unit)s::text IS NULL OR a.unit_code = %(unit)s)
  AND (%(communes)s::text[] IS NULL OR c.commune_code = ANY(%(communes)s))
ORDER BY a.unit_code, a.level DESC, c.due_at
"""

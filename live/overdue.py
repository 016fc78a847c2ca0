"""Overdue steps of the incident workflow: an incident that stays in a status longer than the
workflow allows (``live/workflow.yaml``, per status and kind) raises one ``overdue`` alert,
cleared when the incident moves on (by its step, or by the sweep)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.live.alarms import ALERT_COLUMNS
from iocgis.live.jsonable import jsonable
from iocgis.live.store import NOTIFY_CHANNEL, NOTIFY_SQL, notify, notify_payloads
from iocgis.live.workflow import Workflow

# The limit of an incident's status: its kind's own, else the status's.
RAISE = """
WITH rule (status, kind, allowed) AS (
    SELECT * FROM unnest(%(statuses)s::text[], %(kinds)s::text[], %(allowed)s::interval[])
), due AS (
    SELECT i.incident_code, i.status, i.commune_code, coalesce(i.status_at, i.reported_at) AS since,
           r.allowed
    FROM emergency.incidents i
    CROSS JOIN LATERAL (SELECT allowed FROM rule r WHERE r.status = i.status
                        AND (r.kind = i.kind OR r.kind IS NULL)
                        ORDER BY r.kind IS NULL LIMIT 1) r
    WHERE i.status = ANY(%(statuses)s::text[])
      AND coalesce(i.status_at, i.reported_at) + r.allowed < now()
)
INSERT INTO live.alerts (kind, incident_code, incident_status, commune_code, level, peak_level,
                         observed_at, source)
SELECT 'overdue', incident_code, status, commune_code, 1, 1, since,
       'live/workflow.yaml: ' || status || ' within ' || allowed::text
FROM due
ON CONFLICT (incident_code, incident_status) WHERE kind = 'overdue' AND state <> 'cleared'
DO NOTHING
RETURNING """ + ALERT_COLUMNS

# An open overdue alert whose incident is no longer in that status (moved, or gone).
CLEAR_MOVED = """
UPDATE live.alerts a SET state = 'cleared', level = 0, cleared_at = now(), updated_at = now()
WHERE a.kind = 'overdue' AND a.state <> 'cleared' AND NOT EXISTS (
    SELECT 1 FROM emergency.incidents i WHERE i.incident_code = a.incident_code
    AND i.status = a.incident_status)
RETURNING """ + ALERT_COLUMNS


def _event(alert: dict[str, Any]) -> dict[str, Any]:
    return {"type": "alert", **jsonable(alert)}


def sweep(conn: psycopg.Connection, flow: Workflow) -> list[dict[str, Any]]:
    """Raise the alerts of steps now overdue, clear those of incidents that moved on; push
    both. Returns the alerts raised."""
    rules = flow.overdue_rules()
    params = {"statuses": [r[0] for r in rules], "kinds": [r[1] for r in rules],
              "allowed": [r[2] for r in rules]}
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(RAISE, params)
        raised = cur.fetchall()
        cur.execute(CLEAR_MOVED)
        cleared = cur.fetchall()
        notify(conn, [_event(a) for a in raised + cleared])
    return raised


async def clear_overdue(conn: Any, incident_code: str, status: str) -> list[dict[str, Any]]:
    """Inside the step's transaction: the incident left its status, so the overdue alert of
    the status it was in clears (pushed at commit)."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(
        "UPDATE live.alerts SET state = 'cleared', level = 0, cleared_at = now(), "
        "updated_at = now() WHERE kind = 'overdue' AND state <> 'cleared' AND "
        "incident_code = %s AND incident_status <> %s RETURNING " + ALERT_COLUMNS,
        (incident_code, status))
    cleared = await cur.fetchall()
    if cleared:
        await conn.execute(NOTIFY_SQL, (NOTIFY_CHANNEL,
                                        notify_payloads([_event(a) for a in cleared])))
    return [jsonable(a) for a in cleared]

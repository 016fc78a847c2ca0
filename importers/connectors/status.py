"""What the CLI, the HTTP API and the page show of the sources: each definition with its
state (last success, last change, next run, failures, open alert) and its runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from iocgis.importers.connectors.model import SourceDef
from iocgis.importers.connectors.run import Connectors, sync_state

RUN_COLUMNS = ("id, source_id, trigger, requested_by, status, attempt, incremental_since, "
               "started_at, finished_at, import_id, rows_in, diff, error")


def describe(source: SourceDef, state: dict[str, Any] | None,
             alert: dict[str, Any] | None) -> dict[str, Any]:
    """A source as listed: its definition (never credentials: only the entry's name)."""
    state = state or {}
    return {"id": source.id, "title": source.title.model_dump(), "layer": source.layer,
            "kind": source.kind, "url": source.url, "collection": source.collection,
            "table": source.table, "schedule": source.schedule,
            "cadence_s": int(source.cadence.total_seconds()), "mode": source.mode,
            "incremental": source.incremental.field if source.incremental else None,
            "owner": source.owner, "enabled": source.enabled,
            "credentials": source.credentials,
            "last_run_at": state.get("last_run_at"), "last_success_at": state.get("last_success_at"),
            "last_change_at": state.get("last_change_at"), "next_run_at": state.get("next_run_at"),
            "failures": state.get("failures", 0), "last_error": state.get("last_error"),
            "stale_alert": alert}


def listing(conn: psycopg.Connection, connectors: Connectors,
            now: datetime | None = None) -> list[dict[str, Any]]:
    sync_state(conn, connectors, now or datetime.now(UTC))
    with conn.cursor(row_factory=dict_row) as cur:
        states = {r["id"]: dict(r) for r in cur.execute("SELECT * FROM connectors.sources")}
        alerts = {r["source_id"]: dict(r) for r in cur.execute(
            "SELECT id, source_id, owner, message, raised_at FROM connectors.alerts "
            "WHERE cleared_at IS NULL")}
    return [describe(s, states.get(s.id), alerts.get(s.id))
            for s in sorted(connectors.sources.values(), key=lambda s: (s.layer, s.id))]


def runs(conn: psycopg.Connection, source_id: str, limit: int = 50) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return [dict(r) for r in cur.execute(
            f"SELECT {RUN_COLUMNS} FROM connectors.runs WHERE source_id = %s "
            "ORDER BY id DESC LIMIT %s", (source_id, limit)).fetchall()]

"""One run of a source: pull, import through the pipeline, and keep the source's state.

A run ends as ``loaded`` (the layer changed, live), ``pending`` (changed, waiting for a
steward as the group's ``approval`` says), ``unchanged`` (equal to the live layer: no new
data version), ``waiting`` (the layer already has an import pending: nothing pulled) or
``failed``. A failure leaves the live layer as it was (the pipeline's guarantee) and sets the
next try after an exponential back-off (``backoff_base`` × 2^(failures−1), at most the
cadence); a source failing for longer than its cadence raises one alert for its owner
(``connectors.alerts`` + audit ``source.stale``), cleared by its next success
(``source.recovered``).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.compute as pc
from psycopg.rows import dict_row

from iocgis.db import connect, database_url, expect_row
from iocgis.errors import ImportFailed, IocgisError
from iocgis.importers.connectors import fetch as fetchmod
from iocgis.importers.connectors.changes import ConnectorImporter, confirm_current
from iocgis.importers.connectors.definitions import get_source, load_credentials, load_sources
from iocgis.importers.connectors.model import SourceDef
from iocgis.importers.options import ImportOptions
from iocgis.layers import Registry, get_registry
from iocgis.security import audit
from iocgis.settings import Settings, get_settings

log = logging.getLogger("iocgis.connectors")
LOCK_NAMESPACE = 7_510_002  # advisory lock class for "a run of source X is going on"
TRIGGERS = ("schedule", "cli", "http")


@dataclass
class Connectors:
    """The definitions and where they run: what every entry point (CLI, HTTP, scheduler)
    builds once."""

    settings: Settings
    registry: Registry
    url: str
    sources: dict[str, SourceDef]

    @classmethod
    def load(cls, settings: Settings | None = None, registry: Registry | None = None,
             url: str | None = None) -> Connectors:
        settings = settings or get_settings()
        registry = registry or get_registry()
        return cls(settings, registry, url or database_url(settings),
                   load_sources(settings.sources.dir, registry))

    def source(self, source_id: str) -> SourceDef:
        return get_source(self.sources, source_id)


def sync_state(conn: psycopg.Connection, connectors: Connectors, now: datetime) -> None:
    """One ``connectors.sources`` row per definition (new ones due at once); a definition
    removed or disabled is kept, disabled, with its history. A fed layer's
    ``meta.layers.cadence`` becomes the shorter of the registry's and its sources'."""
    with conn.transaction():
        for s in connectors.sources.values():
            conn.execute(
                "INSERT INTO connectors.sources (id, layer_id, kind, owner, cadence, enabled, "
                "next_run_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
                "layer_id = EXCLUDED.layer_id, kind = EXCLUDED.kind, owner = EXCLUDED.owner, "
                "cadence = EXCLUDED.cadence, enabled = EXCLUDED.enabled, updated_at = now()",
                (s.id, s.layer, s.kind, s.owner, s.cadence, s.enabled, now))
        conn.execute("UPDATE connectors.sources SET enabled = false, updated_at = now() "
                     "WHERE enabled AND NOT (id = ANY(%s))", (list(connectors.sources),))
        # The catalogue's freshness (api/ogc/records.py) reads meta.layers.cadence: a layer
        # fed by a source is due by the shorter of the registry's cadence and the source's.
        due_by = {layer.id: layer.cadence for layer in connectors.registry}
        for s in connectors.sources.values():
            if s.enabled and s.layer in due_by:
                due_by[s.layer] = min(due_by[s.layer], s.cadence)
        conn.execute("UPDATE meta.layers l SET cadence = v.cadence FROM unnest(%s::text[], "
                     "%s::interval[]) AS v(id, cadence) WHERE l.id = v.id AND l.cadence IS "
                     "DISTINCT FROM v.cadence", (list(due_by), list(due_by.values())))


def state_of(conn: psycopg.Connection, source_id: str) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM connectors.sources WHERE id = %s",
                          (source_id,)).fetchone()
    assert row is not None, source_id
    return dict(row)


def _pending_import(conn: psycopg.Connection, layer_id: str) -> int | None:
    row = conn.execute("SELECT import_id FROM import_review.reviews WHERE layer_id = %s AND "
                       "status = 'pending' AND expires_at > now()", (layer_id,)).fetchone()
    return int(row[0]) if row else None


def _high_water(path: Path, field: str) -> str | None:
    """The newest edit time in the pulled file (one column read, not the rows)."""
    import pyogrio

    try:
        _, table = pyogrio.read_arrow(str(path), columns=[field], read_geometry=False)
    except Exception:  # the field is not in the file: the run says so below
        return None
    if field not in table.column_names or table.num_rows == 0:
        return None
    newest = pc.max(table[field]).as_py()
    if newest is None:
        return None
    if isinstance(newest, datetime):
        return newest.isoformat()
    if isinstance(newest, date):
        return datetime(newest.year, newest.month, newest.day).isoformat()
    return datetime.fromisoformat(str(newest)).isoformat()


def run_source(connectors: Connectors, source_id: str, *, trigger: str = "cli",
               user: str = "cli", full: bool = False, now: datetime | None = None
               ) -> dict[str, Any]:
    """Run one source now; returns the run record. Never raises for the source's own
    failures (they are the run's outcome); raises for a run already going on."""
    source = connectors.source(source_id)
    now = now or datetime.now(UTC)
    with connect(connectors.url, autocommit=True) as conn:
        sync_state(conn, connectors, now)
        got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                           (LOCK_NAMESPACE, source.id)).fetchone()
        if not got or not got[0]:
            raise ImportFailed(f"source {source.id} is running already", where=source.id,
                               hint="wait for its run to end (`iocgis sources history "
                                    f"{source.id}`)")
        try:
            conn.execute("UPDATE connectors.runs SET status = 'interrupted', finished_at = %s "
                         "WHERE source_id = %s AND status = 'running'", (now, source.id))
            return _run_locked(conn, connectors, source, trigger, user, full, now)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))",
                         (LOCK_NAMESPACE, source.id))


def _run_locked(conn: psycopg.Connection, connectors: Connectors, source: SourceDef,
                trigger: str, user: str, full: bool, now: datetime) -> dict[str, Any]:
    state = state_of(conn, source.id)
    since = state["high_water"] if source.incremental and not full else None
    run_id = int(expect_row(conn.execute(
        "INSERT INTO connectors.runs (source_id, trigger, requested_by, attempt, "
        "incremental_since, started_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (source.id, trigger, user, state["failures"] + 1, since, now)).fetchone())[0])
    outcome: dict[str, Any] = {"status": "failed", "import_id": None, "rows_in": None,
                               "diff": None, "error": None}
    high_water = state["high_water"]
    try:
        pending = _pending_import(conn, source.layer)
        if pending is not None:
            outcome.update(status="waiting", error=f"import {pending} of {source.layer} is "
                                                   "waiting for approval; nothing pulled")
        else:
            outcome.update(_pull_and_import(connectors, source, since, run_id))
            high_water = outcome.pop("high_water", None) or high_water
    except IocgisError as exc:
        outcome["error"] = str(exc)
    except Exception as exc:  # a defect or a library's surprise: the run fails, logged
        log.exception("source %s run %s failed", source.id, run_id)
        outcome["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
    _record(conn, connectors, source, state, run_id, outcome, high_water, user, now)
    return run_record(conn, run_id)


def _pull_and_import(connectors: Connectors, source: SourceDef, since: str | None,
                     run_id: int) -> dict[str, Any]:
    settings = connectors.settings
    credentials = load_credentials(settings.sources.secrets_file, source.credentials)
    with tempfile.TemporaryDirectory(prefix=f"iocgis-source-{source.id}-") as tmp:
        path = fetchmod.fetch(source, credentials, Path(tmp), since)
        if path is None:  # an incremental pull with no edit since the last run
            with connect(connectors.url, autocommit=True) as conn:
                confirm_current(conn, source.layer)
            return {"status": "unchanged", "rows_in": 0,
                    "diff": {kind: 0 for kind in ("added", "removed", "changed")}}
        high_water = _high_water(path, source.incremental.field) if source.incremental \
            else None
        options = ImportOptions(
            mapping=source.mapping, crs=source.crs, encoding=source.encoding,
            mode="upsert" if since else source.mode, user=f"source:{source.id}",
            source_date=datetime.now(UTC).date(), max_rejected=source.max_rejected,
            source_layer=fetchmod.LAYER if path.suffix == ".gpkg" and source.kind != "file_url"
            else None)
        importer = ConnectorImporter(path, source.layer, options, url=connectors.url,
                                     settings=settings, progress=None,
                                     registry=connectors.registry)
        report = importer.run()
    review = report.extra.get("review") or {}
    return {"status": report.status, "import_id": report.import_id, "rows_in": report.rows_in,
            "diff": review.get("diff") or report.extra.get("changes"), "high_water": high_water}


def _record(conn: psycopg.Connection, connectors: Connectors, source: SourceDef,
            state: dict[str, Any], run_id: int, outcome: dict[str, Any],
            high_water: str | None, user: str, now: datetime) -> None:
    import json

    status = outcome["status"]
    ok = status in ("loaded", "pending", "unchanged")
    with conn.transaction():
        conn.execute(
            "UPDATE connectors.runs SET status = %s, finished_at = %s, import_id = %s, "
            "rows_in = %s, diff = %s::jsonb, error = %s WHERE id = %s",
            (status, datetime.now(UTC), outcome["import_id"], outcome["rows_in"],
             json.dumps(outcome["diff"]) if outcome["diff"] is not None else None,
             (outcome["error"] or "")[:4000] or None, run_id))
        if ok:
            conn.execute(
                "UPDATE connectors.sources SET last_run_at = %s, last_success_at = %s, "
                "last_change_at = CASE WHEN %s THEN %s ELSE last_change_at END, failures = 0, "
                "last_error = NULL, high_water = %s, next_run_at = %s, updated_at = now() "
                "WHERE id = %s",
                (now, now, status != "unchanged", now, high_water, source.next_run(now),
                 source.id))
            _clear_alerts(conn, source, user, now)
        elif status == "waiting":
            conn.execute("UPDATE connectors.sources SET last_run_at = %s, next_run_at = %s, "
                         "updated_at = now() WHERE id = %s",
                         (now, source.next_run(now), source.id))
        else:
            failures = state["failures"] + 1
            wait = min(connectors.settings.sources.backoff_base * 2 ** (failures - 1),
                       source.cadence)
            conn.execute(
                "UPDATE connectors.sources SET last_run_at = %s, failures = %s, last_error = %s, "
                "next_run_at = %s, updated_at = now() WHERE id = %s",
                (now, failures, (outcome["error"] or "")[:4000], now + wait, source.id))
        audit.record_sync(conn, actor=user, action="source.run",
                          outcome="ok" if ok or status == "waiting" else "failed",
                          target=source.id, layer=source.layer,
                          details={"run": run_id, "status": status,
                                   "import_id": outcome["import_id"], "diff": outcome["diff"],
                                   "error": (outcome["error"] or "")[:500] or None})
    if not ok and status != "waiting":
        raise_stale_alert(conn, source, now)


def failing_since(conn: psycopg.Connection, source: SourceDef) -> datetime | None:
    """When the source last succeeded, else when it first ran (None: never ran)."""
    row = conn.execute(
        "SELECT coalesce(s.last_success_at, (SELECT min(started_at) FROM connectors.runs r "
        "WHERE r.source_id = s.id)) FROM connectors.sources s WHERE s.id = %s",
        (source.id,)).fetchone()
    return row[0] if row else None


def raise_stale_alert(conn: psycopg.Connection, source: SourceDef, now: datetime) -> bool:
    """A source failing for longer than its cadence: one open alert for its owner, audited.
    Returns whether an alert was raised now."""
    since = failing_since(conn, source)
    if since is None or now - since <= source.cadence:
        return False
    message = (f"source {source.id} has not delivered {source.layer} since "
               f"{since:%Y-%m-%d %H:%M} UTC (cadence {_human(source.cadence)}): the layer is "
               "stale")
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO connectors.alerts (source_id, layer_id, owner, kind, message, "
            "raised_at) VALUES (%s, %s, %s, 'stale', %s, %s) ON CONFLICT (source_id, kind) "
            "WHERE cleared_at IS NULL DO NOTHING RETURNING id",
            (source.id, source.layer, source.owner, message, now)).fetchone()
        if row is None:
            return False
        audit.record_sync(conn, actor="iocgis", action="source.stale", outcome="failed",
                          target=source.owner or source.id, layer=source.layer,
                          details={"source": source.id, "alert": int(row[0]),
                                   "owner": source.owner, "message": message})
    return True


def _clear_alerts(conn: psycopg.Connection, source: SourceDef, user: str,
                  now: datetime) -> None:
    cleared = conn.execute("UPDATE connectors.alerts SET cleared_at = %s WHERE source_id = %s "
                           "AND cleared_at IS NULL RETURNING id", (now, source.id)).fetchall()
    for (alert_id,) in cleared:
        audit.record_sync(conn, actor=user, action="source.recovered", target=source.owner
                          or source.id, layer=source.layer,
                          details={"source": source.id, "alert": int(alert_id)})


def _human(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def run_record(conn: psycopg.Connection, run_id: int) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM connectors.runs WHERE id = %s", (run_id,)).fetchone()
    assert row is not None
    return dict(row)


def due(connectors: Connectors, now: datetime | None = None) -> list[str]:
    """The enabled sources whose next run is due."""
    now = now or datetime.now(UTC)
    with connect(connectors.url, autocommit=True) as conn:
        sync_state(conn, connectors, now)
        rows = conn.execute("SELECT id FROM connectors.sources WHERE enabled AND next_run_at "
                            "<= %s ORDER BY next_run_at, id", (now,)).fetchall()
    return [str(r[0]) for r in rows if str(r[0]) in connectors.sources]


def run_due(connectors: Connectors, *, user: str = "scheduler", now: datetime | None = None
            ) -> list[dict[str, Any]]:
    """Run every due source, one after the other (a source running elsewhere is skipped)."""
    out = []
    for source_id in due(connectors, now):
        try:
            out.append(run_source(connectors, source_id, trigger="schedule", user=user, now=now))
        except ImportFailed as exc:  # running in another process
            log.info("%s", exc)
    return out

"""Import history of a layer and rollback to the version before the newest import."""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

from iocgis import summaries
from iocgis.db import connect, database_url
from iocgis.errors import ImportFailed, NotFound
from iocgis.importers import swap
from iocgis.importers.pipeline import LOCK_NAMESPACE
from iocgis.importers.staging import HISTORY_SCHEMA, live_ident
from iocgis.layers import Registry, get_registry
from iocgis.settings import Settings

COLUMNS = ("id", "layer_id", "mode", "status", "dry_run", "source_path", "source_format",
           "source_checksum", "source_crs", "source_encoding", "source_date", "user_name",
           "started_at", "finished_at", "rows_in", "rows_loaded", "rows_fixed", "rows_rejected",
           "previous_table", "data_version", "error")


# The tables still keeping given data versions of layers: an import that made version v + 1
# live moved version v aside to its ``previous_table`` (rollbacks too; pruning and a rollback
# of that import clear the column), with the columns each has, to check it against the layer.
KEPT_SQL = """
SELECT w.layer_id, w.version, i.previous_table,
       (SELECT array_agg(a.attname::text) FROM pg_attribute a
        WHERE a.attrelid = to_regclass(i.previous_table) AND a.attnum > 0 AND NOT a.attisdropped)
FROM unnest(%(layers)s::text[], %(versions)s::bigint[]) w(layer_id, version)
JOIN LATERAL (SELECT previous_table FROM meta.imports m WHERE m.layer_id = w.layer_id
              AND m.data_version = w.version + 1 AND m.status = 'loaded'
              AND m.previous_table IS NOT NULL ORDER BY m.id DESC LIMIT 1) i ON true
WHERE to_regclass(i.previous_table) IS NOT NULL
"""


def kept_ident(previous_table: str) -> tuple[str, str]:
    """``import_history.h<id>`` as (schema, table)."""
    schema, table = previous_table.split(".", 1)
    return schema, table


def history(layer_id: str, *, url: str | None = None, limit: int = 50,
            settings: Settings | None = None, registry: Registry | None = None
            ) -> list[dict[str, Any]]:
    """The newest imports of a layer, newest first (with whether each can be rolled back)."""
    layer = (registry or get_registry()).get(layer_id)
    with connect(url or database_url(settings), dict_rows=True) as conn:
        rows = conn.execute(
            sql.SQL("SELECT {} FROM meta.imports WHERE layer_id = %s ORDER BY id DESC LIMIT %s")
            .format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS))), (layer.id, limit)).fetchall()
    return [dict(r) for r in rows]


def report_of(import_id: int, *, url: str | None = None,
              settings: Settings | None = None) -> dict[str, Any]:
    with connect(url or database_url(settings)) as conn:
        row = conn.execute("SELECT report FROM meta.imports WHERE id = %s", (import_id,)).fetchone()
    if row is None:
        raise NotFound(f"no import {import_id}", where="import id",
                       hint="list the imports of a layer with `iocgis import history LAYER`")
    return row[0]


def rollback(layer_id: str, *, url: str | None = None, user: str = "cli",
             settings: Settings | None = None, registry: Registry | None = None
             ) -> dict[str, Any]:
    """Put back the layer as it was before its newest loaded import. Returns what was done."""
    layer = (registry or get_registry()).get(layer_id)
    with connect(url or database_url(settings), autocommit=True) as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                           (LOCK_NAMESPACE, layer.id)).fetchone()
        if not got or not got[0]:
            raise ImportFailed(f"an import of {layer.id} is running", where=layer.id,
                               hint="wait for it to finish, then roll back")
        try:
            target = conn.execute(
                "SELECT id, previous_table, report->'extra'->>'history' FROM meta.imports "
                "WHERE layer_id = %s AND status = 'loaded' AND mode <> 'rollback' "
                "ORDER BY id DESC LIMIT 1", (layer.id,)).fetchone()
            if target is None or target[1] is None:
                raise NotFound(f"{layer.id} has no import that can be rolled back", where=layer.id,
                               hint="only the newest imports keep their previous version "
                                    "(see `iocgis import history`)")
            undone_id, previous, how = int(target[0]), str(target[1]), target[2]
            prev_name = previous.split(".", 1)[1]
            exists = conn.execute("SELECT to_regclass(%s)", (
                sql.Identifier(HISTORY_SCHEMA, prev_name).as_string(conn),)).fetchone()[0]
            if exists is None:
                raise NotFound(f"the previous version of {layer.id} ({previous}) is gone",
                               where=previous, hint="it was pruned; import the older file again")
            row = conn.execute(
                "INSERT INTO meta.imports (layer_id, mode, status, source_path, user_name, report) "
                "VALUES (%s, 'rollback', 'running', %s, %s, %s::jsonb) RETURNING id",
                (layer.id, previous, user, json.dumps({"rolls_back": undone_id}))).fetchone()
            rollback_id = int(row[0])
            kept = swap.history_name(rollback_id)
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{swap.LOCK_TIMEOUT}'")
                conn.execute("SELECT 1 FROM meta.layers WHERE id = %s FOR UPDATE", (layer.id,))
                if how == "renamed" and not swap.blocks_rename(conn, layer):
                    swap.swap_in(conn, layer, HISTORY_SCHEMA, prev_name, prev_name + "_", kept)
                else:
                    swap.snapshot(conn, layer, kept)
                    conn.execute(sql.SQL("TRUNCATE {}").format(live_ident(layer)))
                    cols = sql.SQL(", ").join(
                        sql.Identifier(c) for c in ("fid", *layer.field_names, "extra",
                                                    "source_date", "import_id", "updated_at",
                                                    *layer.geometry_columns))
                    conn.execute(sql.SQL("INSERT INTO {} ({c}) SELECT {c} FROM {}").format(
                        live_ident(layer), sql.Identifier(HISTORY_SCHEMA, prev_name), c=cols))
                    conn.execute(sql.SQL("DROP TABLE {}").format(
                        sql.Identifier(HISTORY_SCHEMA, prev_name)))
                    swap.restart_identity(conn, live_ident(layer))
                layer_facts = swap.facts(conn, layer, live_ident(layer))
                version = swap.update_catalog(conn, layer, rollback_id, layer_facts, None)
                summaries.rebuild(conn, layer, version)  # the restored rows' totals (issue 20)
                conn.execute("UPDATE meta.imports SET status = 'rolled_back', previous_table = NULL "
                             "WHERE id = %s", (undone_id,))
                conn.execute(
                    "UPDATE meta.imports SET status = 'loaded', finished_at = now(), "
                    "rows_loaded = %s, previous_table = %s, data_version = %s, report = "
                    "report || %s::jsonb WHERE id = %s",
                    (layer_facts["row_count"], f"{HISTORY_SCHEMA}.{kept}", version,
                     json.dumps({"extra": {"history": "renamed" if how == "renamed" else "copied"}}),
                     rollback_id))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_NAMESPACE, layer.id))
    return {"layer_id": layer.id, "rolled_back_import": undone_id, "rollback_id": rollback_id,
            "row_count": layer_facts["row_count"], "data_version": version}

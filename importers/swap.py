"""Make a staged import live in ONE transaction, keep the previous version for rollback.

``replace`` renames: live -> ``import_history.h<id>``, staging -> live, indexes and the
identity sequence renamed with them; readers wait only for the renames, not for a reload.
Views, row-level security policies, user triggers and grants on the live table are carried
over to the new one in the same transaction; only a table that foreign keys point at is
replaced in place instead (copy to history, TRUNCATE, INSERT).
``append`` and ``upsert`` copy the live table to history and write into it. Every path
bumps ``meta.layers.data_version`` (tile caches key on it) and updates row count, extent and
last import in the same transaction; a kill -9 before COMMIT leaves the live layer as it was.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql

from iocgis import summaries
from iocgis.importers.staging import (
    HISTORY_SCHEMA,
    STAGING_SCHEMA,
    facts,
    live_ident,
    load_columns,
    staging_ident,
    staging_name,
)
from iocgis.layers import LayerDef
from iocgis.layers.types import STORAGE_SRID
from iocgis.tiles import generalised

LOCK_TIMEOUT = "60s"


def history_name(import_id: int) -> str:
    return f"h{import_id}"


def _relation_objects(conn: psycopg.Connection, schema: str, table: str) -> dict[str, list[str]]:
    """Names of a table's indexes, its primary-key constraint and owned sequences."""
    oid = conn.execute("SELECT to_regclass(%s)::oid",
                       (sql.Identifier(schema, table).as_string(conn),)).fetchone()[0]
    indexes = [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s ORDER BY 1", (oid,))]
    pkey = [r[0] for r in conn.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s AND contype = 'p'", (oid,))]
    seqs = [r[0] for r in conn.execute(
        "SELECT s.relname FROM pg_depend d JOIN pg_class s ON s.oid = d.objid "
        "WHERE d.refobjid = %s AND d.classid = 'pg_class'::regclass AND s.relkind = 'S'",
        (oid,))]
    return {"indexes": indexes, "pkey": pkey, "sequences": seqs, "oid": [str(oid)]}


def blocks_rename(conn: psycopg.Connection, layer: LayerDef) -> bool:
    """Foreign keys point at the live table, or it is partitioned (iot.observations; a plain
    staging table would replace its partitions): it must be changed in place, not renamed."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = "
                       "to_regclass(%s)) OR EXISTS (SELECT 1 FROM pg_partitioned_table WHERE "
                       "partrelid = to_regclass(%s))",
                       (live_ident(layer).as_string(conn),) * 2).fetchone()
    return bool(row and row[0])


def dependents(conn: psycopg.Connection, oid: str, live: sql.Composable) -> list[sql.Composable]:
    """Statements that re-attach to the new live table what hangs on the old one: views
    (e.g. the masked views of the security layer), row-level security and its policies, and
    user triggers. Their definitions come from the catalog, printed fully schema-qualified;
    they name the live table, so run after the swap they attach to the new one."""
    conn.execute("SET LOCAL search_path = pg_catalog")
    out: list[sql.Composable] = []
    views = conn.execute(
        """
        SELECT DISTINCT v.oid, n.nspname, v.relname, v.relkind, v.reloptions,
               pg_get_viewdef(v.oid)
        FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
        JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
        WHERE d.refobjid = %s AND d.classid = 'pg_rewrite'::regclass AND v.oid <> %s
        ORDER BY v.oid
        """, (oid, oid)).fetchall()
    for _, schema, name, kind, options, definition in views:
        if kind != "v":
            raise RuntimeError(f"materialized view {schema}.{name} depends on the layer")
        with_ = sql.SQL(" WITH ({})").format(sql.SQL(", ").join(map(sql.SQL, options))) \
            if options else sql.SQL("")
        out.append(sql.SQL("CREATE OR REPLACE VIEW {}{} AS {}").format(
            sql.Identifier(schema, name), with_, sql.SQL(definition.rstrip().rstrip(";"))))
    out += row_security(conn, oid, live)
    triggers = conn.execute("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s "
                            "AND NOT tgisinternal ORDER BY tgname", (oid,)).fetchall()
    for (definition,) in triggers:
        out.append(sql.SQL(definition))
    conn.execute("RESET search_path")
    return out


def row_security(conn: psycopg.Connection, oid: str, target: sql.Composable
                 ) -> list[sql.Composable]:
    """Statements giving ``target`` the row-level security and policies of the table ``oid``
    (run with ``search_path = pg_catalog``, so the expressions print fully qualified)."""
    out: list[sql.Composable] = []
    flags = conn.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s",
                         (oid,)).fetchone()
    if flags and flags[0]:
        out.append(sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(target))
    if flags and flags[1]:
        out.append(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(target))
    policies = conn.execute(
        """
        SELECT polname, polpermissive, polcmd,
               coalesce((SELECT array_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE
                         quote_ident(pg_get_userbyid(r)) END) FROM unnest(polroles) r), '{}'),
               pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)
        FROM pg_policy WHERE polrelid = %s ORDER BY polname
        """, (oid,)).fetchall()
    commands = {"r": "SELECT", "a": "INSERT", "w": "UPDATE", "d": "DELETE", "*": "ALL"}
    for name, permissive, cmd, roles, qual, check in policies:
        text = (f" AS {'PERMISSIVE' if permissive else 'RESTRICTIVE'} FOR {commands[cmd]}"
                f" TO {', '.join(roles)}" + (f" USING ({qual})" if qual else "")
                + (f" WITH CHECK ({check})" if check else ""))
        # a table swapped back in (rollback) still has its own: replace, never duplicate
        out.append(sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(sql.Identifier(name), target))
        out.append(sql.SQL("CREATE POLICY {} ON {}").format(sql.Identifier(name), target)
                   + sql.SQL(text))
    return out


def _rename_objects(conn: psycopg.Connection, schema: str, objects: dict[str, list[str]],
                    old_prefix: str, new_prefix: str, sequence_name: str | None = None) -> None:
    """Rename a table's indexes (prefix swapped) and its identity sequence (to
    ``sequence_name`` when given: the live table's is always ``<table>_fid_seq``)."""
    def new(name: str) -> str:
        base = name[len(old_prefix):] if old_prefix and name.startswith(old_prefix) else name
        return new_prefix + base

    pkeys = set(objects["pkey"])
    for name in objects["indexes"]:
        if name in pkeys:
            continue
        conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier(schema, name), sql.Identifier(new(name))))
    for seq in objects["sequences"]:
        target = sequence_name or new(seq)
        if target != seq:
            conn.execute(sql.SQL("ALTER SEQUENCE {} RENAME TO {}").format(
                sql.Identifier(schema, seq), sql.Identifier(target)))


def _rename_pkey(conn: psycopg.Connection, table: sql.Composable, objects: dict[str, list[str]],
                 old_prefix: str, new_prefix: str) -> None:
    for name in objects["pkey"]:
        base = name[len(old_prefix):] if old_prefix and name.startswith(old_prefix) else name
        conn.execute(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
            table, sql.Identifier(name), sql.Identifier(new_prefix + base)))


def _copy_grants(conn: psycopg.Connection, old_oid: str, new: sql.Composable) -> None:
    """The same table and column privileges on the new live table as on the old one."""
    rows = conn.execute(
        "SELECT a.privilege_type, r.rolname FROM pg_class c, aclexplode(c.relacl) a "
        "JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = %s AND a.grantee <> c.relowner",
        (old_oid,)).fetchall()
    for privilege, role in rows:
        conn.execute(sql.SQL("GRANT {} ON {} TO {}").format(
            sql.SQL(privilege), new, sql.Identifier(role)))
    cols = conn.execute(
        "SELECT att.attname, a.privilege_type, r.rolname FROM pg_attribute att, "
        "aclexplode(att.attacl) a JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE att.attrelid = %s AND att.attacl IS NOT NULL", (old_oid,)).fetchall()
    for column, privilege, role in cols:
        conn.execute(sql.SQL("GRANT {} ({}) ON {} TO {}").format(
            sql.SQL(privilege), sql.Identifier(column), new, sql.Identifier(role)))


def swap_in(conn: psycopg.Connection, layer: LayerDef, incoming_schema: str, incoming: str,
            incoming_prefix: str, history: str) -> None:
    """Inside a transaction: live -> history (renamed), incoming table -> live."""
    live = live_ident(layer)
    schema, table = layer.schema_name, layer.table_name
    old = _relation_objects(conn, schema, table)
    reattach = dependents(conn, old["oid"][0], live)  # before any rename: names print right
    hist_prefix = history + "_"
    _rename_objects(conn, schema, old, "", hist_prefix)
    _rename_pkey(conn, live, old, "", hist_prefix)
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(live, sql.Identifier(history)))
    conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
        sql.Identifier(schema, history), sql.Identifier(HISTORY_SCHEMA)))
    new = _relation_objects(conn, incoming_schema, incoming)
    conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
        sql.Identifier(incoming_schema, incoming), sql.Identifier(schema)))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        sql.Identifier(schema, incoming), sql.Identifier(table)))
    _rename_objects(conn, schema, new, incoming_prefix, "", sequence_name=f"{table}_fid_seq")
    _rename_pkey(conn, live, new, incoming_prefix, "")
    _copy_grants(conn, old["oid"][0], live)
    for statement in reattach:
        conn.execute(statement)


def restart_identity(conn: psycopg.Connection, table: sql.Composable) -> None:
    conn.execute(sql.SQL(
        "SELECT setval(pg_get_serial_sequence(%s, 'fid'), GREATEST(coalesce(max(fid), 0), 1), "
        "max(fid) IS NOT NULL) FROM {}").format(table), (table.as_string(conn),))


def snapshot(conn: psycopg.Connection, layer: LayerDef, history: str) -> None:
    """A plain copy of the live rows, for rollback of in-place changes, readable under the
    live table's grants and row-level security (a regenerated report reads it)."""
    kept = sql.Identifier(HISTORY_SCHEMA, history)
    conn.execute(sql.SQL("CREATE TABLE {} AS TABLE {}").format(kept, live_ident(layer)))
    oid = str(conn.execute("SELECT to_regclass(%s)::oid",
                           (live_ident(layer).as_string(conn),)).fetchone()[0])
    _copy_grants(conn, oid, kept)
    conn.execute("SET LOCAL search_path = pg_catalog")
    statements = row_security(conn, oid, kept)
    conn.execute("RESET search_path")
    for statement in statements:
        conn.execute(statement)


def _insert(conn: psycopg.Connection, layer: LayerDef, source: sql.Composable, *,
            with_fid: bool, upsert: bool = False) -> int:
    cols = [c for c in load_columns(layer) if with_fid or c != "fid"]
    names = sql.SQL(", ").join(map(sql.Identifier, cols))
    stmt = sql.SQL("INSERT INTO {live} ({names}) SELECT {names} FROM {src}").format(
        live=live_ident(layer), names=names, src=source)
    if upsert:
        updates = [c for c in cols if c not in layer.key]
        stmt += sql.SQL(" ON CONFLICT ({key}) DO UPDATE SET {sets}, updated_at = now()").format(
            key=sql.SQL(", ").join(map(sql.Identifier, layer.key)),
            sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c))
                                    for c in updates))
    cur = conn.execute(stmt)
    return cur.rowcount


def update_catalog(conn: psycopg.Connection, layer: LayerDef, import_id: int,
                   layer_facts: dict[str, Any], source_date: Any) -> int:
    """meta.layers facts + data_version bump; returns the new data_version."""
    row = conn.execute(
        f"""
        UPDATE meta.layers SET row_count = %(row_count)s,
            extent = ST_GeomFromWKB(%(extent)s, {STORAGE_SRID}),
            temporal_min = %(temporal_min)s, temporal_max = %(temporal_max)s,
            last_import_at = now(), last_import_id = %(import_id)s,
            source_date = coalesce(%(source_date)s, source_date),
            data_version = data_version + 1, updated_at = now()
        WHERE id = %(layer_id)s RETURNING data_version
        """, {**layer_facts, "import_id": import_id, "source_date": source_date,
              "layer_id": layer.id}).fetchone()
    return int(row[0]) if row else 0


def prune_history(conn: psycopg.Connection, layer: LayerDef, keep: int) -> list[str]:
    """Drop history tables beyond the newest ``keep`` of this layer."""
    rows = conn.execute(
        "SELECT id, previous_table FROM meta.imports WHERE layer_id = %s "
        "AND previous_table IS NOT NULL ORDER BY id DESC OFFSET %s", (layer.id, keep)).fetchall()
    dropped = []
    for import_id, table in rows:
        name = table.split(".", 1)[1]
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(
            sql.Identifier(HISTORY_SCHEMA, name)))
        conn.execute("UPDATE meta.imports SET previous_table = NULL WHERE id = %s", (import_id,))
        dropped.append(table)
    return dropped


def make_live(conn: psycopg.Connection, layer: LayerDef, import_id: int, mode: str,
              source_date: Any, keep: int, finish: dict[str, Any],
              known_facts: dict[str, Any] | None = None) -> int:
    """The one transaction that publishes a staged import. Returns the new data_version."""
    staged = staging_ident(import_id)
    history = history_name(import_id)
    with conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        conn.execute("SELECT 1 FROM meta.layers WHERE id = %s FOR UPDATE", (layer.id,))
        if mode == "replace" and not blocks_rename(conn, layer):
            restart_identity(conn, staged)
            layer_facts = known_facts or facts(conn, layer, staged)
            # the new rows' group totals, before the swap locks the live table (issue 20)
            summarised = summaries.rebuild(conn, layer, 0, source=staged)
            swap_in(conn, layer, STAGING_SCHEMA, staging_name(import_id),
                    staging_name(import_id) + "_", history)
            how = "renamed"
        else:
            snapshot(conn, layer, history)
            if mode == "replace":
                conn.execute(sql.SQL("TRUNCATE {}").format(live_ident(layer)))
                _insert(conn, layer, staged, with_fid=True)
                restart_identity(conn, live_ident(layer))
            else:
                _insert(conn, layer, staged, with_fid=False, upsert=(mode == "upsert"))
            conn.execute(sql.SQL("DROP TABLE {}").format(staged))
            layer_facts = facts(conn, layer, live_ident(layer))
            summarised = False
            how = "copied"
        version = update_catalog(conn, layer, import_id, layer_facts, source_date)
        if summarised:
            summaries.stamp(conn, layer, version)
        else:  # appended or copied: the totals of the whole live table (issue 20)
            summaries.rebuild(conn, layer, version)
        generalised.publish(conn, layer, import_id, version)  # the tile-ready copy (issue 20)
        report = finish["report"]
        report["data_version"] = version
        report.setdefault("extra", {})["history"] = how
        conn.execute(
            "UPDATE meta.imports SET status = 'loaded', finished_at = now(), rows_in = %s, "
            "rows_loaded = %s, rows_fixed = %s, rows_rejected = %s, report = %s::jsonb, "
            "previous_table = %s, data_version = %s WHERE id = %s",
            (finish["rows_in"], finish["rows_loaded"], finish["rows_fixed"],
             finish["rows_rejected"], json.dumps(report, ensure_ascii=False, default=str),
             f"{HISTORY_SCHEMA}.{history}", version, import_id))
        prune_history(conn, layer, keep)
    return version

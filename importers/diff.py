"""The diff of a staged import against the live layer: rows added, removed and changed (with
the changed fields), by the layer's key, computed set-based in one SQL statement.

Shape (replace; an upsert joins staged -> live only, an append adds every staged row):

    CREATE TABLE import_review.c<id> AS
    SELECT kind, key, live_fid, staged_fid, fields, communes, before, after FROM (
      SELECT CASE WHEN l.fid IS NULL THEN 'added' WHEN s.fid IS NULL THEN 'removed'
                  ELSE 'changed' END AS kind, ...,
             array_remove(ARRAY[CASE WHEN l.f IS DISTINCT FROM s.f THEN 'f' END, ...], NULL)
      FROM <live> l FULL JOIN <staged> s ON l.<key> = s.<key>) d
    WHERE kind <> 'changed' OR cardinality(fields) > 0

Geometries (the position, and the footprint of a layer that has one) are compared exactly
first (the cheap binary ``=``) and only when that differs with ``ST_Equals``, so a re-export
listing the same vertices from another start is not a change. Bookkeeping columns (fid,
source_date, import_id, updated_at) are never compared.
``before`` holds the live values of the changed fields (of every field for a removed row),
``after`` the staged values of the changed fields; an added row is read from staging.
A layer without a key is compared row by row (every field and the geometry, repeats
counted): rows are added or removed, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from iocgis.layers import LayerDef

CHANGES_SCHEMA = "import_review"
GEOMETRY = "geometry"  # the name of a geometry change in ``fields``
KINDS = ("added", "removed", "changed")
WORK_MEM = "256MB"  # per hash of the join; a million parcels fit without spilling to disk


def changes_name(import_id: int) -> str:
    return f"c{import_id}"


def changes_ident(import_id: int) -> sql.Composed:
    return sql.Identifier(CHANGES_SCHEMA, changes_name(import_id))


def compared_columns(layer: LayerDef) -> list[str]:
    """The columns whose difference makes a row changed: the registry's fields outside the
    key, and the source fields kept in ``extra``."""
    return [f for f in layer.field_names if f not in layer.key] + ["extra"]


@dataclass
class DiffSummary:
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    fields: dict[str, int] = field(default_factory=dict)  # changed field -> rows
    by_key: bool = True  # False: a layer without a key, compared row by row

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed,
                "unchanged": self.unchanged, "fields": self.fields, "by_key": self.by_key}


def _col(alias: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(name))


def _row_json(layer: LayerDef, alias: str) -> sql.Composed:
    """Every registry field and ``extra`` of a row as one JSON object."""
    names = [*layer.field_names, "extra"]
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, {}").format(sql.Literal(n), _col(alias, n)) for n in names))


def _changed_fields(layer: LayerDef) -> sql.Composed:
    checks = [sql.SQL("CASE WHEN {l} IS DISTINCT FROM {s} THEN {n} END").format(
        l=_col("l", name), s=_col("s", name), n=sql.Literal(name))
        for name in compared_columns(layer)]
    for column, change in geometry_changes(layer):
        checks.append(sql.SQL(
            "CASE WHEN l.{g} = s.{g} THEN NULL WHEN l.{g} IS NULL OR s.{g} IS NULL THEN "
            "CASE WHEN l.{g} IS DISTINCT FROM s.{g} THEN {n} END "
            "WHEN NOT ST_Equals(l.{g}, s.{g}) THEN {n} END").format(
                g=sql.Identifier(column), n=sql.Literal(change)))
    return sql.SQL("array_remove(ARRAY[{}]::text[], NULL)").format(sql.SQL(", ").join(checks))


def geometry_changes(layer: LayerDef) -> list[tuple[str, str]]:
    """(column, name of its change in ``fields``): the position is ``geometry``, the
    footprint ``footprint``."""
    return [(c, GEOMETRY if c == "geom" else c) for c in layer.geometry_columns]


def _equal(layer: LayerDef) -> sql.Composed:
    """Every compared column and the geometry bytes equal: most rows of a re-import, settled
    by one short-circuiting test before any array of changed fields is built."""
    parts = [sql.SQL("{} IS NOT DISTINCT FROM {}").format(_col("l", n), _col("s", n))
             for n in compared_columns(layer)]
    parts += [sql.SQL("l.{g} IS NOT DISTINCT FROM s.{g}").format(g=sql.Identifier(c))
              for c in layer.geometry_columns]
    return sql.SQL("({})").format(sql.SQL(" AND ").join(parts))


def _same_fields(layer: LayerDef) -> sql.Composed:
    """The compared columns that did not change (removed from the JSON of a changed row:
    ``jsonb - text[]``, cheaper than filtering the JSON per row)."""
    return sql.SQL("array_remove(ARRAY[{}]::text[], NULL)").format(sql.SQL(", ").join(
        sql.SQL("CASE WHEN {l} IS DISTINCT FROM {s} THEN NULL ELSE {n} END").format(
            l=_col("l", name), s=_col("s", name), n=sql.Literal(name))
        for name in compared_columns(layer)))


def _communes(layer: LayerDef) -> sql.Composable:
    """The communes a change touches (both sides: a row may move), for commune scopes."""
    if layer.commune_field is None:
        return sql.SQL("'{}'::text[]")
    return sql.SQL("array_remove(ARRAY[{l}, CASE WHEN {s} IS DISTINCT FROM {l} THEN {s} END]"
                   "::text[], NULL)").format(l=_col("l", layer.commune_field),
                                             s=_col("s", layer.commune_field))


def _keyed(layer: LayerDef, live: sql.Composable, staged: sql.Composable,
           mode: str) -> sql.Composed:
    key = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, coalesce({}, {})").format(sql.Literal(k), _col("s", k), _col("l", k))
        for k in layer.key))
    on = sql.SQL(" AND ").join(sql.SQL("{} = {}").format(_col("l", k), _col("s", k))
                               for k in layer.key)
    join = sql.SQL("{live} l FULL JOIN {staged} s ON {on}" if mode == "replace"
                   else "{staged} s LEFT JOIN {live} l ON {on}").format(
        live=live, staged=staged, on=on)
    names = [*layer.field_names, "extra"]
    carried = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(_col(side, n), sql.Identifier(f"{side}:{n}"))
        for side in ("l", "s") for n in names)
    # OFFSET 0 fences the join: the changed fields are computed once per row, and the JSON of
    # the values only for the rows that differ (the outer WHERE), from columns carried along
    # instead of a second join with both tables.
    inner = sql.SQL(
        "SELECT CASE WHEN l.fid IS NULL THEN 'added' WHEN s.fid IS NULL THEN 'removed' "
        "ELSE 'changed' END AS kind, {key} AS key, l.fid AS live_fid, s.fid AS staged_fid, "
        "CASE WHEN l.fid IS NULL OR s.fid IS NULL OR {equal} THEN '{{}}'::text[] "
        "ELSE {fields} END AS fields, "
        "CASE WHEN l.fid IS NULL THEN {s_communes} WHEN s.fid IS NULL THEN {l_communes} "
        "ELSE {communes} END AS communes, CASE WHEN l.fid IS NULL OR s.fid IS NULL OR {equal} "
        "THEN '{{}}'::text[] ELSE {same} END AS same, {carried} FROM {join} OFFSET 0").format(
            key=key, equal=_equal(layer), fields=_changed_fields(layer), same=_same_fields(layer),
            communes=_communes(layer),
            s_communes=_side_communes(layer, "s"), l_communes=_side_communes(layer, "l"),
            carried=carried, join=join)
    return sql.SQL(
        "SELECT row_number() OVER () AS n, d.kind, d.key, d.live_fid, d.staged_fid, d.fields, "
        "d.communes, CASE WHEN d.kind = 'removed' THEN {l_row} WHEN d.kind = 'changed' THEN "
        "{l_only} END AS before, CASE WHEN d.kind = 'changed' THEN {s_only} END AS after "
        "FROM ({inner}) d WHERE d.kind <> 'changed' OR cardinality(d.fields) > 0").format(
            l_row=_carried_json("l", [*layer.field_names, "extra"]),
            l_only=sql.SQL("{} - d.same").format(
                _carried_json("l", compared_columns(layer))),
            s_only=sql.SQL("{} - d.same").format(
                _carried_json("s", compared_columns(layer))), inner=inner)


def _carried_json(side: str, names: list[str]) -> sql.Composed:
    """The JSON of one side's values, from the columns the fenced join carried."""
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, d.{}").format(sql.Literal(n), sql.Identifier(f"{side}:{n}")) for n in names))


def _side_communes(layer: LayerDef, alias: str) -> sql.Composable:
    if layer.commune_field is None:
        return sql.SQL("'{}'::text[]")
    return sql.SQL("array_remove(ARRAY[{}]::text[], NULL)").format(
        _col(alias, layer.commune_field))


def _whole_rows(layer: LayerDef, live: sql.Composable, staged: sql.Composable,
                mode: str) -> sql.Composed:
    """A layer without a key: rows compared whole (a multiset: the n-th repeat of a row
    matches the n-th repeat on the other side)."""
    parts = [_col("t", c) for c in [*layer.field_names, "extra"]]
    parts += [sql.SQL("ST_AsEWKB({})").format(_col("t", c)) for c in layer.geometry_columns]
    digest = sql.SQL("md5(row({})::text)").format(sql.SQL(", ").join(parts))

    def side(table: sql.Composable) -> sql.Composed:
        return sql.SQL("SELECT fid, h, row_number() OVER (PARTITION BY h ORDER BY fid) AS r "
                       "FROM (SELECT t.fid, {d} AS h FROM {t} t) x").format(d=digest, t=table)

    if mode == "append":
        inner = sql.SQL("SELECT NULL::bigint AS lf, fid AS sf FROM {}").format(staged)
    else:
        inner = sql.SQL("SELECT l.fid AS lf, s.fid AS sf FROM ({l}) l FULL JOIN ({s}) s "
                        "ON l.h = s.h AND l.r = s.r WHERE l.fid IS NULL OR s.fid IS NULL"
                        ).format(l=side(live), s=side(staged))
    return sql.SQL(
        "SELECT row_number() OVER () AS n, CASE WHEN d.lf IS NULL THEN 'added' ELSE 'removed' "
        "END AS kind, NULL::jsonb AS key, d.lf AS live_fid, d.sf AS staged_fid, "
        "'{{}}'::text[] AS fields, CASE WHEN d.lf IS NULL THEN {s_communes} ELSE {l_communes} "
        "END AS communes, CASE WHEN d.lf IS NOT NULL THEN {l_row} END AS before, "
        "NULL::jsonb AS after FROM ({inner}) d LEFT JOIN {live} l ON l.fid = d.lf "
        "LEFT JOIN {staged} s ON s.fid = d.sf").format(
            s_communes=_side_communes(layer, "s"), l_communes=_side_communes(layer, "l"),
            l_row=_row_json(layer, "l"), inner=inner, live=live, staged=staged)


def diff_statement(layer: LayerDef, live: sql.Composable, staged: sql.Composable,
                   mode: str) -> sql.Composed:
    """The SELECT of every difference between ``live`` and ``staged`` (tables of the layer's
    columns) as an import in ``mode`` would make it."""
    if layer.key and mode == "append":
        # keys already live were rejected before (staging.keys_in_live): all rows are new
        return sql.SQL(
            "SELECT row_number() OVER () AS n, 'added'::text AS kind, {key} AS key, "
            "NULL::bigint AS live_fid, s.fid AS staged_fid, '{{}}'::text[] AS fields, "
            "{communes} AS communes, NULL::jsonb AS before, NULL::jsonb AS after "
            "FROM {staged} s").format(
                key=sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
                    sql.SQL("{}, {}").format(sql.Literal(k), _col("s", k)) for k in layer.key)),
                communes=_side_communes(layer, "s"), staged=staged)
    if layer.key:
        return _keyed(layer, live, staged, mode)
    return _whole_rows(layer, live, staged, mode)


def compute(conn: psycopg.Connection, layer: LayerDef, live: sql.Composable,
            staged: sql.Composable, target: sql.Composable, mode: str) -> DiffSummary:
    """Write the diff into the new table ``target`` and return its summary (run it inside
    the transaction that records the import as pending: a kill leaves no half diff)."""
    conn.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")  # the join's hash tables in memory
    conn.execute(sql.SQL("CREATE TABLE {} AS {}").format(
        target, diff_statement(layer, live, staged, mode)))
    conn.execute(sql.SQL("CREATE INDEX ON {} (kind, n)").format(target))
    summary = DiffSummary(by_key=bool(layer.key))
    for kind, count in conn.execute(sql.SQL("SELECT kind, count(*) FROM {} GROUP BY kind").format(
            target)).fetchall():
        setattr(summary, kind, int(count))
    summary.fields = {str(name): int(count) for name, count in conn.execute(sql.SQL(
        "SELECT f, count(*) FROM {}, unnest(fields) f GROUP BY f ORDER BY 2 DESC, 1").format(
            target)).fetchall()}
    staged_rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(staged)).fetchone()
    total = int(staged_rows[0]) if staged_rows else 0
    if mode in ("replace", "upsert"):  # an append changes no live row
        summary.unchanged = total - summary.added - summary.changed
    return summary

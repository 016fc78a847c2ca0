"""Derived fields: what the importer fills in when a file lacks a field, in SQL on the staging
table once the file is loaded (set-based: one statement per kind, whatever the row count).

- ``commune_from_location`` fills a commune code: the code of the ``admin.communes`` polygon
  that covers the feature's ``ST_PointOnSurface`` (a feature across a boundary goes where that
  point falls; a point exactly on a shared boundary takes the lower code).
- ``province_from_location`` fills a province code: the same against ``admin.provinces``.
- ``key_hash`` fills a key field: 16 hex digits of the MD5 of the geometry (the footprint
  where a row has one, else the position) snapped to 1e-7 degree (about 1 cm) in EPSG:4326,
  with ``-2``, ``-3`` ... for the 2nd, 3rd feature of identical geometry in file order: the
  same file gives the same keys, and so does a re-export in another order or with other
  attributes.
- ``key_sequence`` fills a key field: ``<commune>-<00001>``, the feature's position in file
  order among the file's features of its commune (the layer's ``commune_field``; without one,
  just the number); under ``append`` numbering goes on after the live layer's highest.

A feature a location derivation cannot place (outside every polygon) is a finding: rejected
when the field is required (and the import aborted unless ``--max-rejected`` allows it), kept
with an empty value otherwise. Generated keys are refused under ``upsert``, which matches rows
by a key that must come from the source.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from iocgis.errors import ImportFailed, InvalidInput
from iocgis.importers import staging
from iocgis.importers.report import ImportReport
from iocgis.layers import LayerDef, Registry
from iocgis.layers.model import KEY_DERIVATIONS, LOCATION_DERIVATIONS

HASH_GRID = 1e-7  # degrees: coordinates equal to about 1 cm hash alike
SEQUENCE_DIGITS = 5
ADMIN_LEVEL = {"commune_from_location": "commune", "province_from_location": "province"}
SCHEMES = {
    "commune_from_location": "the commune whose boundary covers the feature's point on surface",
    "province_from_location": "the province whose boundary covers the feature's point on surface",
    "key_hash": "16 hex digits of the MD5 of the geometry (the footprint where there is one, "
                "else the position; snapped to 1e-7°), -2, -3 ... for repeats of an identical "
                "geometry in file order",
    "key_sequence": "commune code and the position in file order among the commune's "
                    "features (26041-00001)",
}


def refuse_under_upsert(layer: LayerDef, derived: dict[str, str], mode: str,
                        shown: str) -> None:
    """An upsert matches rows by their key: a generated one would match nothing."""
    keys = [name for name in derived if name in layer.key]
    if mode == "upsert" and keys:
        raise InvalidInput(
            f"{shown} has no {', '.join(keys)}, the key of {layer.id}: an upsert updates rows "
            "by a key that comes from the source, and a generated key would match none",
            where="--mode upsert",
            hint=f"map the file's own identifier to {keys[0]} (mapping fields: {{SOURCE: "
                 f"{keys[0]}}}), or import with --mode replace or --mode append")


def prepare(conn: psycopg.Connection, import_id: int, derived: dict[str, str]) -> None:
    """The staging table takes empty derived fields while loading (NOT NULL comes back after)."""
    for name in derived:
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL").format(
            staging.staging_ident(import_id), sql.Identifier(name)))


def apply(conn: psycopg.Connection, layer: LayerDef, import_id: int, derived: dict[str, str],
          registry: Registry, report: ImportReport, mode: str) -> int:
    """Fill the derived fields of the staged rows; returns how many rows were rejected."""
    if not derived:
        return 0
    table = staging.staging_ident(import_id)
    located = {f: how for f, how in derived.items() if how in LOCATION_DERIVATIONS}
    deleted = _locate(conn, layer, import_id, located, registry, report) if located else 0
    for name, how in derived.items():
        if how in KEY_DERIVATIONS:
            _generate_key(conn, layer, table, name, how, mode, report)
    for name in derived:
        if layer.field(name).required:
            conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET NOT NULL").format(
                table, sql.Identifier(name)))
    return deleted


def _admin_source(conn: psycopg.Connection, registry: Registry, how: str, field: str,
                  required: bool, report: ImportReport) -> LayerDef | None:
    """The admin layer to look the location up in; None (noted) when it holds no boundaries
    and the field may stay empty."""
    admin = registry.admin_layer(ADMIN_LEVEL[how])
    row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE geom IS NOT NULL)").format(
        staging.live_ident(admin))).fetchone()
    if row and row[0]:
        return admin
    message = (f"{field} is derived from the location ({how}), but {admin.id} holds no "
               "boundaries")
    if not required:
        report.note(f"derive.{how}", "warn", "đủ", message + f": {field} stays empty",
                    field_name=field)
        return None
    report.note(f"derive.{how}", "abort", "đủ", message, field_name=field)
    raise ImportFailed(message, where=admin.id,
                       hint=f"import {admin.id} first (iocgis import FILE --layer {admin.id}), "
                            f"or give {field} in the file")


def _locate(conn: psycopg.Connection, layer: LayerDef, import_id: int,
            located: dict[str, str], registry: Registry, report: ImportReport) -> int:
    table = staging.staging_ident(import_id)
    sources = {}
    joins = []
    picks = []
    for field, how in located.items():
        admin = _admin_source(conn, registry, how, field, layer.field(field).required, report)
        if admin is None:
            continue
        alias = sql.Identifier(f"a{len(sources)}")
        sources[field] = (admin, how)
        # a join answered by the admin layer's GiST index; min(): a point exactly on a shared
        # boundary takes the lower code
        joins.append(sql.SQL("LEFT JOIN {admin} {a} ON ST_Covers({a}.geom, t.pt)").format(
            admin=staging.live_ident(admin), a=alias))
        picks.append(sql.SQL("min({a}.{code}) AS {name}").format(
            a=alias, code=sql.Identifier(admin.key[0]), name=sql.Identifier(field)))
    if not sources:
        return 0
    conn.execute(sql.SQL("ANALYZE {}").format(table))  # a freshly loaded table has no statistics
    sets = sql.SQL(", ").join(sql.SQL("{f} = d.{f}").format(f=sql.Identifier(f)) for f in sources)
    found = sql.SQL(" OR ").join(sql.SQL("d.{} IS NOT NULL").format(sql.Identifier(f))
                                 for f in sources)
    conn.execute(sql.SQL(
        "UPDATE {table} s SET {sets} FROM (SELECT t.fid, {picks} FROM (SELECT fid, "
        "ST_PointOnSurface(geom) AS pt FROM {table}) t {joins} GROUP BY t.fid) d "
        "WHERE s.fid = d.fid AND ({found})").format(
            table=table, sets=sets, picks=sql.SQL(", ").join(picks),
            joins=sql.SQL(" ").join(joins), found=found))
    rejected: set[int] = set()
    for field, (admin, how) in sources.items():
        column = sql.Identifier(field)
        filled, missing = conn.execute(sql.SQL(
            "SELECT count({c}), count(*) - count({c}) FROM {t}").format(c=column, t=table)
        ).fetchone()  # type: ignore[misc]
        report.note(f"derive.{how}", "info", "đủ",
                    f"{field} derived from each feature's location in {admin.id} "
                    "(its point on surface)", field_name=field, count=int(filled))
        report.derived(field, how, SCHEMES[how], int(filled), int(missing), source=admin.id)
        if not missing:
            continue
        outside = conn.execute(sql.SQL(
            "SELECT fid, round(ST_X(ST_PointOnSurface(geom))::numeric, 5), "
            "round(ST_Y(ST_PointOnSurface(geom))::numeric, 5) FROM {t} WHERE {c} IS NULL "
            "ORDER BY fid LIMIT 10000").format(t=table, c=column)).fetchall()
        fids = [int(r[0]) for r in outside]
        example = f"feature {fids[0]} at {outside[0][1]}, {outside[0][2]}" if outside else None
        required = layer.field(field).required
        report.note("derive.outside", "reject" if required else "warn", "đúng",
                    f"{field}: the feature lies outside every boundary of {admin.id}, so "
                    f"{field} cannot be derived" + ("" if required else "; kept without it"),
                    fids, field, count=int(missing), example=example)
        if required:
            rejected.update(fids)
    if rejected:
        staging.delete_fids(conn, import_id, sorted(rejected))
        report.rows_rejected += len(rejected)
    return len(rejected)


def hashed_shape(layer: LayerDef) -> sql.Composable:
    """What key_hash hashes: the footprint where the row has one (so a house drawn as before
    keeps its key), else the position."""
    return sql.SQL("coalesce(footprint, geom)" if layer.footprint else "geom")


def _generate_key(conn: psycopg.Connection, layer: LayerDef, table: sql.Composable, name: str,
                  how: str, mode: str, report: ImportReport) -> None:
    target = sql.Identifier(name)
    if how == "key_hash":
        keys = sql.SQL(
            "SELECT fid, h || CASE WHEN n > 1 THEN '-' || n ELSE '' END AS k FROM (SELECT fid, h, "
            "row_number() OVER (PARTITION BY h ORDER BY fid) AS n FROM (SELECT fid, "
            "left(md5(ST_AsBinary(ST_SnapToGrid({shape}, {grid}))), 16) AS h FROM {t}) x) y"
        ).format(shape=hashed_shape(layer), grid=sql.Literal(HASH_GRID), t=table)
    else:
        commune = getattr(layer, "commune_field", None)  # the registry's layer-level key
        prefix_field = commune if commune and commune != name else None
        prefix = sql.Identifier(prefix_field) if prefix_field else sql.SQL("NULL::text")
        # under append, numbering goes on after the live layer's highest of each commune
        # (one pass over the live keys written in this scheme, grouped by their prefix)
        live = sql.SQL(
            "SELECT substring({k} FROM '^(.+)-[0-9]+$') AS p, "
            "max(substring({k} FROM '([0-9]+)$')::bigint) AS m FROM {live} "
            "WHERE {k} ~ '^([^-]+-)?[0-9]+$' GROUP BY 1").format(
                k=target, live=staging.live_ident(layer)) if mode == "append" \
            else sql.SQL("SELECT NULL::text AS p, 0::bigint AS m WHERE false")
        keys = sql.SQL(
            "SELECT fid, coalesce(p || '-', '') || lpad(v, greatest({digits}, length(v)), '0') "
            "AS k FROM (SELECT x.fid, x.p, (x.n + coalesce(b.m, 0))::text AS v FROM (SELECT fid, "
            "{prefix} AS p, row_number() OVER (PARTITION BY {prefix} ORDER BY fid) AS n "
            "FROM {t}) x LEFT JOIN ({live}) b ON b.p IS NOT DISTINCT FROM x.p) y").format(
                digits=sql.Literal(SEQUENCE_DIGITS), prefix=prefix, t=table, live=live)
    cur = conn.execute(sql.SQL("UPDATE {t} s SET {c} = d.k FROM ({keys}) d "
                               "WHERE s.fid = d.fid").format(t=table, c=target, keys=keys))
    rows = max(cur.rowcount, 0)
    report.note(f"derive.{how}", "info", "đủ",
                f"{name} generated: {SCHEMES[how]}", field_name=name, count=rows)
    report.derived(name, how, SCHEMES[how], rows, 0)

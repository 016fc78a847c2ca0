"""The staging table: same columns as the live table, filled with binary COPY, checked in SQL.

Staging tables live in the ``import_staging`` schema and are named ``s<import id>``; a staging
table left behind by a killed import is dropped by the next import of the layer. The live
table is never written here.
"""

from __future__ import annotations

import queue
import threading
from datetime import date
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from psycopg import sql
from sqlalchemy import MetaData

from iocgis.importers import copy_binary
from iocgis.layers import LayerDef
from iocgis.layers.tables import STORAGE_SRID, layer_table
from iocgis.layers.types import field_type
from iocgis.tiles import generalised

STAGING_SCHEMA = "import_staging"
QUEUED_BATCHES = 1  # batches waiting for the COPY thread
HISTORY_SCHEMA = "import_history"


def live_ident(layer: LayerDef) -> sql.Composed:
    return sql.Identifier(layer.schema_name, layer.table_name)


def staging_name(import_id: int) -> str:
    return f"s{import_id}"


def staging_ident(import_id: int) -> sql.Composed:
    return sql.Identifier(STAGING_SCHEMA, staging_name(import_id))


def load_columns(layer: LayerDef) -> list[str]:
    """Columns the importer writes (updated_at takes its default)."""
    return ["fid", *layer.field_names, "extra", "source_date", "import_id",
            *layer.geometry_columns]


def create(conn: psycopg.Connection, layer: LayerDef, import_id: int, *, unlogged: bool) -> None:
    """An empty copy of the live table's columns, defaults, identity and comments; no indexes
    yet (they are built after the load, which is several times faster than maintaining them)."""
    conn.execute(sql.SQL(
        "CREATE {unlogged} TABLE {staging} (LIKE {live} INCLUDING DEFAULTS INCLUDING IDENTITY "
        "INCLUDING COMMENTS INCLUDING STORAGE INCLUDING CONSTRAINTS)").format(
            unlogged=sql.SQL("UNLOGGED" if unlogged else ""), staging=staging_ident(import_id),
            live=live_ident(layer)))


def drop(conn: psycopg.Connection, import_id: int) -> None:
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging_ident(import_id)))
    generalised.drop_staged(conn, import_id)  # the tile-ready copy built beside it


class StagingWriter:
    """Binary COPY of cleaned batches into the staging table. ``write`` prepares a batch's
    columns and hands them to a thread of its own, which encodes them (Arrow kernels, outside
    the GIL) and sends them (libpq, outside the GIL) while the caller cleans the next batch:
    with one batch waiting at most, both cores work and memory holds about three batches."""

    def __init__(self, conn: psycopg.Connection, layer: LayerDef, import_id: int) -> None:
        self.layer = layer
        self.import_id = import_id
        cols = load_columns(layer)
        stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            staging_ident(import_id), sql.SQL(", ").join(map(sql.Identifier, cols)))
        self.types = ["int8", *(field_type(f.type).copy for f in layer.fields), "jsonb", "date",
                      "int8"] + ["bytea"] * len(layer.geometry_columns)  # EWKB: geometry_recv
        self._cursor = conn.cursor()
        self._copy_cm = self._cursor.copy(stmt)
        self._copy = self._copy_cm.__enter__()
        self._copy.write(copy_binary.SIGNATURE)
        self.rows = 0
        self.bounds: list[float] | None = None  # of every geometry written
        # 64-bit hashes of every key and geometry written (8 bytes a feature each): equal
        # values have equal hashes, so no repeated hash means no repeat and no SQL pass.
        self._key_hashes: list[np.ndarray] = []
        self._geom_hashes: list[np.ndarray] = []
        self._pending: queue.Queue[list[tuple[pa.Array, str]] | None] = queue.Queue(maxsize=QUEUED_BATCHES)
        self._failure: list[BaseException] = []
        self._sender = threading.Thread(target=self._send, name="iocgis-copy", daemon=True)
        self._sender.start()

    def _send(self) -> None:
        """The COPY thread: encode and send each batch; after a failure, keep taking batches
        (so ``write`` never blocks) until the end."""
        while (columns := self._pending.get()) is not None:
            if self._failure:
                continue
            try:
                self._copy.write(copy_binary.encode(columns))
            except BaseException as exc:  # re-raised in the caller's thread
                self._failure.append(exc)

    def write(self, fids: np.ndarray, values: dict[str, pa.Array], extra: pa.Array,
              geoms: np.ndarray | None, source_date: date | None,
              footprints: np.ndarray | None = None,
              source_wkb: tuple[pa.Array, np.ndarray] | None = None) -> None:
        """``source_wkb``: the WKB as read and the rows whose geometry it still is (those
        are written as read; the others are encoded again)."""
        if self._failure:
            raise self._failure[0]
        n = len(fids)
        columns: list[pa.Array] = [pa.array(fids, pa.int64())]
        columns += [values[name] for name in self.layer.field_names]
        columns.append(extra)
        columns.append(pa.array([source_date] * n, pa.date32()) if source_date
                       else pa.nulls(n, pa.date32()))
        columns.append(pa.array(np.full(n, self.import_id, dtype=np.int64)))
        if self.layer.is_spatial:
            assert geoms is not None
            wkb = _wkb(geoms, source_wkb)
            self._geom_hashes.append(np.fromiter((hash(b) for b in wkb.to_pylist()),
                                                 np.int64, n))
            columns.append(copy_binary.ewkb(wkb, STORAGE_SRID))
            del wkb
            box = shapely.total_bounds(geoms)
            if np.isfinite(box).all():
                old = self.bounds
                self.bounds = list(box) if old is None else [
                    min(old[0], box[0]), min(old[1], box[1]), max(old[2], box[2]),
                    max(old[3], box[3])]
        if self.layer.footprint:  # None where a row has only its position
            outline = np.full(n, None, dtype=object) if footprints is None else footprints
            columns.append(copy_binary.ewkb(pa.array(shapely.to_wkb(outline, byte_order=1),
                                                     pa.binary()), STORAGE_SRID))
        if self.layer.key:
            parts = [values[k].cast(pa.string()) for k in self.layer.key]
            joined = pc.binary_join_element_wise(*parts, "\x1f") if len(parts) > 1 else parts[0]
            self._key_hashes.append(np.fromiter(
                (hash(v) for v in joined.to_pylist() if v is not None), np.int64))
        self._pending.put(list(zip(columns, self.types, strict=True)))
        self.rows += n

    @staticmethod
    def _any_repeat(chunks: list[np.ndarray]) -> bool:
        if not chunks:
            return False
        hashes = np.concatenate(chunks)
        return len(np.unique(hashes)) < len(hashes)

    def may_repeat_keys(self) -> bool:
        return self._any_repeat(self._key_hashes)

    def may_repeat_geometries(self) -> bool:
        return self._any_repeat(self._geom_hashes)

    def close(self, error: BaseException | None = None) -> None:
        """End the COPY: committed to staging when every batch went, else cancelled (with
        ``error``, or the COPY thread's own, which is then raised)."""
        self._pending.put(None)
        self._sender.join()
        failure = error or (self._failure[0] if self._failure else None)
        try:
            if failure is None:
                self._copy.write(copy_binary.TRAILER)
                self._copy_cm.__exit__(None, None, None)
            else:
                self._copy_cm.__exit__(type(failure), failure, failure.__traceback__)
        finally:
            self._cursor.close()
        if error is None and failure is not None:
            raise failure


def _wkb(geoms: np.ndarray, source: tuple[pa.Array, np.ndarray] | None) -> pa.Array:
    """Little-endian WKB of ``geoms``: as read where the geometry is unchanged (and already
    plain little-endian 2D WKB), encoded by GEOS for the rest (shapely's to_wkb holds the GIL: it was a
    third of the load phase's single-threaded time)."""
    if source is not None:
        read, unchanged = source
        read = read.cast(pa.binary())
        unchanged = unchanged & copy_binary.plain_2d(read)
        if unchanged.all():
            return read
        if unchanged.any():
            encoded = np.full(len(geoms), None, dtype=object)
            encoded[~unchanged] = shapely.to_wkb(geoms[~unchanged], byte_order=1)
            return pc.if_else(pa.array(unchanged), read, pa.array(encoded, pa.binary()))
    return pa.array(shapely.to_wkb(geoms, byte_order=1), pa.binary())


def duplicate_keys(conn: psycopg.Connection, layer: LayerDef, import_id: int,
                   limit: int = 10_000) -> list[tuple[int, int]]:
    """(later fid, first fid) for each feature whose key repeats an earlier one."""
    if not layer.key:
        return []
    key = sql.SQL(", ").join(map(sql.Identifier, layer.key))
    groups = conn.execute(sql.SQL(
        "SELECT array_agg(fid ORDER BY fid) FROM {t} GROUP BY {key} HAVING count(*) > 1 "
        "LIMIT %s").format(t=staging_ident(import_id), key=key), (limit,)).fetchall()
    return _repeats(groups)


def _repeats(groups: list[tuple[list[int]]]) -> list[tuple[int, int]]:
    """(later fid, first fid) pairs from groups of fids sharing a value."""
    return sorted((int(fid), int(fids[0])) for (fids,) in groups for fid in fids[1:])


def keys_in_live(conn: psycopg.Connection, layer: LayerDef, import_id: int,
                 limit: int = 10_000) -> list[int]:
    """Staged features whose key already exists in the live table (append mode)."""
    if not layer.key:
        return []
    cond = sql.SQL(" AND ").join(
        sql.SQL("l.{c} = s.{c}").format(c=sql.Identifier(k)) for k in layer.key)
    rows = conn.execute(sql.SQL(
        "SELECT s.fid FROM {s} s WHERE EXISTS (SELECT 1 FROM {l} l WHERE {cond}) "
        "ORDER BY s.fid LIMIT %s").format(s=staging_ident(import_id), l=live_ident(layer),
                                           cond=cond), (limit,)).fetchall()
    return [int(r[0]) for r in rows]


def outside_communes(conn: psycopg.Connection, import_id: int, field: str,
                     communes: tuple[str, ...], limit: int = 10_000) -> tuple[list[int], list[str]]:
    """Staged rows whose commune is not one of ``communes`` (or is missing): their fids and
    the communes they name."""
    rows = conn.execute(sql.SQL(
        "SELECT fid, {f} FROM {s} WHERE {f} IS NULL OR NOT ({f} = ANY(%s)) ORDER BY fid LIMIT %s"
    ).format(f=sql.Identifier(field), s=staging_ident(import_id)),
        (list(communes), limit)).fetchall()
    return [int(r[0]) for r in rows], sorted({str(r[1]) for r in rows if r[1] is not None})


def keep_other_communes(conn: psycopg.Connection, layer: LayerDef, import_id: int, field: str,
                        communes: tuple[str, ...]) -> int:
    """Copy the live rows of every commune but ``communes`` into staging (numbered after the
    staged rows), so that a replace by an officer limited to those communes replaces only
    theirs. Returns how many rows were kept."""
    columns = [c for c in load_columns(layer) if c != "fid"]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    cur = conn.execute(sql.SQL(
        "INSERT INTO {s} (fid, {cols}) SELECT (SELECT coalesce(max(fid), 0) FROM {s}) "
        "+ row_number() OVER (ORDER BY l.fid), {lcols} FROM {l} l "
        "WHERE l.{f} IS NULL OR NOT (l.{f} = ANY(%s))").format(
            s=staging_ident(import_id), cols=names, l=live_ident(layer), f=sql.Identifier(field),
            lcols=sql.SQL(", ").join(sql.SQL("l.{}").format(sql.Identifier(c)) for c in columns)),
        (list(communes),))
    return cur.rowcount or 0


def duplicate_geometries(conn: psycopg.Connection, import_id: int,
                         limit: int = 10_000) -> list[tuple[int, int]]:
    groups = conn.execute(sql.SQL(
        "SELECT array_agg(fid ORDER BY fid) FROM {t} WHERE geom IS NOT NULL GROUP BY geom "
        "HAVING count(*) > 1 LIMIT %s").format(t=staging_ident(import_id)), (limit,)).fetchall()
    return _repeats(groups)


def delete_fids(conn: psycopg.Connection, import_id: int, fids: list[int]) -> None:
    if fids:
        conn.execute(sql.SQL("DELETE FROM {} WHERE fid = ANY(%s)").format(
            staging_ident(import_id)), (fids,))


def canonical_indexes(layer: LayerDef) -> list[tuple[str, list[str], bool, str]]:
    """(name, columns, unique, method) of the live table's indexes, from the registry."""
    table = layer_table(layer, MetaData())
    out = []
    for index in sorted(table.indexes, key=lambda i: i.name or ""):
        method = index.dialect_options["postgresql"].get("using") or "btree"
        out.append((str(index.name), [c.name for c in index.columns], bool(index.unique),
                    str(method)))
    return out


def build_indexes(conn: psycopg.Connection, layer: LayerDef, import_id: int,
                  url: str | None = None) -> None:
    """Primary key and the registry's indexes on the staging table, named ``s<id>_<name>``,
    so the swap only has to rename them. With ``url`` the GiST index is built on a second
    connection at the same time as the B-trees (PostgreSQL builds each on one core)."""
    prefix = staging_name(import_id) + "_"
    table = staging_ident(import_id)
    # the primary key's index built like the others (a SHARE lock, beside the GiST build),
    # then made the constraint (ADD PRIMARY KEY would hold the table's exclusive lock for the
    # whole build, so the GiST build and the tile-ready copy would wait for it)
    pkey = sql.Identifier(prefix + f"{layer.table_name}_pkey")
    statements = [sql.SQL("CREATE UNIQUE INDEX {} ON {} (fid)").format(pkey, table)]
    spatial: list[sql.Composable] = []
    for name, columns, unique, method in canonical_indexes(layer):
        statement = sql.SQL("CREATE {unique} INDEX {name} ON {table} USING {method} ({cols})").format(
            unique=sql.SQL("UNIQUE" if unique else ""), name=sql.Identifier(prefix + name),
            table=table, method=sql.SQL(method if method in ("gist", "btree") else "btree"),
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)))
        (spatial if method == "gist" else statements).append(statement)
    failure: list[BaseException] = []

    def build_spatial() -> None:
        try:
            with psycopg.connect(url, autocommit=True) as other:  # type: ignore[arg-type]
                for statement in spatial:
                    other.execute(statement)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    worker = None
    if url and spatial:
        worker = threading.Thread(target=build_spatial, name="iocgis-gist")
        worker.start()
    else:
        statements += spatial
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        if worker is not None:
            worker.join()
    if failure:
        raise failure[0]
    conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}").format(
        table, pkey, pkey))
    conn.execute(sql.SQL("ANALYZE {}").format(table))


def facts(conn: psycopg.Connection, layer: LayerDef, table: sql.Composable) -> dict[str, Any]:
    """Row count, extent and temporal range of a (staging or live) table, for meta.layers."""
    parts = [sql.SQL("count(*)")]
    parts.append(sql.SQL("ST_AsBinary(ST_SetSRID(ST_Envelope(ST_Expand(ST_Extent(geom)::geometry, "
                         "1e-7)), {}))").format(sql.Literal(STORAGE_SRID))
                 if layer.is_spatial else sql.SQL("NULL"))
    if layer.temporal:
        t = sql.Identifier(layer.temporal)
        parts += [sql.SQL("min({})::timestamptz").format(t), sql.SQL("max({})::timestamptz").format(t)]
    else:
        parts += [sql.SQL("NULL::timestamptz"), sql.SQL("NULL::timestamptz")]
    row = conn.execute(sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(parts), table)
                       ).fetchone()
    assert row is not None
    return {"row_count": int(row[0]), "extent": row[1], "temporal_min": row[2],
            "temporal_max": row[3]}

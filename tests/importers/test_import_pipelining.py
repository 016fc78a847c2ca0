"""The load phase's threads (issue 20): batches read ahead on a thread, COPY encoded and sent
on another, EWKB made from plain WKB without cloning geometries. Errors of either thread
surface in the caller, in order, and nothing is left running or half-written."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import psycopg
import pyarrow as pa
import pytest
import shapely
from psycopg import sql

from iocgis.importers import copy_binary, staging
from iocgis.importers.batch import FeatureBatch, read_ahead
from iocgis.layers import get_registry


def test_ewkb_equals_shapely_ewkb_with_nulls_and_slices() -> None:
    geoms = np.array([None, shapely.Point(106.8, 10.9), None, shapely.box(106, 10, 107, 11),
                      shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)]),
                      shapely.MultiLineString([[(0, 0), (1, 1)]]), None], dtype=object)
    expected = list(shapely.to_wkb(shapely.set_srid(geoms, 4326), include_srid=True,
                                   byte_order=1))
    wkb = pa.array(shapely.to_wkb(geoms, byte_order=1), pa.binary())
    assert copy_binary.ewkb(wkb, 4326).to_pylist() == expected
    assert copy_binary.ewkb(wkb.slice(3, 3), 4326).to_pylist() == expected[3:6]
    assert copy_binary.ewkb(wkb.slice(0, 1), 4326).to_pylist() == [None]
    for value, geom in zip(copy_binary.ewkb(wkb, 4326).to_pylist(), geoms, strict=True):
        if geom is not None:  # read back: same SRID, same shape
            back = shapely.from_wkb(value)
            assert shapely.get_srid(back) == 4326 and shapely.equals_exact(back, geom, 0)
    big_endian = pa.array(shapely.to_wkb(geoms[3:4], byte_order=0), pa.binary())
    with pytest.raises(ValueError, match="little-endian"):
        copy_binary.ewkb(big_endian, 4326)


def _batches(n: int, fail_after: int | None, closed: list[bool]) -> Iterator[FeatureBatch]:
    try:
        for i in range(n):
            if fail_after is not None and i == fail_after:
                raise OSError(f"the file ends inside batch {i}")
            yield FeatureBatch(np.arange(i * 10 + 1, i * 10 + 11), np.full(10, None, object), {})
    finally:
        closed.append(True)


def test_read_ahead_keeps_order_and_raises_the_readers_error_in_place() -> None:
    closed: list[bool] = []
    seen = []
    with pytest.raises(OSError, match="ends inside batch 3"):
        for batch in read_ahead(_batches(6, 3, closed)):
            seen.append(int(batch.fids[0]))
    assert seen == [1, 11, 21]  # every batch before the error, in order
    assert closed == [True]
    assert not [t for t in threading.enumerate() if t.name == "iocgis-read"]


def test_read_ahead_stops_its_thread_when_the_caller_stops_early() -> None:
    closed: list[bool] = []
    batches = read_ahead(_batches(1000, None, closed))
    assert int(next(batches).fids[0]) == 1
    batches.close()  # what the pipeline does when a rule aborts the import
    assert closed == [True]
    assert not [t for t in threading.enumerate() if t.name == "iocgis-read"]


def test_a_copy_refused_by_the_server_is_raised_and_stages_nothing(imp_conn: psycopg.Connection
                                                                   ) -> None:
    layer = get_registry().get("land.parcels")
    import_id = 990_000_001
    staging.drop(imp_conn, import_id)
    staging.create(imp_conn, layer, import_id, unlogged=True)
    try:
        writer = staging.StagingWriter(imp_conn, layer, import_id)
        n = 3
        values = {f.name: pa.nulls(n, pa.string()) if f.type == "text" else
                  pa.array([1] * n, pa.int64()) if f.type in ("integer", "bigint") else
                  pa.array([1.0] * n) for f in layer.fields}  # commune_code NULL: NOT NULL
        geoms = np.array([shapely.MultiPolygon([shapely.box(106.8, 10.9, 106.81, 10.91)])] * n)
        writer.write(np.arange(1, n + 1), values, pa.nulls(n, pa.string()), geoms, None)
        with pytest.raises(psycopg.errors.NotNullViolation):
            writer.close()
        assert not [t for t in threading.enumerate() if t.name == "iocgis-copy"]
        count = imp_conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            staging.staging_ident(import_id))).fetchone()
        assert count is not None and count[0] == 0
    finally:
        staging.drop(imp_conn, import_id)


def test_wkb_as_read_is_reused_only_where_the_geometry_is_unchanged(
        imp_conn: psycopg.Connection) -> None:
    layer = get_registry().get("land.parcels")
    import_id = 990_000_002
    staging.drop(imp_conn, import_id)
    staging.create(imp_conn, layer, import_id, unlogged=True)
    try:
        n = 4
        read = [shapely.MultiPolygon([shapely.box(106.8 + i / 100, 10.9, 106.805 + i / 100,
                                                  10.905)]) for i in range(n)]
        wkb = [shapely.to_wkb(g, byte_order=1) for g in read]
        wkb[2] = shapely.to_wkb(read[2], byte_order=0)  # big-endian as read: encoded again
        geoms = np.array(read, dtype=object)
        geoms[1] = shapely.MultiPolygon([shapely.box(106.9, 10.8, 106.91, 10.81)])  # repaired
        unchanged = np.array([True, False, True, True])
        values = {f.name: pa.array(["75001"] * n) if f.name == "commune_code" else
                  pa.array(["ONT"] * n) if f.name == "land_use" else
                  pa.nulls(n, pa.string()) if f.type == "text" else
                  pa.array(list(range(1, n + 1)), pa.int64()) if f.type in ("integer", "bigint")
                  else pa.array([1.0] * n) for f in layer.fields}
        writer = staging.StagingWriter(imp_conn, layer, import_id)
        writer.write(np.arange(1, n + 1), values, pa.nulls(n, pa.string()), geoms, None,
                     source_wkb=(pa.array(wkb, pa.binary()), unchanged))
        writer.close()
        stored = imp_conn.execute(sql.SQL(
            "SELECT ST_AsBinary(geom), ST_SRID(geom) FROM {} ORDER BY fid").format(
                staging.staging_ident(import_id))).fetchall()
        assert [srid for _, srid in stored] == [4326] * n
        assert [shapely.equals_exact(shapely.from_wkb(bytes(b)), g, 0)
                for (b, _), g in zip(stored, geoms, strict=True)] == [True] * n
    finally:
        staging.drop(imp_conn, import_id)

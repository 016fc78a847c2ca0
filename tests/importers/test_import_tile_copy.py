"""The tile-ready copy (``iocgis.tiles.generalised``) follows the imports: built beside the
staging table, published by the swap for the new data version, dropped with a rejected
import, and no longer current after an import written in place until it is rebuilt."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from iocgis.importers import review
from iocgis.importers.review import Reviewer
from iocgis.layers import get_registry
from iocgis.tiles import generalised

from .conftest import Importer
from .importer_fixtures import parcels, write_vector

LAYER = "land.parcels"


def current(conn: psycopg.Connection) -> generalised.GeneralisedTable | None:
    """The layer's copy, when built for its live version."""
    return generalised.current_tables(conn.execute(generalised.CURRENT_SQL).fetchall()).get(LAYER)


def copied(conn: psycopg.Connection) -> list[tuple]:
    """(fid, parcel_no, label present, shape in EPSG:3857) of every row of the live copy."""
    table = sql.Identifier(generalised.SCHEMA, generalised.live_name(get_registry().get(LAYER)))
    return conn.execute(sql.SQL("SELECT fid, parcel_no, label IS NOT NULL, ST_SRID(shape) "
                                "FROM {} ORDER BY fid").format(table)).fetchall()


def staged_exists(conn: psycopg.Connection, import_id: int) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (
        f"{generalised.SCHEMA}.{generalised.staged_name(import_id)}",)).fetchone()[0]


def test_the_copy_follows_replace_append_review_and_rebuild(run, imp_conn, imp_url, imp_settings,
                                                            tmp_path: Path) -> None:
    geoms, fields = parcels(6)
    first = run(write_vector(tmp_path / "p6.gpkg", geoms, fields), LAYER, approval="auto")
    copy = current(imp_conn)
    assert copy is not None and not staged_exists(imp_conn, first.import_id)
    live = imp_conn.execute("SELECT fid, parcel_no FROM land.parcels ORDER BY fid").fetchall()
    assert [(f, n) for f, n, _, _ in copied(imp_conn)] == live and len(live) == 6
    assert all(label and srid == 3857 for _, _, label, srid in copied(imp_conn))

    geoms, fields = parcels(2, start=50)
    run(write_vector(tmp_path / "more.gpkg", geoms, fields), LAYER, mode="append",
        approval="auto")
    assert current(imp_conn) is None  # written in place: tiles read the layer itself
    assert generalised.rebuild(imp_conn, get_registry().get(LAYER)) == imp_conn.execute(
        "SELECT data_version FROM meta.layers WHERE id = %s", (LAYER,)).fetchone()[0]
    assert current(imp_conn) is not None and len(copied(imp_conn)) == 8

    geoms, fields = parcels(3, start=100)
    pending = run(write_vector(tmp_path / "p3.gpkg", geoms, fields), LAYER, approval="submit")
    assert staged_exists(imp_conn, pending.import_id)  # waits beside the staging table
    assert len(copied(imp_conn)) == 8 and current(imp_conn) is not None  # live one untouched
    review.reject(imp_conn, get_registry(), pending.import_id, Reviewer.operator("pytest"),
                  "thử lại")
    assert not staged_exists(imp_conn, pending.import_id)

    again = run(write_vector(tmp_path / "p3b.gpkg", geoms, fields), LAYER, approval="submit")
    review.approve(imp_conn, get_registry(), again.import_id, Reviewer.operator("pytest"))
    assert current(imp_conn) is not None and not staged_exists(imp_conn, again.import_id)
    assert [n for _, n, _, _ in copied(imp_conn)] == [100, 101, 102]

    off = imp_settings.model_copy(update={"tiles": imp_settings.tiles.model_copy(
        update={"copies": False})})  # IOCGIS_TILES_COPIES=false: imports build none
    Importer(imp_url, off)(write_vector(tmp_path / "p6b.gpkg", *parcels(6)), LAYER,
                           approval="auto")
    assert current(imp_conn) is None

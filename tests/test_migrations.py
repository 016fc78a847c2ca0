"""Migrations follow the registry: every layer has its table and index; re-running is a no-op."""

from __future__ import annotations

import psycopg
from alembic import command

from iocgis import migrate
from iocgis.layers import get_registry
from iocgis.settings import Settings

from .conftest import scratch_database


def test_every_layer_has_its_table_and_gist_index(conn: psycopg.Connection) -> None:
    for layer in get_registry():
        regclass = conn.execute("SELECT to_regclass(%s)", (f"{layer.schema_name}.{layer.table_name}",)
                                ).fetchone()[0]
        assert regclass is not None, layer.id
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema=%s AND table_name=%s",
            (layer.schema_name, layer.table_name))}
        assert set(layer.field_names) <= columns, layer.id
        # the position in geom, and the footprint of a layer that has one, each with its index
        kinds = dict(zip(layer.geometry_columns, layer.accepted_geometries, strict=True))
        found = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT f_geometry_column, srid, type FROM geometry_columns WHERE f_table_schema=%s "
            "AND f_table_name=%s", (layer.schema_name, layer.table_name))}
        assert found == {c: (4326, kind.upper()) for c, kind in kinds.items()}, layer.id
        for column in kinds:
            gist = conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE schemaname=%s AND tablename=%s "
                "AND indexdef ILIKE %s", (layer.schema_name, layer.table_name,
                                          f"%USING gist ({column})%")).fetchone()[0]
            assert gist == 1, (layer.id, column)


def test_catalog_mirrors_registry(conn: psycopg.Connection) -> None:
    rows = {r[0]: r for r in conn.execute(
        "SELECT id, title_vi, title_en, sensitivity, pii_fields FROM meta.layers")}
    registry = get_registry()
    assert set(rows) == set(registry.ids)
    parcels = rows["land.parcels"]
    assert parcels[1] == "Thửa đất"
    assert set(parcels[4]) == {"certificate_no", "holder_name"}


def test_migrations_are_rerunnable_and_complete(db_url: str, conn: psycopg.Connection) -> None:
    before = conn.execute("SELECT version_num FROM meta.alembic_version").fetchone()[0]
    migrate.upgrade(db_url)
    after = conn.execute("SELECT version_num FROM meta.alembic_version").fetchone()[0]
    assert before == after
    # Nothing in the registry is missing from the migrations (autogenerate finds no difference).
    assert migrate.pending_changes(db_url) == []


def test_required_fields_are_not_null(conn: psycopg.Connection) -> None:
    nullable = conn.execute(
        "SELECT is_nullable FROM information_schema.columns "
        "WHERE table_schema='land' AND table_name='parcels' AND column_name='land_use'").fetchone()[0]
    assert nullable == "NO"


def test_polygon_houses_become_footprints_and_positions(base_settings: Settings) -> None:
    """Migration 0011 on a database of polygon houses: each polygon becomes the footprint and
    its point on surface the position, in the live table and in a kept version (rollback)."""
    l_shape = ("MULTIPOLYGON(((106.82 10.94, 106.8202 10.94, 106.8202 10.94005, 106.82005 "
               "10.94005, 106.82005 10.9402, 106.82 10.9402, 106.82 10.94)))")
    with scratch_database(base_settings, "mig") as url:
        command.downgrade(migrate.alembic_config(url), "0010_import_approval")
        with psycopg.connect(url, autocommit=True) as old:
            old.execute("INSERT INTO housing.houses (house_id, commune_code, geom) VALUES "
                        "('H-1', '26041', ST_GeomFromText(%s, 4326))", (l_shape,))
            old.execute("INSERT INTO meta.imports (id, layer_id, mode, status, source_path, "
                        "user_name, previous_table) VALUES (9001, 'housing.houses', 'replace', "
                        "'loaded', 'nha.gpkg', 'pytest', 'import_history.h9001')")
            old.execute("CREATE TABLE import_history.h9001 AS TABLE housing.houses")
            old.execute("CREATE INDEX h9001_houses_geom_gist ON import_history.h9001 "
                        "USING gist (geom)")
        migrate.upgrade(url)
        with psycopg.connect(url, autocommit=True) as new:
            for table, prefix in (("housing.houses", ""), ("import_history.h9001", "h9001_")):
                same, inside, shape = new.execute(
                    f"SELECT geom = ST_PointOnSurface(footprint), ST_Contains(footprint, geom), "
                    f"ST_Equals(footprint, ST_GeomFromText(%s, 4326)) FROM {table}",
                    (l_shape,)).fetchone()
                assert same and inside and shape, table
                indexes = dict(new.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname || '.' || "
                    "tablename = %s AND indexdef ILIKE '%%gist%%'", (table,)).fetchall())
                assert "(geom)" in indexes[f"{prefix}houses_geom_gist"]
                assert "(footprint)" in indexes[f"{prefix}houses_footprint_gist"]
            masked = {r[0] for r in new.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'masked' AND table_name = 'housing_houses'")}
            assert {"geom", "footprint"} <= masked and "household_head" in masked
        assert migrate.pending_changes(url) == []

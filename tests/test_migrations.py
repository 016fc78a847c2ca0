"""Migrations follow the registry: every layer has its table and index; re-running is a no-op."""

from __future__ import annotations

import psycopg

from iocgis import migrate
from iocgis.layers import get_registry


def test_every_layer_has_its_table_and_gist_index(conn: psycopg.Connection) -> None:
    for layer in get_registry():
        regclass = conn.execute("SELECT to_regclass(%s)", (f"{layer.schema_name}.{layer.table_name}",)
                                ).fetchone()[0]
        assert regclass is not None, layer.id
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema=%s AND table_name=%s",
            (layer.schema_name, layer.table_name))}
        assert set(layer.field_names) <= columns, layer.id
        if layer.geometry:
            srid, gtype = conn.execute(
                "SELECT srid, type FROM geometry_columns WHERE f_table_schema=%s AND f_table_name=%s",
                (layer.schema_name, layer.table_name)).fetchone()
            assert srid == 4326
            assert gtype == layer.geometry.upper()
            gist = conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE schemaname=%s AND tablename=%s "
                "AND indexdef ILIKE '%%USING gist (geom)%%'", (layer.schema_name, layer.table_name)
            ).fetchone()[0]
            assert gist == 1, layer.id


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

"""points and footprints: a layer's position in geom, an optional footprint MultiPolygon

housing.houses was a MultiPolygon layer: its polygons become the footprint and their point on
surface the position. Schools, health facilities and public stations stay points and gain an
empty footprint (their sites). The layer's kept versions (import_history.h<id>) and pending
imports (import_staging.s<id>) are changed the same way, so a rollback or an approval after
this migration puts back a table of the new shape. The masked view of housing is dropped
here and made again by `iocgis db migrate` (iocgis.roles.dbroles.sync), with the new column.

Revision ID: 0011_point_footprints
Revises: 0010_import_approval
Create Date: 2026-12-03
"""
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0011_point_footprints"
down_revision: str | None = "0010_import_approval"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (schema, table, whose geom was a polygon that becomes the footprint)
LAYERS = (("housing", "houses", True), ("infra", "schools", False),
          ("infra", "health_facilities", False), ("infra", "public_stations", False))
COMMENT = "outline (footprint or site) where the source has one; geom is the position"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(schema: str, table: str) -> list[tuple[str, str, str]]:
    """(schema, table, index prefix) of the live table and its kept and staged versions."""
    out = [(schema, table, "")]
    rows = op.get_bind().execute(text(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
        "c.relnamespace WHERE c.relkind = 'r' AND n.nspname IN ('import_history', "
        "'import_staging') AND c.relname ~ '^[hs][0-9]+$' AND EXISTS (SELECT 1 FROM "
        "meta.imports i WHERE i.id = substr(c.relname, 2)::bigint AND i.layer_id = :layer) "
        "ORDER BY 1, 2"), {"layer": f"{schema}.{table}"}).fetchall()
    out += [(str(s), str(t), f"{t}_") for s, t in rows]
    return out


def _has_index(schema: str, name: str) -> bool:
    return op.get_bind().execute(text("SELECT to_regclass(:n) IS NOT NULL"),
                                 {"n": f"{_q(schema)}.{_q(name)}"}).scalar() is True


def _geometry_type(schema: str, table: str, column: str) -> str | None:
    return op.get_bind().execute(text(
        "SELECT type FROM geometry_columns WHERE f_table_schema = :s AND f_table_name = :t "
        "AND f_geometry_column = :c"), {"s": schema, "t": table, "c": column}).scalar()


def _polygons_to_footprints(schema: str, table: str, layer_table: str, prefix: str) -> None:
    if _geometry_type(schema, table, "geom") != "MULTIPOLYGON":
        return  # done already (a re-run), or never had polygons
    t = f"{_q(schema)}.{_q(table)}"
    op.execute(f"ALTER TABLE {t} RENAME COLUMN geom TO footprint")
    indexed = _has_index(schema, f"{prefix}{layer_table}_geom_gist")
    if indexed:  # the polygons' index goes with them
        op.execute(f"ALTER INDEX {_q(schema)}.{_q(prefix + layer_table + '_geom_gist')} "
                   f"RENAME TO {_q(prefix + layer_table + '_footprint_gist')}")
    op.execute(f"ALTER TABLE {t} ADD COLUMN geom geometry(Point, 4326)")
    op.execute(f"UPDATE {t} SET geom = ST_PointOnSurface(footprint) WHERE footprint IS NOT NULL")
    if indexed:
        op.execute(f"CREATE INDEX {_q(prefix + layer_table + '_geom_gist')} ON {t} "
                   "USING gist (geom)")


def _add_footprint(schema: str, table: str, layer_table: str, prefix: str) -> None:
    if _geometry_type(schema, table, "footprint") is not None:
        return
    t = f"{_q(schema)}.{_q(table)}"
    op.execute(f"ALTER TABLE {t} ADD COLUMN footprint geometry(MultiPolygon, 4326)")
    if _has_index(schema, f"{prefix}{layer_table}_geom_gist"):
        op.execute(f"CREATE INDEX {_q(prefix + layer_table + '_footprint_gist')} ON {t} "
                   "USING gist (footprint)")


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS masked.housing_houses")
    for schema, layer_table, was_polygon in LAYERS:
        for table_schema, table, prefix in _tables(schema, layer_table):
            if was_polygon:
                _polygons_to_footprints(table_schema, table, layer_table, prefix)
            else:
                _add_footprint(table_schema, table, layer_table, prefix)
        op.execute(f"COMMENT ON COLUMN {_q(schema)}.{_q(layer_table)}.footprint IS '{COMMENT}'")
    op.execute("UPDATE meta.layers SET geometry_type = 'Point' WHERE id = 'housing.houses'")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS masked.housing_houses")
    for schema, layer_table, was_polygon in LAYERS:
        for table_schema, table, prefix in _tables(schema, layer_table):
            t = f"{_q(table_schema)}.{_q(table)}"
            if _geometry_type(table_schema, table, "footprint") is None:
                continue
            if not was_polygon:
                op.execute(f"ALTER TABLE {t} DROP COLUMN footprint")
                continue
            # a house known only by its position had no shape before: it keeps no geometry
            op.execute(f"ALTER TABLE {t} DROP COLUMN geom")
            op.execute(f"ALTER TABLE {t} RENAME COLUMN footprint TO geom")
            name = prefix + layer_table
            if _has_index(table_schema, f"{name}_footprint_gist"):
                op.execute(f"ALTER INDEX {_q(table_schema)}.{_q(name + '_footprint_gist')} "
                           f"RENAME TO {_q(name + '_geom_gist')}")
    op.execute("UPDATE meta.layers SET geometry_type = 'MultiPolygon' "
               "WHERE id = 'housing.houses'")

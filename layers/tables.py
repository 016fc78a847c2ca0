"""SQLAlchemy tables derived from the registry: the layer tables and the ``meta`` catalog.

Alembic's autogenerate diffs this metadata against the database; the migration files it
writes are committed and reviewed (``iocgis db revision``).
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    Interval,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from iocgis.layers.model import FieldDef, LayerDef
from iocgis.layers.registry import Registry
from iocgis.layers.types import STORAGE_SRID, field_type

META_SCHEMA = "meta"
FOOTPRINT_COMMENT = "outline (footprint or site) where the source has one; geom is the position"


def _column(field: FieldDef) -> Column:
    return Column(field.name, field_type(field.type).sqlalchemy(), nullable=not field.required,
                  comment=field.title.en)


def layer_table(layer: LayerDef, metadata: MetaData) -> Table:
    """The live table of one layer: fid, the registry's fields, bookkeeping, geometry."""
    columns: list = [Column("fid", BigInteger, Identity(always=False), primary_key=True)]
    columns += [_column(f) for f in layer.fields]
    columns += [
        Column("extra", JSONB, nullable=True, comment="source fields without a registry field"),
        Column("source_date", Date, nullable=True, comment="date of the source data"),
        Column("import_id", BigInteger, nullable=True, comment="meta.imports id that loaded the row"),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]
    if layer.geometry:
        columns.append(Column("geom", Geometry(layer.geometry, srid=STORAGE_SRID,
                                                spatial_index=False), nullable=True))
    if layer.footprint:
        columns.append(Column("footprint", Geometry(layer.footprint, srid=STORAGE_SRID,
                                                     spatial_index=False), nullable=True,
                              comment=FOOTPRINT_COMMENT))
    table = Table(layer.table_name, metadata, *columns, schema=layer.schema_name)
    for column in layer.geometry_columns:
        Index(f"{layer.table_name}_{column}_gist", table.c[column], postgresql_using="gist")
    if layer.key:
        Index(f"{layer.table_name}_key", *(table.c[k] for k in layer.key), unique=True)
    if layer.temporal and layer.temporal not in layer.key[:1]:
        Index(f"{layer.table_name}_{layer.temporal}", table.c[layer.temporal])
    return table


def meta_tables(metadata: MetaData) -> dict[str, Table]:
    """The catalog of layers (a mirror of the registry plus live facts), imports and rasters."""
    layers = Table(
        "layers", metadata,
        Column("id", Text, primary_key=True),
        Column("group_name", Text, nullable=False),
        Column("name", Text, nullable=False),
        Column("title_vi", Text, nullable=False),
        Column("title_en", Text, nullable=False),
        Column("description_vi", Text, nullable=False),
        Column("description_en", Text, nullable=False),
        Column("geometry_type", Text, nullable=True),
        Column("sensitivity", Text, nullable=False),
        Column("pii_fields", ARRAY(Text), nullable=False, server_default="{}"),
        Column("cadence", Interval, nullable=False),
        Column("style", Text, nullable=False),
        Column("definition", JSONB, nullable=False),
        Column("row_count", BigInteger, nullable=False, server_default="0"),
        Column("extent", Geometry("POLYGON", srid=STORAGE_SRID, spatial_index=False), nullable=True),
        Column("temporal_min", DateTime(timezone=True), nullable=True),
        Column("temporal_max", DateTime(timezone=True), nullable=True),
        Column("last_import_at", DateTime(timezone=True), nullable=True),
        Column("last_import_id", BigInteger, nullable=True),
        Column("source_date", Date, nullable=True),
        # Bumped by every import or rollback; tile caches key on it.
        Column("data_version", BigInteger, nullable=False, server_default="0"),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=META_SCHEMA,
    )
    imports = Table(
        "imports", metadata,
        Column("id", BigInteger, Identity(always=False), primary_key=True),
        Column("layer_id", Text, nullable=False),
        Column("mode", Text, nullable=False),
        Column("status", Text, nullable=False),
        Column("dry_run", Boolean, nullable=False, server_default="false"),
        Column("source_path", Text, nullable=False),
        Column("source_format", Text, nullable=True),
        Column("source_checksum", Text, nullable=True),
        Column("source_crs", Text, nullable=True),
        Column("source_encoding", Text, nullable=True),
        Column("source_date", Date, nullable=True),
        Column("user_name", Text, nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("finished_at", DateTime(timezone=True), nullable=True),
        Column("rows_in", BigInteger, nullable=False, server_default="0"),
        Column("rows_loaded", BigInteger, nullable=False, server_default="0"),
        Column("rows_fixed", BigInteger, nullable=False, server_default="0"),
        Column("rows_rejected", BigInteger, nullable=False, server_default="0"),
        Column("report", JSONB, nullable=False, server_default="{}"),
        Column("error", Text, nullable=True),
        # The table holding the layer as it was before this import, for rollback.
        Column("previous_table", Text, nullable=True),
        Column("data_version", BigInteger, nullable=True),
        schema=META_SCHEMA,
    )
    Index("imports_layer_started", imports.c.layer_id, imports.c.started_at)
    rasters = Table(
        "rasters", metadata,
        Column("id", BigInteger, Identity(always=False), primary_key=True),
        Column("name", Text, nullable=False, unique=True),
        Column("title_vi", Text, nullable=False),
        Column("title_en", Text, nullable=False),
        Column("kind", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("crs", Text, nullable=False),
        Column("footprint", Geometry("POLYGON", srid=STORAGE_SRID, spatial_index=False), nullable=False),
        Column("width", Integer, nullable=False),
        Column("height", Integer, nullable=False),
        Column("bands", Integer, nullable=False),
        Column("dtype", Text, nullable=False),
        Column("nodata", Double, nullable=True),
        Column("resolution", ARRAY(Double), nullable=False),
        Column("unit", Text, nullable=True),
        Column("sensitivity", Text, nullable=False, server_default="public"),
        Column("import_id", BigInteger, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        schema=META_SCHEMA,
    )
    Index("rasters_footprint_gist", rasters.c.footprint, postgresql_using="gist")
    return {"layers": layers, "imports": imports, "rasters": rasters}


def build_metadata(registry: Registry) -> MetaData:
    metadata = MetaData()
    meta_tables(metadata)
    for layer in registry:
        layer_table(layer, metadata)
    return metadata

"""Hooks shared by Alembic's env.py and the "do migrations follow the registry?" check."""

from __future__ import annotations

from typing import Any

from alembic.operations import ops
from geoalchemy2 import alembic_helpers

from iocgis.layers import get_registry
from iocgis.layers.tables import META_SCHEMA


def own_schemas() -> set[str]:
    return {META_SCHEMA, *get_registry().schemas}


def include_name(name, type_, parent_names) -> bool:  # noqa: ANN001 - alembic's hook signature
    if type_ == "schema":
        return name in own_schemas()
    return True


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    if not alembic_helpers.include_object(obj, name, type_, reflected, compare_to):
        return False
    if type_ == "table" and name == "alembic_version":
        return False
    schema = getattr(obj, "schema", None) or getattr(getattr(obj, "table", None), "schema", None)
    return schema is None or schema in own_schemas()


def create_schemas_first(context_, revision, directives) -> None:  # noqa: ANN001
    """Prepend CREATE SCHEMA for every schema a new table of the revision lives in."""
    if not directives:
        return
    script = directives[0]
    schemas = sorted({op.schema for op in script.upgrade_ops.ops
                      if isinstance(op, ops.CreateTableOp) and op.schema})
    for schema in reversed(schemas):
        script.upgrade_ops.ops.insert(0, ops.ExecuteSQLOp(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    alembic_helpers.writer.process_revision_directives(context_, revision, directives)


def compare_options() -> dict[str, Any]:
    return {
        "include_schemas": True,
        "include_name": include_name,
        "include_object": include_object,
        "compare_type": True,
        "version_table_schema": META_SCHEMA,
    }

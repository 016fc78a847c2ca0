"""Alembic environment: the target metadata is derived from the layer registry."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, pool

from iocgis.layers import get_registry
from iocgis.layers.tables import META_SCHEMA, build_metadata
from iocgis.migrations import env_hooks

config = context.config


def run_migrations() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{META_SCHEMA}"')
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=build_metadata(get_registry()),
            process_revision_directives=env_hooks.create_schemas_first,
            render_item=alembic_helpers.render_item,
            **env_hooks.compare_options(),
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()

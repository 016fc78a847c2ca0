"""Run Alembic migrations and keep the ``meta.layers`` catalog in step with the registry."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from iocgis.db import connect, sqlalchemy_url
from iocgis.layers import Registry, get_registry
from iocgis.security.settings import SecuritySettings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, registry: Registry | None = None,
            security: SecuritySettings | None = None) -> None:
    """Bring the database to the newest migration, mirror the registry into meta.layers, and
    make the database roles, grants and row-level security follow it (the access plan needs
    them: requests read rows only as a caller's group role)."""
    from iocgis.roles import dbroles

    registry = registry or get_registry()
    with connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    command.upgrade(alembic_config(url), "head")
    sync_catalog(url, registry)
    with connect(url, autocommit=True) as conn:
        dbroles.sync(conn, registry, security or SecuritySettings())


def revision(url: str, message: str) -> None:
    """Autogenerate a migration from the registry's difference to the database."""
    command.revision(alembic_config(url), message=message, autogenerate=True)


def pending_changes(url: str) -> list:
    """What autogenerate would still change: empty when migrations follow the registry."""
    from iocgis.layers.tables import build_metadata
    from iocgis.migrations import env_hooks

    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    with engine.connect() as connection:
        ctx = MigrationContext.configure(connection, opts=env_hooks.compare_options())
        return compare_metadata(ctx, build_metadata(get_registry()))


def sync_catalog(url: str, registry: Registry) -> None:
    """Upsert one meta.layers row per registry layer; the live facts columns are kept."""
    rows = [(
        layer.id, layer.group, layer.name, layer.title.vi, layer.title.en,
        layer.description.vi, layer.description.en, layer.geometry, layer.sensitivity,
        list(layer.pii_fields), layer.cadence, layer.style,
        json.dumps(layer.model_dump(mode="json"), ensure_ascii=False),
    ) for layer in registry]
    with connect(url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                """
                INSERT INTO meta.layers (id, group_name, name, title_vi, title_en, description_vi,
                    description_en, geometry_type, sensitivity, pii_fields, cadence, style, definition)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
                ON CONFLICT (id) DO UPDATE SET group_name = EXCLUDED.group_name,
                    name = EXCLUDED.name, title_vi = EXCLUDED.title_vi, title_en = EXCLUDED.title_en,
                    description_vi = EXCLUDED.description_vi, description_en = EXCLUDED.description_en,
                    geometry_type = EXCLUDED.geometry_type, sensitivity = EXCLUDED.sensitivity,
                    pii_fields = EXCLUDED.pii_fields, cadence = EXCLUDED.cadence,
                    style = EXCLUDED.style, definition = EXCLUDED.definition, updated_at = now()
                """, rows)
            cur.execute("DELETE FROM meta.layers WHERE NOT (id = ANY(%s))", (list(registry.ids),))

"""``iocgis db``: the local PostGIS cluster and migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from iocgis import cluster, migrate
from iocgis.db import connect, database_url
from iocgis.settings import get_settings

console = Console()
db_app = typer.Typer(help="Start, stop and migrate the database.", no_args_is_help=True)


def _using_external() -> bool:
    return bool(get_settings().database_url)


@db_app.command()
def start() -> None:
    """Create and start the project-local PostGIS cluster (skipped when DATABASE_URL is set)."""
    if _using_external():
        console.print("DATABASE_URL is set: using that server, no local cluster started")
        return
    console.print(cluster.start(get_settings()).describe())


@db_app.command()
def stop() -> None:
    """Stop the project-local cluster."""
    console.print(cluster.stop(get_settings()).describe())


@db_app.command()
def status() -> None:
    """Say where the database is and whether it answers."""
    settings = get_settings()
    if not _using_external():
        console.print(cluster.status(settings).describe())
    with connect(database_url(settings)) as conn:
        version = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
        head = conn.execute("SELECT version_num FROM meta.alembic_version").fetchone() \
            if conn.execute("SELECT to_regclass('meta.alembic_version')").fetchone()[0] else None
    console.print(f"PostGIS {version}; migration {head[0] if head else 'none'}")


@db_app.command("migrate")
def migrate_cmd() -> None:
    """Apply the migrations, mirror the layer registry into meta.layers, sync database roles."""
    migrate.upgrade(database_url(), security=get_settings().security)
    console.print("database is at the newest migration; catalog and database roles synced "
                  "with the registry")


@db_app.command()
def revision(message: str = typer.Option(..., "-m", "--message", help="what changed")) -> None:
    """Write a migration for what the layer registry changed (review it, then commit)."""
    migrate.revision(database_url(), message)


@db_app.command()
def reset(yes: bool = typer.Option(False, "--yes", help="do not ask")) -> None:
    """Drop every layer, the catalog and import history, then migrate from empty.

    Accounts (schema ``security``) and the audit trail (schema ``audit``) are kept: the audit
    trail must outlive any reset.
    """
    if not yes:
        typer.confirm("Drop every layer and the catalog?", abort=True)
    from psycopg import sql

    from iocgis.migrations.env_hooks import own_schemas

    url = database_url()
    data_schemas = own_schemas() | {"import_staging", "import_history"}
    with connect(url, autocommit=True) as conn:
        for schema in sorted(data_schemas):
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    migrate.upgrade(url)
    console.print("database reset and migrated")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db", help="Start, stop, migrate or reset the database.")

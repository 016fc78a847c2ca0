"""``iocgis db roles sync`` and ``iocgis db qgis publish``: direct PostgreSQL (QGIS) access."""

from __future__ import annotations

import typer
from rich.console import Console

from iocgis.cli._security_common import database_errors
from iocgis.db import connect, database_url
from iocgis.layers import get_registry
from iocgis.roles import dbroles
from iocgis.settings import get_settings

console = Console()
roles_app = typer.Typer(help="PostgreSQL roles mirroring the app roles.", no_args_is_help=True)
qgis_app = typer.Typer(help="Styles and projects QGIS reads from the database.",
                       no_args_is_help=True)


@roles_app.command("sync")
def sync() -> None:
    """Roles, grants per schema and layer, masked views, commune RLS, account logins."""
    with database_errors(), connect(database_url(), autocommit=True) as conn:
        report = dbroles.sync(conn, get_registry(), get_settings().security)
    console.print(f"{len(report.roles)} group roles, {report.grants} grants, "
                  f"{len(report.masked_views)} masked views, "
                  f"{len(report.rls_tables)} tables with commune RLS, "
                  f"{len(report.logins)} account logins")


@qgis_app.command("publish")
def publish() -> None:
    """Write every layer's QML into public.layer_styles and a project per role into
    public.qgis_projects (run after `iocgis db roles sync`)."""
    from iocgis.roles import qgis

    with database_errors(), connect(database_url(), autocommit=True) as conn:
        report = qgis.publish(conn, get_registry(), get_settings().security)
    console.print(f"{report.styles} layer styles, projects: {', '.join(report.projects)}")


def register(app: typer.Typer) -> None:
    from iocgis.cli.db import db_app

    db_app.add_typer(roles_app, name="roles", help="PostgreSQL roles for direct access (QGIS).")
    db_app.add_typer(qgis_app, name="qgis", help="QGIS styles and projects in the database.")

"""``iocgis redis start|stop|status``: the project-local Redis the workers share."""

from __future__ import annotations

import typer

from iocgis import redis_local
from iocgis.settings import get_settings

redis_app = typer.Typer(no_args_is_help=True,
                        help="The project-local Redis the worker processes share.")


@redis_app.command("start")
def start() -> None:
    """Start the local Redis on its own port (config, password and log under var/redis)."""
    print(redis_local.start(get_settings()).describe())


@redis_app.command("stop")
def stop() -> None:
    print(redis_local.stop(get_settings()).describe())


@redis_app.command("status")
def status() -> None:
    print(redis_local.status(get_settings()).describe())


def register(app: typer.Typer) -> None:
    app.add_typer(redis_app, name="redis")

"""The ``iocgis`` command. Each sub-command lives in its own module of this package and
registers itself through a ``register(app)`` function; library errors become CLI errors here."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from rich.console import Console
from rich.markup import escape

from iocgis.errors import IocgisError

app = typer.Typer(
    name="iocgis",
    help="iocgis - the spatial data platform of a provincial Intelligent Operations Center.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, soft_wrap=True)  # a message (a path) is never broken into lines


def _register_commands() -> None:
    import iocgis.cli as package

    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        if module in ("main", "options") or module.startswith("_"):
            continue
        mod = importlib.import_module(f"iocgis.cli.{module}")
        if hasattr(mod, "register"):
            mod.register(app)


_register_commands()
importlib.import_module("iocgis.live.cli").register(app)  # `iocgis live ...` (live/cli.py)


def main() -> None:
    try:
        app(standalone_mode=False)
    except IocgisError as exc:
        # escape: messages quote user input and patterns, whose [brackets] are not markup
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:  # the click usage errors and aborts
        import click

        # typer 0.29 carries its own copy of click (typer._click): its usage errors derive from
        # typer.TyperException, not click's ClickException, and its abort is typer.Abort
        usage = (click.exceptions.ClickException, getattr(typer, "TyperException", Exception))
        if isinstance(exc, usage) and hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        if isinstance(exc, (click.exceptions.Abort, typer.Abort)):
            sys.exit(1)
        raise

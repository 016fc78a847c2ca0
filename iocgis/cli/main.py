"""The ``iocgis`` command. Each sub-command lives in its own module of this package and
registers itself through a ``register(app)`` function; library errors become CLI errors here.

A command imports only the module that registers it (``COMMAND_MODULES``): importing every
module (the reports' charts, the demo's writers, GDAL, alembic ...) took about 4 s before the
first line of any command. ``iocgis``, ``--help`` or an unknown name loads them all.
"""

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


@app.callback()
def _root() -> None:
    """A group even when one command is registered (typer runs a lone command as the app)."""

# The first word of a command line -> the modules that register it (tests/test_cli.py checks
# this against what every module registers).
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "accounts": ("iocgis.cli.accounts",), "admin": ("iocgis.cli.admin",),
    "audit": ("iocgis.cli.audit",), "backup": ("iocgis.cli.backup",),
    "citizen": ("iocgis.cli.citizen",), "db": ("iocgis.cli.db", "iocgis.cli.dbroles"),
    "demo": ("iocgis.cli.demo",), "import": ("iocgis.cli.importer",),
    "imports": ("iocgis.cli.imports",), "layers": ("iocgis.cli.layers",),
    "live": ("iocgis.live.cli",), "redis": ("iocgis.cli.redis",),
    "replica": ("iocgis.cli.replica",), "reports": ("iocgis.cli.reports",),
    "serve": ("iocgis.cli.serve",), "sharing": ("iocgis.cli.sharing",),
    "sources": ("iocgis.cli.sources",), "styles": ("iocgis.cli.styles",),
    "tiles": ("iocgis.cli.tiles",),
}
_registered: set[str] = set()


def command_modules() -> list[str]:
    """Every module of this package (and live's) that may register commands."""
    import iocgis.cli as package

    found = [f"iocgis.cli.{m.name}" for m in pkgutil.iter_modules(package.__path__)
             if m.name not in ("main", "options") and not m.name.startswith("_")]
    return sorted(found) + ["iocgis.live.cli"]


def _register(modules: list[str] | tuple[str, ...]) -> None:
    for name in modules:
        if name not in _registered:
            _registered.add(name)
            module = importlib.import_module(name)
            if hasattr(module, "register"):
                module.register(app)


def app_for(args: list[str]) -> typer.Typer:
    """The command tree a command line needs: its own command's module, or every one."""
    first = next((a for a in args if not a.startswith("-")), None)
    _register(COMMAND_MODULES[first] if first in COMMAND_MODULES and first == (args or [""])[0]
              else command_modules())
    return app


def full_app() -> typer.Typer:
    """The whole command tree (help, tests invoking several commands)."""
    return app_for([])


def main() -> None:
    try:
        app_for(sys.argv[1:])(standalone_mode=False)
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

"""The ``iocgis`` command, run as a user runs it: a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "iocgis"), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_help_explains_each_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("db", "layers", "serve"):
        assert command in result.stdout


def test_each_command_loads_only_its_module_and_the_map_is_whole() -> None:
    """``COMMAND_MODULES`` names, for each first word, the modules that register it: checked
    against what every module registers; a command's process loads only its own module."""
    import importlib

    import typer

    from iocgis.cli.main import COMMAND_MODULES, command_modules

    registered: dict[str, set[str]] = {}
    for name in command_modules():
        module = importlib.import_module(name)
        probe = typer.Typer()
        if hasattr(module, "register"):
            module.register(probe)
        words = {c.name or c.callback.__name__ for c in probe.registered_commands}
        words |= {g.name for g in probe.registered_groups}
        for word in words:
            registered.setdefault(word, set()).add(name)
    registered["db"].add("iocgis.cli.dbroles")  # it adds `db roles` and `db qgis` to db's group
    assert {w: set(m) for w, m in COMMAND_MODULES.items()} == registered
    loaded = subprocess.run([sys.executable, "-c", (
        "import sys; sys.argv = ['iocgis', 'layers', '--json']; from iocgis.cli import main; "
        "import contextlib, io\nwith contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main.main()\n    except SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('iocgis.cli.') or "
        "m.startswith('iocgis.reports') or m.startswith('iocgis.demo')))")],
        capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "['iocgis.cli.layers', 'iocgis.cli.main']", loaded.stdout


def test_layers_json_lists_every_layer_with_sensitivity() -> None:
    result = run_cli("layers", "--json")
    assert result.returncode == 0, result.stderr
    layers = {layer["id"]: layer for layer in json.loads(result.stdout)}
    assert layers["land.parcels"]["sensitivity"] == "internal"
    assert layers["infra.substations"]["sensitivity"] == "restricted"
    assert layers["admin.communes"]["title"]["vi"] == "Ranh giới xã, phường, đặc khu"


def test_db_status_and_migrate_against_test_database(db_url: str) -> None:
    env = {"DATABASE_URL": db_url}
    migrate = run_cli("db", "migrate", env=env)
    assert migrate.returncode == 0, migrate.stderr
    status = run_cli("db", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert "PostGIS 3" in status.stdout


def test_unreachable_database_is_a_clear_error() -> None:
    result = run_cli("db", "status", env={"DATABASE_URL": "postgresql://nobody:x@127.0.0.1:9/none"})
    assert result.returncode == 4
    assert "cannot connect to PostgreSQL" in result.stderr
    assert "x@" not in result.stderr  # the password is not echoed


def test_a_wrong_setting_names_its_variable_without_a_traceback() -> None:
    result = run_cli("db", "status", env={"IOCGIS_SERVING_ROLE": "bad role; DROP"})
    assert result.returncode == 3
    assert "IOCGIS_SERVING_ROLE" in result.stderr
    assert "[a-z_]" in result.stderr  # the pattern is shown as it is, not eaten as markup
    assert "Traceback" not in result.stderr


def test_an_unknown_option_is_a_usage_error_without_a_traceback() -> None:
    """Exit 2 and click's usage message (typer 0.29 raises its own copy of click's errors)."""
    result = run_cli("layers", "--no-such-option")
    assert result.returncode == 2
    assert "No such option: --no-such-option" in result.stderr
    assert "Usage: iocgis layers" in result.stderr and "Traceback" not in result.stderr


def test_import_history_in_a_real_process(db_url: str) -> None:
    """The whole command tree loads iocgis.importers.history as a module before the command
    runs: the command must still call the function of that name."""
    result = run_cli("import", "history", "base.places", "--json", env={"DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)

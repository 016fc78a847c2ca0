"""``iocgis layers``: list the layer registry."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from iocgis.layers import get_registry

console = Console()


def layers(as_json: bool = typer.Option(False, "--json", help="print JSON"),
           stale: bool = typer.Option(False, "--stale",
                                      help="only layers past their update cadence")) -> None:
    """List every registry layer with its titles, geometry and sensitivity."""
    if stale:
        _stale(as_json)
        return
    registry = get_registry()
    if as_json:
        out = [{"id": layer.id, "title": layer.title.model_dump(),
                "geometry": layer.geometry, "sensitivity": layer.sensitivity,
                "pii_fields": list(layer.pii_fields), "fields": list(layer.field_names),
                "cadence_days": layer.cadence.total_seconds() / 86400, "style": layer.style}
               for layer in registry]
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(registry)} layers")
    table.add_column("id", no_wrap=True)
    for col in ("tiêu đề", "title", "geometry", "sensitivity", "personal data"):
        table.add_column(col)
    for layer in registry:
        table.add_row(layer.id, layer.title.vi, layer.title.en, layer.geometry or "-",
                      layer.sensitivity, ", ".join(layer.pii_fields) or "-")
    console.print(table)


def _stale(as_json: bool) -> None:
    from iocgis.importers.staleness import stale_layers

    rows = stale_layers()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    table = Table(title=f"{len(rows)} layers past their update cadence")
    for col in ("id", "tiêu đề", "cadence (days)", "last import", "overdue (days)"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["title_vi"], str(r["cadence_days"]),
                      f"{r['last_import_at']:%Y-%m-%d}" if r["last_import_at"] else "never",
                      "-" if r["overdue_days"] is None else str(r["overdue_days"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("layers")(layers)

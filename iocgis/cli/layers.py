"""``iocgis layers``: list the layer registry."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from iocgis.layers import get_registry

console = Console()


def layers(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """List every registry layer with its titles, geometry and sensitivity."""
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


def register(app: typer.Typer) -> None:
    app.command("layers")(layers)

"""``iocgis styles``: build the map glyphs, print a layer's QGIS style or a theme's style JSON."""

from __future__ import annotations

import json

import typer
from rich.console import Console

console = Console()
styles_app = typer.Typer(help="Map styles, glyphs and QGIS styles.", no_args_is_help=True)


@styles_app.command()
def glyphs(force: bool = typer.Option(False, help="rebuild even when present")) -> None:
    """Build the label glyphs (Noto Sans, every Vietnamese letter) with npm fontnik."""
    from iocgis.styles.glyphs import GLYPHS_DIR, build_glyphs

    written = build_glyphs(force=force)
    console.print(f"glyphs in {GLYPHS_DIR}: " + (", ".join(p.name for p in written) or "up to date"))


@styles_app.command()
def qml(layer: str = typer.Argument(..., help="registry layer id, e.g. land.parcels")) -> None:
    """Print the QGIS QML style of a layer."""
    from iocgis.styles.qml import qml_for

    typer.echo(qml_for(layer), nl=False)


@styles_app.command()
def show(name: str = typer.Argument(..., help="theme, e.g. basemap"),
         base_url: str = typer.Option("http://127.0.0.1:8000", help="the server's address"),
         level: str = typer.Option("public", "--as", help="public, internal or restricted")) -> None:
    """Print the MapLibre style JSON of a theme, as a caller of a visibility level sees it."""
    from iocgis.styles.definitions import get_themes
    from iocgis.styles.maplibre import style_json
    from iocgis.tiles.seed import caller_for_level

    doc = style_json(get_themes(), name, caller_for_level(level), base_url.rstrip("/"))
    typer.echo(json.dumps(doc, ensure_ascii=False, indent=1))


def register(app: typer.Typer) -> None:
    app.add_typer(styles_app, name="styles")

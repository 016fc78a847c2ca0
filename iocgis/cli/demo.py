"""``iocgis demo``: build the Đồng Nai demo files (and load them through the importers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from iocgis.demo.build import DEFAULT_SEED, build_demo
from iocgis.demo.load import LoadResult, load_demo
from iocgis.demo.manifest import ManifestEntry
from iocgis.demo.scales import SCALES, get_scale
from iocgis.settings import get_settings

console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<42}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


class _BuildBar:
    """Rows generated per producer, one line each."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def begin(self, label: str, total: int | None) -> None:
        self.task = self.progress.add_task(label, total=total)

    def advance(self, rows: int) -> None:
        assert self.task is not None
        self.progress.advance(self.task, rows)

    def end(self) -> None:
        assert self.task is not None
        task = self.progress.tasks[self.task]
        self.progress.update(self.task, total=task.completed)


def demo(
    scale: str = typer.Option("small", "--scale", help=f"one of {', '.join(SCALES)}"),
    out: Path | None = typer.Option(None, "--out", help="folder [default: var/demo/<scale>]"),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="same scale and seed, same files"),
    load: bool = typer.Option(False, "--load", help="import every file into the database"),
) -> None:
    """Build the Đồng Nai demo data (GPKG, Shapefile, GeoJSON, CSV, DXF); --load imports it."""
    chosen = get_scale(scale)
    out_dir = out or get_settings().var_dir / "demo" / chosen.name
    with _progress() as progress:
        manifest = build_demo(chosen, out_dir, seed=seed, progress=_BuildBar(progress))
    console.print(
        f"[green]wrote[/] {len(manifest.files)} files, "
        f"{sum(manifest.layer_rows.values()):,} rows in {len(manifest.layer_rows)} layers "
        f"to {out_dir} (manifest.json lists them)"
    )
    if load:
        _load(out_dir)


def _load(out_dir: Path) -> None:
    results: list[LoadResult] = []
    with _progress() as progress:
        tasks: dict[str, TaskID] = {}

        def on_event(entry: ManifestEntry, event: dict[str, Any]) -> None:
            if entry.path not in tasks:
                tasks[entry.path] = progress.add_task(f"import {entry.path}", total=entry.rows)
            progress.update(tasks[entry.path], completed=event.get("done") or 0)

        def on_result(result: LoadResult) -> None:
            results.append(result)
            if result.entry.path in tasks:
                progress.update(tasks[result.entry.path], completed=result.rows_loaded or 0)

        try:
            load_demo(out_dir, progress=on_event, on_result=on_result)
        finally:
            progress.stop()
            console.print(_summary(results))


def _summary(results: list[LoadResult]) -> Table:
    table = Table(title="demo import")
    for column in ("file", "layer", "format", "rows", "loaded", "result"):
        table.add_column(column)
    for r in results:
        verdict = "[green]ok[/]" if r.ok else f"[red]{(r.error or '')[:90]}[/]"
        if r.ok and r.entry.load == "verify":
            verdict = "[green]ok (checked, dry run)[/]"
        table.add_row(
            r.entry.path,
            r.entry.layer,
            r.entry.format,
            f"{r.entry.rows:,}",
            "-" if r.rows_loaded is None else f"{r.rows_loaded:,}",
            verdict,
        )
    return table


def register(app: typer.Typer) -> None:
    from iocgis.live.cli import demo_live

    # `iocgis demo [options]` builds the data set; `iocgis demo live` runs the live simulator.
    group = typer.Typer(invoke_without_command=True, help="Build the Đồng Nai demo data "
                        "(--load imports it); `demo live` publishes live readings.")

    @group.callback()
    def _demo(ctx: typer.Context, scale: str = typer.Option("small", "--scale"),
              out: Path | None = typer.Option(None, "--out"),
              seed: int = typer.Option(DEFAULT_SEED, "--seed"),
              load: bool = typer.Option(False, "--load")) -> None:
        if ctx.invoked_subcommand is None:
            demo(scale=scale, out=out, seed=seed, load=load)

    group.command("live")(demo_live)
    app.add_typer(group, name="demo")

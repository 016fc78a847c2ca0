"""Build the demo: run every layer's generator, check the rows against the registry, write the
files in the format planned for the layer, then the CAD drawing and ``manifest.json``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml
from pyproj import CRS

from iocgis.demo import dxf, reference
from iocgis.demo.context import DemoContext
from iocgis.demo.generators import producers_for
from iocgis.demo.generators.planning import DXF_PROJECT_CODE, dxf_plan
from iocgis.demo.manifest import MANIFEST_NAME, Manifest, ManifestEntry, sha256_of
from iocgis.demo.scales import Scale, get_scale
from iocgis.demo.table import AS_OF, check, complete
from iocgis.demo.writers import (
    CSVWriter,
    GeoJSONWriter,
    LayerWriter,
    OgrWriter,
    ZippedShapefileWriter,
)
from iocgis.layers import LayerDef, Registry, get_registry

DEFAULT_SEED = 20250701  # two-level local government since 1 July 2025


@dataclass(frozen=True)
class FileFormat:
    kind: str  # gpkg | shapefile | geojson | csv
    crs: str = "EPSG:4326"


# The formats officers bring, spread over the layers so that every reader is exercised: the big
# layers in GeoPackage, a Shapefile in WGS84 and one in VN-2000 (with a .prj that names the datum
# but no shift, and field names cut to 10 characters), CSV with coordinates and plain tables.
FORMAT_PLAN: dict[str, FileFormat] = {
    "land.parcels": FileFormat("gpkg"),
    "housing.houses": FileFormat("gpkg"),
    "base.roads": FileFormat("shapefile"),
    "infra.schools": FileFormat("shapefile", "EPSG:5899"),
    "infra.power_lines": FileFormat("gpkg"),
    "infra.water_pipes": FileFormat("gpkg"),
    "infra.drainage_lines": FileFormat("gpkg"),
    "infra.drainage_outlets": FileFormat("gpkg"),
    "emergency.flood_zones": FileFormat("gpkg"),
    "infra.health_facilities": FileFormat("csv"),
    "infra.trees": FileFormat("csv"),
    "iot.stations": FileFormat("csv"),
    "citizen.reports": FileFormat("csv"),
}
EXTENSIONS = {"gpkg": ".gpkg", "shapefile": ".zip", "geojson": ".geojson", "csv": ".csv"}
FORMAT_NAMES = {
    "gpkg": "GPKG",
    "shapefile": "ESRI Shapefile (zipped)",
    "geojson": "GeoJSON",
    "csv": "CSV",
}


def planned_format(layer: LayerDef) -> FileFormat:
    """The layer's planned format; otherwise GeoJSON for spatial layers, CSV for tables."""
    fmt = FORMAT_PLAN.get(layer.id)
    if fmt is None:
        fmt = FileFormat("geojson" if layer.is_spatial else "csv")
    if fmt.kind == "csv" and layer.geometry not in (None, "Point"):
        fmt = FileFormat("geojson")  # CSV carries points only
    if fmt.kind != "csv" and not layer.is_spatial:
        fmt = FileFormat("csv")
    return fmt


class BuildProgress(Protocol):
    def begin(self, label: str, total: int | None) -> None: ...

    def advance(self, rows: int) -> None: ...

    def end(self) -> None: ...


class _Silent:
    def begin(self, label: str, total: int | None) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def end(self) -> None:
        pass


def build_demo(
    scale: str | Scale,
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    registry: Registry | None = None,
    progress: BuildProgress | None = None,
) -> Manifest:
    """Write the demo files of ``scale`` into ``out_dir``; same scale and seed, same bytes."""
    scale = get_scale(scale) if isinstance(scale, str) else scale
    registry = registry or get_registry()
    progress = progress or _Silent()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_previous(out_dir, registry)
    ctx = DemoContext(scale, seed, registry)
    manifest = Manifest(
        scale=scale.name,
        seed=seed,
        as_of=AS_OF.isoformat(),
        province={
            "code": reference.PROVINCE_CODE,
            "name": reference.PROVINCE_NAME,
            "admin_center_code": reference.ADMIN_CENTRE_CODE,
        },
    )
    for producer in producers_for(registry.ids):
        expected = scale.parcels if "land.parcels" in producer.layers else None
        progress.begin(producer.label, expected)
        writers = {lid: _open(out_dir, registry.get(lid)) for lid in producer.layers}
        for chunk in producer.make(ctx):
            for layer_id, table in chunk.items():
                if layer_id not in writers:
                    continue
                layer = registry.get(layer_id)
                table = complete(table, layer, registry, ctx.rng(f"complete/{layer_id}"), ctx.names)
                check(table, layer, registry)
                writers[layer_id].write(table)
            progress.advance(len(next(iter(chunk.values()))) if chunk else 0)
        for layer_id, writer in writers.items():
            writer.close()
            manifest.files.append(_entry(out_dir, registry.get(layer_id), writer))
        progress.end()
    if "planning.zones" in registry:
        manifest.files.append(_write_dxf(ctx, out_dir))
    manifest.write(out_dir)
    return manifest


def _remove_previous(out_dir: Path, registry: Registry) -> None:
    """Files of an earlier build (GeoPackages are appended to, so they must start fresh)."""
    groups = {layer.group for layer in registry}
    for child in out_dir.iterdir():
        if child.is_dir() and child.name in groups:
            shutil.rmtree(child)
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)


def _open(out_dir: Path, layer: LayerDef) -> LayerWriter:
    fmt = planned_format(layer)
    folder = out_dir / layer.group
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{layer.name}{EXTENSIONS[fmt.kind]}"
    if fmt.kind == "gpkg":
        return OgrWriter(path, layer, "GPKG", CRS.from_user_input(fmt.crs))
    if fmt.kind == "shapefile":
        return ZippedShapefileWriter(path, layer, CRS.from_user_input(fmt.crs))
    if fmt.kind == "csv":
        return CSVWriter(path, layer)
    return GeoJSONWriter(path, layer)


def _entry(out_dir: Path, layer: LayerDef, writer: LayerWriter) -> ManifestEntry:
    fmt = planned_format(layer)
    options: dict = {}  # keyword arguments of iocgis.importers.ImportOptions
    note = None
    if fmt.kind == "csv" and layer.geometry == "Point":
        note = "points in the lon/lat columns (EPSG:4326)"
    if fmt.kind == "gpkg":
        options = {"source_layer": layer.name}
    if fmt.kind == "shapefile" and isinstance(writer, ZippedShapefileWriter):
        renamed = writer.renamed_fields
        if renamed:
            mapping_path = writer.path.with_name(f"{layer.name}.mapping.yaml")
            mapping_path.write_text(
                "# Shapefile field names are cut to 10 characters: source field -> layer field.\n"
                + yaml.safe_dump({"fields": renamed}, allow_unicode=True, sort_keys=False),
                encoding="utf-8",
            )
            options = {"mapping": _rel(out_dir, mapping_path)}
            note = "field names shortened by the Shapefile format; see the mapping file"
    crs = "" if not layer.is_spatial else fmt.crs
    return ManifestEntry(
        path=_rel(out_dir, writer.path),
        layer=layer.id,
        format=FORMAT_NAMES[fmt.kind],
        crs=crs,
        encoding="UTF-8",
        rows=writer.rows,
        sha256=sha256_of(writer.path),
        options=options,
        note=note,
    )


def _write_dxf(ctx: DemoContext, out_dir: Path) -> ManifestEntry:
    project, zones = dxf_plan(ctx)
    folder = out_dir / "planning"
    folder.mkdir(parents=True, exist_ok=True)
    name = DXF_PROJECT_CODE.lower().replace("-", "_")
    dxf_path = folder / f"{name}.dxf"
    rows = dxf.write_planning_dxf(dxf_path, project, zones)
    mapping_path = folder / f"{name}.mapping.yaml"
    dxf.write_mapping(
        mapping_path, dxf_path.name, DXF_PROJECT_CODE, sorted({z["land_use"] for z in zones})
    )
    return ManifestEntry(
        path=_rel(out_dir, dxf_path),
        layer="planning.zones",
        format="DXF",
        crs="EPSG:5899",
        encoding="UTF-8",
        rows=rows,
        sha256=sha256_of(dxf_path),
        load="verify",
        mode="upsert",
        options={"mapping": _rel(out_dir, mapping_path)},
        note=f"the zones of {DXF_PROJECT_CODE} as a CAD drawing; the same rows are "
        "in planning/zones.geojson, so this file is checked (dry run)",
    )


def _rel(out_dir: Path, path: Path) -> str:
    return path.relative_to(out_dir).as_posix()

"""A dossier's DXF drawing imported into ``planning.zones`` by the project's importer.

The import runs as an ordinary import job (the same runner, history and report as
``POST /imports``; poll ``GET /imports/{job}``) in ``upsert`` mode, so the drawing adds or
updates its own zones and leaves every other plan's. Without a mapping file the province's CAD
conventions (``dxf_conventions.yaml``) say how to read it; every zone gets the dossier's
project code. An adjustment's drawing must use zone codes of its own: a code that exists
already is that zone, and upserting it would overwrite the old version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iocgis.errors import InvalidInput
from iocgis.layers import Registry
from iocgis.planning_docs import codes
from iocgis.yamlfile import read_definitions

CONVENTIONS = read_definitions(Path(__file__).parent / "dxf_conventions.yaml",
                               "DXF conventions")


def cad_layers(path: Path) -> list[str]:
    import ezdxf
    from ezdxf import recover

    try:
        doc, _ = recover.readfile(path)
    except (OSError, ezdxf.DXFStructureError, ezdxf.DXFError) as exc:
        raise InvalidInput(f"the drawing cannot be read as DXF: {exc}", where="document",
                           hint="save it again from CAD as DXF (AutoCAD 2007 or newer)") from None
    return sorted(layer.dxf.name for layer in doc.layers)


def default_mapping(path: Path, registry: Registry, project_code: str,
                    crs: str | None) -> dict[str, Any]:
    """The importer's mapping for a drawing drawn to the conventions."""
    prefix = str(CONVENTIONS["zone_layer_prefix"])
    land_uses = codes.domain(registry, codes.ZONES, "land_use")
    zone_layers = {name: name[len(prefix):] for name in cad_layers(path)
                   if name.startswith(prefix) and name[len(prefix):] in land_uses}
    if not zone_layers:
        raise InvalidInput(f"the drawing has no zone layers named {prefix}<land-use code>",
                           where="document",
                           hint=f"name zone layers e.g. {prefix}ODT, or send a mapping file")
    return {"crs": crs or CONVENTIONS["crs"], "cad_layers": zone_layers,
            "code_field": CONVENTIONS["code_field"], "texts": dict(CONVENTIONS["texts"]),
            "constants": {"project_code": project_code}}


def with_project(mapping: dict[str, Any], project_code: str, crs: str | None) -> dict[str, Any]:
    """An officer's mapping file, with the dossier's project code (always) and CRS (if given)."""
    if not isinstance(mapping, dict):
        raise InvalidInput("the mapping file is not a YAML mapping", where="mapping",
                           hint="see README 'Importing data' (mapping file)")
    out = {**mapping, "constants": {**(mapping.get("constants") or {}),
                                    "project_code": project_code}}
    if crs:
        out["crs"] = crs
    return out

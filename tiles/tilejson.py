"""TileJSON 3.0 documents of the tilesets, as a given caller sees them."""

from __future__ import annotations

from typing import Any

from iocgis.access import Caller, visible_fields
from iocgis.layers import LayerDef
from iocgis.tiles.grid import TileAddress
from iocgis.tiles.render import TileRenderer
from iocgis.tiles.sql import LABEL_SUFFIX, has_label_points
from iocgis.tiles.tilesets import Tileset

WORLD = (-180.0, -85.0511287798, 180.0, 85.0511287798)
FIELD_KINDS = {"integer": "Number", "bigint": "Number", "numeric": "Number", "boolean": "Boolean"}
EXTENT_SQL = """
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
FROM (SELECT ST_Extent(extent) AS e FROM meta.layers WHERE id = ANY(%s)) x
"""


def tile_fields(layer: LayerDef, caller: Caller) -> dict[str, str]:
    """Every attribute the layer's tiles may carry at some zoom, as the caller sees it."""
    assert layer.tiles is not None
    allowed = set(visible_fields(caller, layer))
    names: list[str] = []
    for attrs in layer.tiles.attributes.values():
        names += [a for a in attrs if a not in names and a in allowed and not layer.field(a).pii]
    return {name: f"{FIELD_KINDS.get(layer.field(name).type, 'String')}: "
                  f"{layer.field(name).title.vi} ({layer.field(name).title.en})" for name in names}


def vector_layers(layer: LayerDef, caller: Caller) -> list[dict[str, Any]]:
    """The layer's MVT layer, and its label points when it has them at some zoom."""
    assert layer.tiles is not None
    fields = tile_fields(layer, caller)
    out = [{"id": layer.id, "description": f"{layer.title.vi} ({layer.title.en})",
            "minzoom": layer.tiles.minzoom, "maxzoom": layer.tiles.maxzoom, "fields": fields}]
    label_zooms = [z for z in range(layer.tiles.minzoom, layer.tiles.maxzoom + 1)
                   if has_label_points(layer, z)]
    if label_zooms:
        out.append({"id": layer.id + LABEL_SUFFIX,
                    "description": f"{layer.title.vi}: điểm nhãn ({layer.title.en}: label points)",
                    "minzoom": label_zooms[0], "maxzoom": layer.tiles.maxzoom, "fields": fields})
    return out


async def bounds_of(renderer: TileRenderer, layers: tuple[LayerDef, ...]
                    ) -> tuple[float, float, float, float]:
    async with renderer.pool.connection() as conn:
        cur = await conn.execute(EXTENT_SQL, ([layer.id for layer in layers],))
        row = await cur.fetchone()
    if row is None or row[0] is None:
        return WORLD
    west, south, east, north = (float(v) for v in row)
    return (max(west, WORLD[0]), max(south, WORLD[1]), min(east, WORLD[2]), min(north, WORLD[3]))


async def tilejson(renderer: TileRenderer, tileset: Tileset, caller: Caller,
                   base_url: str) -> dict[str, Any]:
    """The TileJSON 3.0 of ``tileset`` for ``caller`` (only the layers they may see)."""
    layers = tileset.visible_to(caller)
    versions = await renderer.versions.current(renderer.pool)
    stamp = renderer.key_for(tileset, caller, TileAddress(0, 0, 0), versions).version
    bounds = await bounds_of(renderer, layers)
    minzoom = min(layer.tiles.minzoom for layer in layers if layer.tiles)
    maxzoom = max(layer.tiles.maxzoom for layer in layers if layer.tiles)
    center_zoom = max(minzoom, min(maxzoom, 9 if bounds != WORLD else minzoom))
    return {
        "tilejson": "3.0.0",
        "name": tileset.title.vi,
        "description": f"{tileset.description.vi} / {tileset.description.en}",
        "version": "1.0.0",
        "attribution": "iocgis",
        "scheme": "xyz",
        # The data version in the URL: after an import, clients fetch new tiles, not stale ones.
        "tiles": [f"{base_url}/tiles/{tileset.name}/{{z}}/{{x}}/{{y}}.mvt?v={stamp}"],
        "minzoom": minzoom,
        "maxzoom": maxzoom,
        "bounds": list(bounds),
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, center_zoom],
        "vector_layers": [v for layer in layers for v in vector_layers(layer, caller)],
    }

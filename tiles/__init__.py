"""Vector tiles: per-zoom ST_AsMVT SQL for layers and composite tilesets, thinning to a size
budget, a cache keyed by data version and caller visibility, TileJSON, seeding and export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from iocgis.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from iocgis.tiles.grid import TileAddress, parse_address
    from iocgis.tiles.render import RenderedTile, TileRenderer, visibility_of
    from iocgis.tiles.tilesets import Tileset, Tilesets, get_tilesets, load_tilesets

# Loaded on first use: ``iocgis.settings`` imports ``iocgis.tiles.settings``, and this
# package's renderer (the layers' SQL, the registry) is not needed to read settings.
_EXPORTS = {"TileAddress": "grid", "parse_address": "grid", "RenderedTile": "render",
            "TileRenderer": "render", "visibility_of": "render", "Tileset": "tilesets",
            "Tilesets": "tilesets", "get_tilesets": "tilesets", "load_tilesets": "tilesets"}

__all__ = ["RenderedTile", "TileAddress", "TileRenderer", "Tileset", "Tilesets", "get_tilesets",
           "load_tilesets", "parse_address", "visibility_of"]


__getattr__ = lazy_exports("iocgis.tiles", _EXPORTS, globals())

"""Vector tiles: per-zoom ST_AsMVT SQL for layers and composite tilesets, thinning to a size
budget, a cache keyed by data version and caller visibility, TileJSON, seeding and export."""

from iocgis.tiles.grid import TileAddress, parse_address
from iocgis.tiles.render import RenderedTile, TileRenderer, visibility_of
from iocgis.tiles.tilesets import Tileset, Tilesets, get_tilesets, load_tilesets

__all__ = ["RenderedTile", "TileAddress", "TileRenderer", "Tileset", "Tilesets", "get_tilesets",
           "load_tilesets", "parse_address", "visibility_of"]

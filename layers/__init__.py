"""The layer registry: the one source of truth for every layer, field and access level."""

from iocgis.layers.model import FieldDef, LayerDef, TileSpec
from iocgis.layers.registry import Registry, get_registry, load_registry

__all__ = ["FieldDef", "LayerDef", "Registry", "TileSpec", "get_registry", "load_registry"]

"""Tilesets: the composite sets of ``tilesets.yaml`` and one set per tiled registry layer.

A tileset is an allowlist of registry layers. Which of them a caller gets is decided here,
through ``iocgis.access``: a tileset none of whose layers the caller may see does not exist
for that caller (404).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from iocgis.access import Caller, Narrowing, can_see, require_layer
from iocgis.errors import ConfigError, NotFound
from iocgis.layers import LayerDef, Registry, get_registry
from iocgis.layers.model import Text
from iocgis.yamlfile import read_definitions, validated

TILESETS_FILE = Path(__file__).resolve().parent / "tilesets.yaml"
# Composite names carry no dot, so they never collide with layer ids (group.name).
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")


class _TilesetFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    title: Text
    description: Text
    layers: tuple[str, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Tileset:
    """A named, ordered set of tiled registry layers (bottom first)."""

    name: str
    title: Text
    description: Text
    layers: tuple[LayerDef, ...]
    composite: bool

    @property
    def layer_ids(self) -> tuple[str, ...]:
        return tuple(layer.id for layer in self.layers)

    # Answers per sensitivity rank and agreement (and zoom), kept: they are asked on every
    # tile request.
    _visible: dict[tuple[int, Narrowing | None], tuple[LayerDef, ...]] = field(
        default_factory=dict, compare=False, repr=False)
    _at_zoom: dict[tuple[int, Narrowing | None, int], tuple[LayerDef, ...]] = field(
        default_factory=dict, compare=False, repr=False)

    def visible_to(self, caller: Caller) -> tuple[LayerDef, ...]:
        key = (caller.max_sensitivity, caller.narrowing)  # a sharing agreement: its layers
        found = self._visible.get(key)
        if found is None:
            found = tuple(layer for layer in self.layers if can_see(caller, layer))
            self._visible[key] = found
        return found

    def restricted_for(self, caller: Caller) -> tuple[LayerDef, ...]:
        """The restricted layers of this tileset the caller sees (their reads are audited)."""
        return tuple(layer for layer in self.visible_to(caller) if layer.sensitivity == "restricted")

    def layers_at(self, caller: Caller, zoom: int) -> tuple[LayerDef, ...]:
        """The caller's layers whose zoom range holds ``zoom``."""
        key = (caller.max_sensitivity, caller.narrowing, zoom)
        found = self._at_zoom.get(key)
        if found is None:
            found = tuple(layer for layer in self.visible_to(caller)
                          if layer.tiles and layer.tiles.minzoom <= zoom <= layer.tiles.maxzoom)
            self._at_zoom[key] = found
        return found

    @property
    def minzoom(self) -> int:
        return min(layer.tiles.minzoom for layer in self.layers if layer.tiles)

    @property
    def maxzoom(self) -> int:
        return max(layer.tiles.maxzoom for layer in self.layers if layer.tiles)


class Tilesets:
    """Every tileset by name: the composites first, then one per tiled layer."""

    def __init__(self, tilesets: list[Tileset]) -> None:
        self._by_name = {t.name: t for t in tilesets}

    def __iter__(self):
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @property
    def composites(self) -> tuple[Tileset, ...]:
        return tuple(t for t in self if t.composite)

    def get(self, name: str) -> Tileset:
        try:
            return self._by_name[name]
        except KeyError:
            raise NotFound(f"unknown tileset {name!r}", where="tileset",
                           hint="list the tilesets at /tiles") from None

    def for_caller(self, name: str, caller: Caller, *, note_reads: bool = True) -> Tileset:
        """The tileset, or NotFound when the caller may see none of its layers.

        Restricted layers served and single-layer tilesets refused go through
        ``require_layer``, so the audit trail notes them as for any other read or probe.
        ``note_reads=False``: the caller notes the restricted reads itself (tiles do, at most
        once per window; see ``TileRenderer.note_restricted_reads``); probes are always noted.
        """
        tileset = self._by_name.get(name)
        if tileset is not None and not tileset.composite and not tileset.visible_to(caller):
            require_layer(caller, tileset.name)  # raises NotFound, noting the probe
        if tileset is None or not tileset.visible_to(caller):
            raise NotFound(f"unknown tileset {name!r}", where="tileset",
                           hint="list the tilesets you may see at /tiles")
        if note_reads:
            for layer in tileset.restricted_for(caller):
                require_layer(caller, layer.id)
        return tileset

    def visible(self, caller: Caller) -> tuple[Tileset, ...]:
        return tuple(t for t in self if t.visible_to(caller))


def _expand(pattern: str, registry: Registry, where: str) -> list[LayerDef]:
    if pattern.endswith(".*"):
        group = pattern[:-2]
        found = [layer for layer in registry if layer.group == group and layer.tiles]
        if not found:
            raise ConfigError(f"{pattern!r} matches no tiled layer", where=where,
                              hint="name a group of the layer registry that has tiled layers")
        return found
    if pattern not in registry:
        raise ConfigError(f"unknown layer {pattern!r}", where=where,
                          hint="use a layer id from `iocgis layers`")
    layer = registry.get(pattern)
    if not layer.tiles:
        raise ConfigError(f"layer {pattern!r} has no tile settings", where=where,
                          hint="add a `tiles:` block to the layer in layers/ or drop it here")
    return [layer]


def load_tilesets(registry: Registry, path: Path = TILESETS_FILE) -> Tilesets:
    """Read the composite tilesets; a wrong file fails naming the file and key."""
    raw: Any = read_definitions(path, "tilesets file") or {}
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of tileset names", where=str(path))
    sets: list[Tileset] = []
    for name, body in raw.items():
        where = f"{path}: {name}"
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ConfigError(f"tileset name {name!r} must be lower-case letters, digits, - and _",
                              where=where)
        spec = validated(_TilesetFile, body, "tileset", where)
        layers: list[LayerDef] = []
        for pattern in spec.layers:
            for layer in _expand(pattern, registry, f"{where}.layers"):
                if layer not in layers:
                    layers.append(layer)
        sets.append(Tileset(name, spec.title, spec.description, tuple(layers), composite=True))
    for layer in registry:
        if layer.tiles:
            sets.append(Tileset(layer.id, layer.title, layer.description, (layer,),
                                composite=False))
    return Tilesets(sets)


@lru_cache(maxsize=1)
def get_tilesets() -> Tilesets:
    """The tilesets of the process-wide registry, loaded once."""
    return load_tilesets(get_registry())

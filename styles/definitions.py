"""Load the themes of ``styles/themes/*.yaml`` and the palettes, check them against the
layer registry and the tilesets, and answer which rules draw a layer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from iocgis.errors import ConfigError, NotFound
from iocgis.layers import LayerDef, Registry, get_registry
from iocgis.styles.model import ByField, Rule, Theme
from iocgis.styles.sprites import ICONS
from iocgis.tiles.sql import has_label_points
from iocgis.tiles.tilesets import Tilesets, get_tilesets
from iocgis.yamlfile import read_definitions, validated

STYLES_DIR = Path(__file__).resolve().parent
THEMES_DIR = STYLES_DIR / "themes"
PALETTES_FILE = STYLES_DIR / "palettes.yaml"


def _read(path: Path) -> Any:
    return read_definitions(path, "style definition")


@dataclass(frozen=True)
class Themes:
    """Every theme by name, the palettes, and where each tileset comes from."""

    themes: dict[str, Theme]
    palettes: dict[str, dict[str, str]]
    tilesets: Tilesets
    registry: Registry

    def __iter__(self):
        return iter(self.themes.values())

    def get(self, name: str) -> Theme:
        try:
            return self.themes[name]
        except KeyError:
            raise NotFound(f"unknown style {name!r}", where="style",
                           hint="list the styles at /styles") from None

    def chain(self, theme: Theme) -> list[Theme]:
        """The theme and the themes it extends, base first."""
        chain = [theme]
        while chain[0].extends:
            chain.insert(0, self.themes[chain[0].extends])
        return chain

    def source_of(self, theme: Theme, layer_id: str) -> str:
        """The tileset (of the theme's chain) that carries ``layer_id``."""
        for t in reversed(self.chain(theme)):
            for name in t.tilesets:
                if layer_id in self.tilesets.get(name).layer_ids:
                    return name
        raise ConfigError(f"theme {theme.name}: no tileset carries {layer_id}", where="styles")

    def home_rules(self, layer_id: str) -> tuple[Theme, tuple[Rule, ...]]:
        """The rules of the theme that draws ``layer_id`` from its own tilesets."""
        for theme in self:
            rules = tuple(r for r in theme.rules if r.layer == layer_id)
            if rules:
                return theme, rules
        raise NotFound(f"no style draws layer {layer_id!r}", where="style",
                       hint="add a rule for the layer to a theme in styles/themes/")


def _check_rule(theme: Theme, rule: Rule, index: int, registry: Registry,
                tilesets: Tilesets, palettes: dict[str, dict[str, str]], where: str) -> None:
    at = f"{where}: rules[{index}] ({rule.layer} {rule.draw})"
    carried = {lid for name in theme.tilesets for lid in tilesets.get(name).layer_ids}
    if rule.layer not in carried:
        raise ConfigError(f"layer {rule.layer!r} is not in the theme's tilesets "
                          f"{list(theme.tilesets)}", where=at,
                          hint="draw it in the theme whose tileset carries it")
    layer: LayerDef = registry.get(rule.layer)
    assert layer.tiles is not None
    lowest = max(rule.minzoom or 0, layer.tiles.minzoom)
    in_tiles = set(layer.tiles.attributes_at(lowest))
    for name in rule.fields_used():
        if name not in in_tiles:
            raise ConfigError(
                f"field {name!r} is not in the tiles of {rule.layer} at zoom {lowest} "
                f"(there: {sorted(in_tiles)})", where=at,
                hint="raise the rule's minzoom or add the field to tiles.attributes in layers/")
    if rule.draw == "label" and layer.geometry == "MultiPolygon" and not has_label_points(
            layer, lowest):
        raise ConfigError(f"{rule.layer} has no label points at zoom {lowest}", where=at,
                          hint="polygons are labelled from points made for the registry's label "
                               "field: set `label:` in layers/ and start the rule where the field "
                               "is in the tiles")
    for value in (rule.color, rule.width, rule.radius, rule.size):
        if isinstance(value, ByField) and value.palette and value.palette not in palettes:
            raise ConfigError(f"unknown palette {value.palette!r}", where=at,
                              hint=f"use one of {sorted(palettes)}")
    if rule.icon and rule.icon not in ICONS:
        raise ConfigError(f"unknown icon {rule.icon!r}", where=at, hint=f"use one of {sorted(ICONS)}")


def load_themes(registry: Registry, tilesets: Tilesets, directory: Path = THEMES_DIR,
                palettes_file: Path = PALETTES_FILE) -> Themes:
    palettes = {name: {str(k): str(v).lower() for k, v in codes.items()}
                for name, codes in (_read(palettes_file) or {}).items()}
    themes: dict[str, Theme] = {}
    for path in sorted(directory.glob("*.yaml")):
        raw = _read(path)
        theme = validated(Theme, raw, "theme", str(path))
        if theme.name != path.stem:
            raise ConfigError(f"theme name {theme.name!r} differs from its file name",
                              where=str(path), hint=f"name the file {theme.name}.yaml")
        for name in theme.tilesets:
            if name not in tilesets:
                raise ConfigError(f"unknown tileset {name!r}", where=f"{path}: tilesets")
        for i, rule in enumerate(theme.rules):
            _check_rule(theme, rule, i, registry, tilesets, palettes, str(path))
        themes[theme.name] = theme
    for theme in themes.values():
        seen = {theme.name}
        parent = theme.extends
        while parent:
            if parent not in themes or parent in seen:
                raise ConfigError(f"theme {theme.name} extends {parent!r}, which is unknown "
                                  "or circular", where=str(directory / f"{theme.name}.yaml"))
            seen.add(parent)
            parent = themes[parent].extends
    return Themes(themes, palettes, tilesets, registry)


@lru_cache(maxsize=1)
def get_themes() -> Themes:
    return load_themes(get_registry(), get_tilesets())

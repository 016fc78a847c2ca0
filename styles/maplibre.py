"""MapLibre GL style JSON (spec version 8) of a theme, as a given caller may see it.

Sources are the tilesets' TileJSON; glyphs and sprites are served by this application, so a
map draws with nothing fetched from the internet. Layers go in cartographic bands (fills,
lines, 3-D, points, icons, labels), the base theme first within each band.
"""

from __future__ import annotations

from typing import Any

from iocgis.access import Caller, can_see
from iocgis.errors import NotFound
from iocgis.layers import LayerDef
from iocgis.styles.definitions import Themes
from iocgis.styles.model import ByField, NumberValue, Rule, Theme
from iocgis.tiles.sql import LABEL_SUFFIX

FONT_REGULAR = "Noto Sans Regular"
FONT_BOLD = "Noto Sans Bold"
FONTS = (FONT_REGULAR, FONT_BOLD)
SPRITE = "iocgis"
BANDS = {"fill": 0, "line": 1, "extrusion": 2, "circle": 3, "icon": 4, "label": 5}


def _get(field: str, layer: LayerDef) -> list[Any]:
    if layer.field(field).type == "boolean":  # match labels are strings or numbers
        return ["to-string", ["get", field]]
    return ["get", field]


def _label(key: str, field: str, layer: LayerDef) -> str | float:
    if layer.field(field).is_numeric:
        number = float(key)
        return int(number) if number.is_integer() else number
    return key


def by_field(value: ByField, layer: LayerDef, palettes: dict[str, dict[str, str]]) -> list[Any]:
    table: dict[str, Any] = dict(palettes.get(value.palette, {})) if value.palette else {}
    table.update(value.values)
    expr: list[Any] = ["match", _get(value.by, layer)]
    for key, out in table.items():
        expr += [_label(key, value.by, layer), out]
    expr.append(value.default)
    if value.scale:  # a value per code, times a factor along the zoom
        scaled: list[Any] = ["interpolate", ["linear"], ["zoom"]]
        for zoom, factor in sorted(value.scale.items()):
            scaled += [zoom, ["*", factor, expr]]
        return scaled
    return expr


def value(v: NumberValue | str | None, layer: LayerDef, palettes: dict[str, dict[str, str]]
          ) -> Any:
    if isinstance(v, ByField):
        return by_field(v, layer, palettes)
    if isinstance(v, dict):
        expr: list[Any] = ["interpolate", ["linear"], ["zoom"]]
        for zoom, out in sorted(v.items()):
            expr += [zoom, out]
        return expr
    return v


def _filter(rule: Rule, layer: LayerDef) -> list[Any] | None:
    if not rule.where:
        return None
    tests: list[Any] = [["match", _get(f, layer), [_label(v, f, layer) for v in values], True, False]
                        for f, values in rule.where.items()]
    return tests[0] if len(tests) == 1 else ["all", *tests]


def style_layer(theme: Theme, rule: Rule, index: int, source: str, layer: LayerDef,
                palettes: dict[str, dict[str, str]]) -> dict[str, Any]:
    def v(x):
        return value(x, layer, palettes)
    # Polygons are labelled from their label points (one per polygon, not one per tile).
    source_layer = (rule.layer + LABEL_SUFFIX
                    if rule.draw == "label" and layer.geometry == "MultiPolygon" else rule.layer)
    out: dict[str, Any] = {"id": f"{theme.name}:{rule.layer}:{rule.draw}:{index}",
                           "source": source, "source-layer": source_layer}
    paint: dict[str, Any] = {}
    layout: dict[str, Any] = {}
    if rule.draw == "fill":
        out["type"] = "fill"
        paint = {"fill-color": v(rule.color), "fill-opacity": rule.opacity}
        if rule.outline:
            paint["fill-outline-color"] = rule.outline
    elif rule.draw == "line":
        out["type"] = "line"
        paint = {"line-color": v(rule.color), "line-width": v(rule.width or 1.0),
                 "line-opacity": rule.opacity}
        if rule.dash:
            paint["line-dasharray"] = list(rule.dash)
        layout = {"line-join": "round"}
    elif rule.draw == "circle":
        out["type"] = "circle"
        paint = {"circle-color": v(rule.color), "circle-radius": v(rule.radius or 4.0),
                 "circle-opacity": rule.opacity}
        if rule.stroke:
            paint |= {"circle-stroke-color": rule.stroke, "circle-stroke-width": 1}
    elif rule.draw == "extrusion":
        out["type"] = "fill-extrusion"
        paint = {"fill-extrusion-color": v(rule.color),
                 "fill-extrusion-height": ["coalesce", ["get", rule.height], 3],
                 "fill-extrusion-base": 0, "fill-extrusion-opacity": rule.opacity}
    elif rule.draw == "icon":
        out["type"] = "symbol"
        layout = {"icon-image": rule.icon, "icon-size": v(rule.size or 1.0),
                  "icon-allow-overlap": True}
    else:  # label
        out["type"] = "symbol"
        on_line = layer.geometry == "MultiLineString"
        layout = {"text-field": ["to-string", ["get", rule.field]],
                  "text-font": [FONT_BOLD if rule.bold else FONT_REGULAR],
                  "text-size": v(rule.size or 12), "text-max-width": 8,
                  "symbol-placement": "line" if on_line else "point"}
        if layer.geometry in ("Point", "MultiPoint"):
            layout |= {"text-anchor": "top", "text-offset": [0, 0.8]}
        paint = {"text-color": v(rule.color or "#333333"), "text-halo-color": rule.halo,
                 "text-halo-width": 1.5}
    if layout:
        out["layout"] = layout
    out["paint"] = paint
    assert layer.tiles is not None
    minzoom = max(rule.minzoom or 0, layer.tiles.minzoom)
    if minzoom:
        out["minzoom"] = minzoom
    if rule.maxzoom is not None:
        out["maxzoom"] = rule.maxzoom
    flt = _filter(rule, layer)
    form = _form_filter(rule, layer)
    if form is not None:
        flt = form if flt is None else ["all", form, flt]
    if flt is not None:
        out["filter"] = flt
    return out


# What a rule draws of a layer whose shapes come as footprints where there are some and as
# points elsewhere (tiles/sql.py): circles the points (a circle layer would ring every vertex
# of a footprint), fills and extrusions the footprints; icons and labels both (MapLibre
# places them inside a polygon).
FORMS = {"circle": ["Point", "MultiPoint"], "fill": ["Polygon", "MultiPolygon"],
         "extrusion": ["Polygon", "MultiPolygon"]}


def _form_filter(rule: Rule, layer: LayerDef) -> list[Any] | None:
    if layer.footprint is None or rule.draw not in FORMS:
        return None
    return ["match", ["geometry-type"], FORMS[rule.draw], True, False]


def layer_metadata(layer: LayerDef, themes: Themes) -> dict[str, Any]:
    """Vietnamese titles of the layer, its tile fields and their codes, for popups."""
    assert layer.tiles is not None
    names: list[str] = []
    for attrs in layer.tiles.attributes.values():
        names += [a for a in attrs if a not in names and not layer.field(a).pii]
    codes: dict[str, dict[str, str]] = {}
    for name in names:
        domain = themes.registry.resolve_domain(layer.field(name))
        if domain:
            codes[name] = {c.code: c.vi for c in domain}
    return {"title": layer.title.vi, "title_en": layer.title.en,
            "fields": {n: layer.field(n).title.vi for n in names}, "codes": codes}


def style_json(themes: Themes, name: str, caller: Caller, base_url: str) -> dict[str, Any]:
    """The style of theme ``name`` for ``caller``; NotFound when the caller may see none of
    the theme's own layers (the theme does not exist for them)."""
    theme = themes.get(name)
    own = [t for t in theme.tilesets if themes.tilesets.get(t).visible_to(caller)]
    if not own:
        raise NotFound(f"unknown style {name!r}", where="style", hint="list the styles at /styles")
    chain = themes.chain(theme)
    sources: dict[str, Any] = {}
    banded: list[tuple[int, int, int, dict[str, Any]]] = []
    meta_layers: dict[str, Any] = {}
    for depth, t in enumerate(chain):
        for index, rule in enumerate(t.rules):
            layer = themes.registry.get(rule.layer)
            if not can_see(caller, layer):
                continue
            source = themes.source_of(t, rule.layer)
            sources[source] = {"type": "vector", "url": f"{base_url}/tiles/{source}.json"}
            banded.append((BANDS[rule.draw], depth, index,
                           style_layer(t, rule, index, source, layer, themes.palettes)))
            meta_layers.setdefault(rule.layer, layer_metadata(layer, themes))
    center = next((t.center for t in reversed(chain) if t.center), (106.9, 11.0))
    zoom = next((t.zoom for t in reversed(chain) if t.zoom is not None), 8)
    background = next((t.background for t in reversed(chain) if t.background), "#f4f1ea")
    layers = [{"id": "background", "type": "background",
               "paint": {"background-color": background}}]
    layers += [entry for *_, entry in sorted(banded, key=lambda b: b[:3])]
    return {
        "version": 8,
        "name": theme.title.vi,
        "metadata": {"iocgis:theme": theme.name, "iocgis:title": theme.title.model_dump(),
                     "iocgis:layers": meta_layers},
        "center": list(center),
        "zoom": zoom,
        "pitch": theme.pitch,
        "sources": sources,
        "glyphs": f"{base_url}/styles/glyphs/{{fontstack}}/{{range}}.pbf",
        "sprite": f"{base_url}/styles/sprites/{SPRITE}",
        "layers": layers,
    }


def themes_for(themes: Themes, caller: Caller) -> list[Theme]:
    """The themes the caller may open, base map first."""
    visible = [t for t in themes if any(themes.tilesets.get(s).visible_to(caller) for s in t.tilesets)]
    return sorted(visible, key=lambda t: (t.extends is not None, t.name))

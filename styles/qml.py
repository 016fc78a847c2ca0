"""QGIS layer styles (QML) from the same theme rules as the MapLibre styles.

``qml_for(layer_id)`` gives the QML of a layer from the theme that draws it: a categorized
renderer when the colour depends on a field (one category per code, with the code list's
Vietnamese title, and a default), else a single symbol; the label rule becomes QGIS labeling;
zoom limits become scale limits. The security helper writes these into ``layer_styles`` so a
QGIS user connecting to PostGIS sees the layers styled.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from iocgis.layers import LayerDef
from iocgis.styles.definitions import Themes, get_themes
from iocgis.styles.model import ByField, NumberValue, Rule

PX_TO_MM = 25.4 / 96  # a CSS pixel in millimetres
PX_TO_PT = 0.75
GEOMETRY_CODES = {"Point": "0", "MultiPoint": "0", "MultiLineString": "1", "MultiPolygon": "2"}
SYMBOL_TYPES = {"0": "marker", "1": "line", "2": "fill"}
QGIS_VERSION = "3.22.0"


def scale_of(zoom: float) -> int:
    """The map scale denominator of a web-map zoom (0.28 mm pixels, 256-px tiles)."""
    return int(559082264.028 / 2 ** zoom)


def _rgba(color: str, opacity: float = 1.0) -> str:
    return f"{int(color[1:3], 16)},{int(color[3:5], 16)},{int(color[5:7], 16)},{round(255 * opacity)}"


def _number(v: NumberValue | None, default: float, code: str | None = None) -> float:
    """A representative size: the middle of a zoom ramp; for a by-field value, the value of
    this category's code (else its default), times the middle of its zoom scale."""
    if v is None:
        return default
    if isinstance(v, ByField):
        base = float(v.values.get(code, v.default)) if code is not None else float(v.default)
        if v.scale:
            factors = [v.scale[z] for z in sorted(v.scale)]
            base *= factors[len(factors) // 2]
        return base
    if isinstance(v, dict):
        values = [v[z] for z in sorted(v)]
        return float(values[len(values) // 2])
    return float(v)


def _props(parent: ET.Element, props: dict[str, str]) -> None:
    # Both spellings: <Option> maps (QGIS >= 3.26 writes these) and <prop> (older readers).
    option = ET.SubElement(parent, "Option", type="Map")
    for key, val in props.items():
        ET.SubElement(option, "Option", type="QString", name=key, value=val)
    for key, val in props.items():
        ET.SubElement(parent, "prop", k=key, v=val)


def _symbol(parent: ET.Element, name: str, geometry: str, rule: Rule, color: str,
            outline: Rule | None, code: str | None = None) -> None:
    kind = SYMBOL_TYPES[geometry]
    symbol = ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1",
                           clip_to_extent="1", force_rhr="0")
    if kind == "fill" and rule.draw == "line":  # a boundary drawn as a line: no fill
        props = {"color": "0,0,0,0", "style": "no", "outline_color": _rgba(color, rule.opacity),
                 "outline_style": "dash" if rule.dash else "solid",
                 "outline_width": f"{_number(rule.width, 1.0, code) * PX_TO_MM:.2f}",
                 "outline_width_unit": "MM"}
        layer_class = "SimpleFill"
    elif kind == "fill":
        line = outline.color if outline and isinstance(outline.color, str) else rule.outline
        props = {"color": _rgba(color, rule.opacity), "style": "solid",
                 "outline_color": _rgba(line or "#000000", 1.0 if line else 0.0),
                 "outline_style": "solid" if line else "no",
                 "outline_width": f"{_number(outline.width if outline else None, 1.0) * PX_TO_MM:.2f}",
                 "outline_width_unit": "MM"}
        layer_class = "SimpleFill"
    elif kind == "line":
        props = {"line_color": _rgba(color, rule.opacity),
                 "line_width": f"{_number(rule.width, 1.0, code) * PX_TO_MM:.2f}", "line_width_unit": "MM",
                 "line_style": "dash" if rule.dash else "solid", "capstyle": "round",
                 "joinstyle": "round"}
        if rule.dash:
            props |= {"use_custom_dash": "1", "customdash_unit": "MM",
                      "customdash": ";".join(f"{d * PX_TO_MM * 2:.2f}" for d in rule.dash)}
        layer_class = "SimpleLine"
    else:
        radius = (_number(rule.radius, 4.0, code) if rule.draw == "circle"
                  else 10 * _number(rule.size, 1.0, code))
        props = {"name": "circle", "color": _rgba(color, rule.opacity),
                 "outline_color": _rgba(rule.stroke or "#ffffff"), "outline_style": "solid",
                 "outline_width": "0.2", "outline_width_unit": "MM",
                 "size": f"{2 * radius * PX_TO_MM:.2f}", "size_unit": "MM"}
        layer_class = "SimpleMarker"
    symbol_layer = ET.SubElement(symbol, "layer", attrib={"class": layer_class, "enabled": "1",
                                                          "pass": "0", "locked": "0"})
    _props(symbol_layer, props)


def _main_color(rule: Rule) -> str | ByField:
    if rule.color is not None:
        return rule.color
    if rule.draw == "icon":
        from iocgis.styles.sprites import ICONS

        return ICONS[rule.icon or ""][1]
    return "#888888"


def _renderer(root: ET.Element, layer: LayerDef, rule: Rule, outline: Rule | None,
              themes: Themes) -> None:
    geometry = GEOMETRY_CODES[layer.geometry or "MultiPolygon"]
    color = _main_color(rule)
    if isinstance(color, ByField):
        renderer = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=color.by,
                                 symbollevels="0", enableorderby="0", forceraster="0")
        categories = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        table = dict(themes.palettes.get(color.palette, {})) if color.palette else {}
        table.update({k: str(v) for k, v in color.values.items()})
        titles = {c.code: c.vi for c in themes.registry.resolve_domain(layer.field(color.by)) or ()}
        for i, (code, hex_color) in enumerate(table.items()):
            label = f"{code} – {titles[code]}" if code in titles else code
            ET.SubElement(categories, "category", render="true", symbol=str(i), value=code,
                          label=label)
            _symbol(symbols, str(i), geometry, rule, hex_color, outline, code)
        default = str(len(table))
        ET.SubElement(categories, "category", render="true", symbol=default, value="",
                      label="Khác (other)")
        _symbol(symbols, default, geometry, rule, str(color.default), outline)
    else:
        renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0",
                                 enableorderby="0", forceraster="0")
        symbols = ET.SubElement(renderer, "symbols")
        _symbol(symbols, "0", geometry, rule, color, outline)


def _labeling(root: ET.Element, layer: LayerDef, rule: Rule) -> None:
    labeling = ET.SubElement(root, "labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    color = rule.color if isinstance(rule.color, str) else "#333333"
    text = ET.SubElement(settings, "text-style", fieldName=rule.field or "", isExpression="0",
                         fontFamily="Noto Sans", fontWeight="75" if rule.bold else "50",
                         fontSize=f"{_number(rule.size, 12) * PX_TO_PT:.1f}",
                         fontSizeUnit="Point", textColor=_rgba(color), textOpacity="1")
    ET.SubElement(text, "text-buffer", bufferDraw="1", bufferSize="1", bufferSizeUnits="MM",
                  bufferColor=_rgba(rule.halo), bufferOpacity="1")
    placement = {"MultiLineString": "2", "MultiPolygon": "0"}.get(layer.geometry or "", "6")
    ET.SubElement(settings, "placement", placement=placement, dist="1", distUnits="MM")
    assert layer.tiles is not None
    lowest = max(rule.minzoom or 0, layer.tiles.minzoom)
    # QGIS keeps the historical names: scaleMax is the most zoomed-out denominator.
    ET.SubElement(settings, "rendering", scaleVisibility="1" if lowest or rule.maxzoom else "0",
                  scaleMax=str(scale_of(lowest)) if lowest else "0",
                  scaleMin=str(scale_of(rule.maxzoom)) if rule.maxzoom is not None else "0",
                  obstacle="1", fontLimitPixelSize="0")


def qml_for(layer_id: str, themes: Themes | None = None) -> str:
    """The QML of one registry layer, from the theme that draws it.

    Raises ``NotFound`` for an unknown layer or one that no theme draws (layers without
    geometry have no style).
    """
    themes = themes or get_themes()
    layer = themes.registry.get(layer_id)
    _, rules = themes.home_rules(layer_id)
    symbol_rules = [r for r in rules if r.draw != "label"]
    label = next((r for r in rules if r.draw == "label"), None)
    main = symbol_rules[0] if symbol_rules else None
    outline = next((r for r in symbol_rules[1:] if r.draw == "line"), None) \
        if main is not None and main.draw in ("fill", "extrusion") else None
    assert layer.tiles is not None
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology|Labeling|Rendering",
                      hasScaleBasedVisibilityFlag="1" if layer.tiles.minzoom else "0",
                      minScale=str(scale_of(layer.tiles.minzoom)) if layer.tiles.minzoom else "0",
                      maxScale="0")
    if main is not None:
        _renderer(root, layer, main, outline, themes)
    if label is not None:
        _labeling(root, layer, label)
        ET.SubElement(root, "labelsEnabled").text = "1"
    ET.SubElement(root, "layerGeometryType").text = GEOMETRY_CODES[layer.geometry or "MultiPolygon"]
    ET.indent(root)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="unicode") + "\n")

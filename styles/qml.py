"""QGIS layer styles (QML) from the same theme rules as the MapLibre styles.

``qml_for(layer_id)`` gives the QML of a layer from the theme that draws it: a categorized
renderer when the colour depends on a field (one category per code, with the code list's
Vietnamese title, and a default), else a single symbol; the label rule becomes QGIS labeling;
zoom limits become scale limits. What the web map varies by zoom or by field (widths, radii,
label sizes, ``minzoom_by`` thinning, a rule's ``where``) becomes a QGIS data-defined
expression on ``@map_scale``, beside a representative fixed value for readers that ignore it.
Boundaries (layers with an ``admin_level``) are drawn as outlines: QGIS users stack them over
other layers, where a fill would hide everything beneath. The security helper writes these
into ``layer_styles`` so a QGIS user connecting to PostGIS sees the layers styled.
"""

from __future__ import annotations

from itertools import pairwise
from xml.etree import ElementTree as ET

from iocgis.layers import LayerDef
from iocgis.layers.types import field_type
from iocgis.styles.definitions import Themes, get_themes
from iocgis.styles.model import ByField, NumberValue, Rule

PX_TO_MM = 25.4 / 96  # a CSS pixel in millimetres
PX_TO_PT = 0.75
GEOMETRY_CODES = {"Point": "0", "MultiPoint": "0", "MultiLineString": "1", "MultiPolygon": "2"}
SYMBOL_TYPES = {"0": "marker", "1": "line", "2": "fill"}
QGIS_VERSION = "3.22.0"
WORLD_SCALE = 559082264.028  # scale denominator of zoom 0 (0.28 mm pixels, 256-px tiles)
# The web-map zoom of the scale QGIS draws at (the inverse of scale_of).
ZOOM = f"log(2, {WORLD_SCALE} / @map_scale)"
# QGIS label placement per geometry code: points around the point, lines along the line
# (curved), polygons horizontal inside the polygon (QGIS tries many spots in it, so small
# urban wards still get their name; over the centroid alone drew 78 of 95 communes).
LABEL_PLACEMENT = {"0": {"placement": "6", "dist": "1", "distUnits": "MM", "priority": "5"},
                   "1": {"placement": "3", "placementFlags": "1", "dist": "0",
                         "distUnits": "MM", "priority": "5"},
                   "2": {"placement": "4", "centroidInside": "1", "centroidWhole": "0",
                         "dist": "0", "distUnits": "MM", "priority": "5"}}


def scale_of(zoom: float) -> int:
    """The map scale denominator of a web-map zoom (0.28 mm pixels, 256-px tiles)."""
    return int(WORLD_SCALE / 2 ** zoom)


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


def _literal(layer: LayerDef, field: str, code: str) -> str:
    """A code of a field as a QGIS expression literal of the field's type."""
    fdef = layer.field(field)
    kind = fdef.type
    if fdef.is_numeric:
        return repr(float(code)) if not field_type(kind).whole else str(int(code))
    if kind == "boolean":
        return "true" if code.lower() in ("true", "1") else "false"
    return "'" + code.replace("'", "''") + "'"


def _column(field: str) -> str:
    return '"' + field.replace('"', '""') + '"'


def _case(layer: LayerDef, field: str, values: dict[str, str], default: str) -> str:
    """A value by code (QGIS 3.22 parses only the searched form ``CASE WHEN ... THEN``)."""
    cases = " ".join(f"WHEN {_column(field)} = {_literal(layer, field, code)} THEN {value}"
                     for code, value in values.items())
    return f"CASE {cases} ELSE {default} END"


def _ramp(stops: dict[int, float]) -> str:
    """A zoom ramp (linear between stops, flat outside them, as MapLibre interpolates)."""
    points = sorted(stops.items())
    if len(points) == 1:
        return repr(float(points[0][1]))
    cases = [f"WHEN @zoom <= {points[0][0]} THEN {float(points[0][1])!r}"]
    for (z0, v0), (z1, v1) in pairwise(points):
        cases.append(f"WHEN @zoom <= {z1} THEN {float(v0)!r} + (@zoom - {z0}) * "
                     f"{(v1 - v0) / (z1 - z0)!r}")
    return (f"with_variable('zoom', {ZOOM}, CASE {' '.join(cases)} "
            f"ELSE {float(points[-1][1])!r} END)")


def _dynamic(v: NumberValue | None, layer: LayerDef,
             category: tuple[str, str] | None) -> str | None:
    """The expression (in px) of a value that depends on the zoom or on a field, None for a
    constant; ``category`` is (field, code) of the categorized symbol it goes into."""
    if isinstance(v, dict) and len(v) > 1:
        return _ramp(v)
    if not isinstance(v, ByField):
        return None
    if category is not None and category[0] == v.by:
        base = repr(float(v.values.get(category[1], v.default)))
    else:
        base = _case(layer, v.by, {code: repr(float(value)) for code, value in v.values.items()},
                     repr(float(v.default)))
    return f"({base}) * {_ramp(v.scale)}" if v.scale else base


def _visible(layer: LayerDef, rule: Rule) -> str | None:
    """When a feature is drawn, as an expression: the rule's ``where`` and the tiles'
    ``minzoom_by`` thinning (a value appears from its zoom on, as in the tiles)."""
    tests = [f"{_column(f)} IN ({', '.join(_literal(layer, f, c) for c in codes)})"
             for f, codes in (rule.where or {}).items()]
    rank = layer.tiles.minzoom_by if layer.tiles else None
    if rank is not None:
        scales = {code: str(scale_of(zoom)) for code, zoom in rank.values.items()}
        tests.append(f"@map_scale <= {_case(layer, rank.field, scales, str(scale_of(rank.default)))}")
    return " AND ".join(f"({t})" for t in tests) or None


def _data_defined(parent: ET.Element, tag: str, expressions: dict[str, str]) -> None:
    collection = ET.SubElement(ET.SubElement(parent, tag), "Option", type="Map")
    ET.SubElement(collection, "Option", type="QString", name="name", value="")
    properties = ET.SubElement(collection, "Option", type="Map", name="properties")
    for key, expression in expressions.items():
        prop = ET.SubElement(properties, "Option", type="Map", name=key)
        ET.SubElement(prop, "Option", type="bool", name="active", value="true")
        ET.SubElement(prop, "Option", type="QString", name="expression", value=expression)
        ET.SubElement(prop, "Option", type="int", name="type", value="3")  # an expression
    ET.SubElement(collection, "Option", type="QString", name="type", value="collection")


def _props(parent: ET.Element, props: dict[str, str]) -> None:
    # Both spellings: <Option> maps (QGIS >= 3.26 writes these) and <prop> (older readers).
    option = ET.SubElement(parent, "Option", type="Map")
    for key, val in props.items():
        ET.SubElement(option, "Option", type="QString", name=key, value=val)
    for key, val in props.items():
        ET.SubElement(parent, "prop", k=key, v=val)


def _in_mm(expression: str | None, factor: float = PX_TO_MM) -> str | None:
    return None if expression is None else f"({expression}) * {factor!r}"


def _symbol(parent: ET.Element, name: str, layer: LayerDef, rule: Rule, color: str,
            outline: Rule | None, category: tuple[str, str] | None = None) -> None:
    geometry = GEOMETRY_CODES[layer.geometry or "MultiPolygon"]
    kind = SYMBOL_TYPES[geometry]
    code = category[1] if category else None
    symbol = ET.SubElement(parent, "symbol", type=kind, name=name, alpha="1",
                           clip_to_extent="1", force_rhr="0")
    dynamic: dict[str, str | None] = {}
    if kind == "fill" and rule.draw == "line":  # a boundary drawn as a line: no fill
        props = {"color": "0,0,0,0", "style": "no", "outline_color": _rgba(color, rule.opacity),
                 "outline_style": "dash" if rule.dash else "solid",
                 "outline_width": f"{_number(rule.width, 1.0, code) * PX_TO_MM:.2f}",
                 "outline_width_unit": "MM"}
        dynamic["outlineWidth"] = _in_mm(_dynamic(rule.width, layer, category))
        layer_class = "SimpleFill"
    elif kind == "fill":
        line = outline.color if outline and isinstance(outline.color, str) else rule.outline
        width = outline.width if outline else None
        props = {"color": _rgba(color, rule.opacity), "style": "solid",
                 "outline_color": _rgba(line or "#000000", 1.0 if line else 0.0),
                 "outline_style": "solid" if line else "no",
                 "outline_width": f"{_number(width, 1.0) * PX_TO_MM:.2f}",
                 "outline_width_unit": "MM"}
        dynamic["outlineWidth"] = _in_mm(_dynamic(width, layer, category))
        layer_class = "SimpleFill"
    elif kind == "line":
        props = {"line_color": _rgba(color, rule.opacity),
                 "line_width": f"{_number(rule.width, 1.0, code) * PX_TO_MM:.2f}",
                 "line_width_unit": "MM", "line_style": "dash" if rule.dash else "solid",
                 "capstyle": "round", "joinstyle": "round"}
        if rule.dash:
            props |= {"use_custom_dash": "1", "customdash_unit": "MM",
                      "customdash": ";".join(f"{d * PX_TO_MM * 2:.2f}" for d in rule.dash)}
        dynamic["outlineWidth"] = _in_mm(_dynamic(rule.width, layer, category))
        layer_class = "SimpleLine"
    else:
        value = rule.radius if rule.draw == "circle" else rule.size
        radius = (_number(rule.radius, 4.0, code) if rule.draw == "circle"
                  else 10 * _number(rule.size, 1.0, code))
        props = {"name": "circle", "color": _rgba(color, rule.opacity),
                 "outline_color": _rgba(rule.stroke or "#ffffff"), "outline_style": "solid",
                 "outline_width": "0.2", "outline_width_unit": "MM",
                 "size": f"{2 * radius * PX_TO_MM:.2f}", "size_unit": "MM"}
        # A circle's size is its diameter; an icon's size scales a 10-px marker.
        factor = 2 * PX_TO_MM if rule.draw == "circle" else 20 * PX_TO_MM
        dynamic["size"] = _in_mm(_dynamic(value, layer, category), factor)
        layer_class = "SimpleMarker"
    visible = _visible(layer, rule)
    expressions = {key: expr for key, expr in dynamic.items() if expr is not None}
    if visible:
        expressions["enabled"] = visible
    symbol_layer = ET.SubElement(symbol, "layer", attrib={"class": layer_class, "enabled": "1",
                                                          "pass": "0", "locked": "0"})
    _props(symbol_layer, props)
    if expressions:
        _data_defined(symbol_layer, "data_defined_properties", expressions)


def _main_color(rule: Rule) -> str | ByField:
    if rule.color is not None:
        return rule.color
    if rule.draw == "icon":
        from iocgis.styles.sprites import ICONS

        return ICONS[rule.icon or ""][1]
    return "#888888"


def _renderer(root: ET.Element, layer: LayerDef, rule: Rule, outline: Rule | None,
              themes: Themes) -> None:
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
            _symbol(symbols, str(i), layer, rule, hex_color, outline, (color.by, code))
        default = str(len(table))
        ET.SubElement(categories, "category", render="true", symbol=default, value="",
                      label="Khác (other)")
        _symbol(symbols, default, layer, rule, str(color.default), outline)
    else:
        renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", symbollevels="0",
                                 enableorderby="0", forceraster="0")
        symbols = ET.SubElement(renderer, "symbols")
        _symbol(symbols, "0", layer, rule, color, outline)


def _labeling(root: ET.Element, layer: LayerDef, rule: Rule) -> None:
    geometry = GEOMETRY_CODES[layer.geometry or "MultiPolygon"]
    labeling = ET.SubElement(root, "labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    color = rule.color if isinstance(rule.color, str) else "#333333"
    text = ET.SubElement(settings, "text-style", fieldName=rule.field or "", isExpression="0",
                         fontFamily="Noto Sans", fontWeight="75" if rule.bold else "50",
                         namedStyle="Bold" if rule.bold else "Regular",
                         fontSize=f"{_number(rule.size, 12) * PX_TO_PT:.1f}",
                         fontSizeUnit="Point", textColor=_rgba(color), textOpacity="1")
    ET.SubElement(text, "text-buffer", bufferDraw="1", bufferSize="1", bufferSizeUnits="MM",
                  bufferColor=_rgba(rule.halo), bufferOpacity="1")
    ET.SubElement(settings, "placement", LABEL_PLACEMENT[geometry])
    assert layer.tiles is not None
    lowest = max(rule.minzoom or 0, layer.tiles.minzoom)
    # QGIS keeps the historical names: scaleMax is the most zoomed-out denominator.
    # Areas are no label obstacles: their interior would push every other label out (and
    # most of their own names with them); points and lines keep labels off their symbols.
    ET.SubElement(settings, "rendering", scaleVisibility="1" if lowest or rule.maxzoom else "0",
                  scaleMax=str(scale_of(lowest)) if lowest else "0",
                  scaleMin=str(scale_of(rule.maxzoom)) if rule.maxzoom is not None else "0",
                  obstacle="0" if geometry == "2" else "1", obstacleType="1",
                  mergeLines="1" if geometry == "1" else "0", fontLimitPixelSize="0")
    expressions = {}
    size = _dynamic(rule.size, layer, None)
    if size is not None:
        expressions["Size"] = f"({size}) * {PX_TO_PT!r}"
    visible = _visible(layer, rule)
    if visible:
        expressions["Show"] = visible
    if expressions:
        _data_defined(settings, "dd_properties", expressions)


# A layer with footprints is two QGIS layers on one table: its positions (``geom``) drawn by
# the theme's point rules and labelled, its footprints (``footprint``) by its polygon rules.
POSITION_DRAWS = ("circle", "icon", "label")
FOOTPRINT_DRAWS = ("fill", "extrusion", "line")


def _form(layer: LayerDef, rules: tuple[Rule, ...],
          column: str) -> tuple[LayerDef, tuple[Rule, ...]]:
    if column == "footprint":
        polygons = layer.model_copy(update={"geometry": layer.footprint, "footprint": None})
        return polygons, tuple(r for r in rules if r.draw in FOOTPRINT_DRAWS)
    return layer, tuple(r for r in rules if r.draw in POSITION_DRAWS)


def qml_for(layer_id: str, themes: Themes | None = None, column: str = "geom") -> str:
    """The QML of one registry layer, from the theme that draws it (``column="footprint"``:
    of the footprints of a layer that has them).

    Raises ``NotFound`` for an unknown layer or one that no theme draws (layers without
    geometry have no style).
    """
    themes = themes or get_themes()
    layer = themes.registry.get(layer_id)
    _, rules = themes.home_rules(layer_id)
    if layer.footprint:
        layer, rules = _form(layer, rules, column)
    symbol_rules = [r for r in rules if r.draw != "label"]
    if layer.admin_level:  # a boundary: its outline, never a fill over other layers
        symbol_rules = [r for r in symbol_rules if r.draw == "line"] or symbol_rules
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

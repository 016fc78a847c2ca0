"""The QGIS project (.qgs XML) of one role, laid out like the web map.

- one layer-tree group per theme of ``styles/themes/`` (the web map's switcher): the base map
  switched on, every other theme switched off, so the project opens on a readable base map and
  the user ticks a theme as the web map's switcher changes it;
- inside a group, the layers in the theme's drawing order (top of the tree = drawn last),
  boundaries (layers with an ``admin_level``) at the bottom, drawn as outlines (``styles/qml``);
- layer ids longer than 10 characters (QGIS replaces shorter ids when it reads a project, and
  the tree entry naming the old id is orphaned);
- the project CRS with ``SpatialRefSys/ProjectionsEnabled`` (without it QGIS reports none),
  the WGS 84 ellipsoid for measurements in metres, the base map's background colour and the
  province's extent as the opening view;
- datasources name a ``pg_service.conf`` entry, so each user connects with their own login;
  personal data through the masked views for roles without the right;
- a layer with footprints is two project layers on its table: the positions (``geom``) and,
  under them, the footprints (``footprint``), each with its own style.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.etree import ElementTree as ET

from sqlalchemy import MetaData

from iocgis.access import ROLE_RIGHTS, Caller, visible_layers
from iocgis.layers import LayerDef, Registry
from iocgis.layers.tables import layer_table
from iocgis.roles.dbroles import MASKED_SCHEMA, masked_view_name, needs_mask
from iocgis.styles.definitions import Themes
from iocgis.styles.model import Theme

QGIS_VERSION = "3.22.16-Białowieża"
PROJECT_PREFIX = "iocgis"
LAYER_ID_PREFIX = "iocgis_"  # ids must be longer than 10 characters to survive a QGIS read
WKB = {"Point": "Point", "MultiPoint": "MultiPoint", "MultiLineString": "MultiLineString",
       "MultiPolygon": "MultiPolygon"}
GEOMETRY_KIND = {"Point": "Point", "MultiPoint": "Point", "MultiLineString": "Line",
                 "MultiPolygon": "Polygon"}
MASKED_SUFFIX = " (ẩn dữ liệu cá nhân)"
FOOTPRINT_SUFFIX = " — khuôn viên (footprint)"
# ``qml_for(layer_id)``, and ``qml_for(layer_id, column="footprint")`` for a layer's footprints
QmlFor = Callable[..., str]
WGS84 = (("wkt", ('GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",'
                 '6378137,298.257223563,LENGTHUNIT["metre",1]]],PRIMEM["Greenwich",0,ANGLEUNIT['
                 '"degree",0.0174532925199433]],CS[ellipsoidal,2],AXIS["geodetic latitude (Lat)",'
                 'north,ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],AXIS["geodetic longitude'
                 ' (Lon)",east,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],ID["EPSG",4326]]')),
         ("proj4", "+proj=longlat +datum=WGS84 +no_defs"), ("srsid", "3452"), ("srid", "4326"),
         ("authid", "EPSG:4326"), ("description", "WGS 84"), ("projectionacronym", "longlat"),
         ("ellipsoidacronym", "EPSG:7030"), ("geographicflag", "true"))
Extent = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in EPSG:4326


def project_name(role: str) -> str:
    return f"{PROJECT_PREFIX}-{role}"


def layer_id(layer: LayerDef) -> str:
    return f"{LAYER_ID_PREFIX}{layer.group}_{layer.name}"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def geometry_layers(layer: LayerDef) -> list[tuple[str, str]]:
    """(geometry column, QGIS geometry kind) of each QGIS layer a registry layer is: its
    position, and its footprints for a layer that keeps them (a polygon layer of their own)."""
    out = [("geom", GEOMETRY_KIND[layer.geometry or "Point"])]
    if layer.footprint:
        out.append(("footprint", GEOMETRY_KIND[layer.footprint]))
    return out


def datasource(layer: LayerDef, masked: bool, service: str, column: str = "geom") -> str:
    """The QGIS postgres datasource of a layer as a role opens it in the project.

    QGIS 3.22 logs "Cannot parse json" once per feature and attribute fetch for a NULL jsonb:
    the masked views leave ``extra`` out; the tables are read through a query that turns a
    NULL ``extra`` into an empty object (the columns from the registry, as the tables are)."""
    geometry = WKB[(layer.footprint if column == "footprint" else layer.geometry) or "Point"]
    if masked:
        table = f'{_quoted(MASKED_SCHEMA)}.{_quoted(masked_view_name(layer))}'
    else:
        columns = [_quoted(c.name) if c.name != "extra" else
                   "COALESCE(\"extra\", '{}'::jsonb) AS \"extra\""
                   for c in layer_table(layer, MetaData()).columns]
        query = (f"(SELECT {', '.join(columns)} FROM "
                 f"{_quoted(layer.schema_name)}.{_quoted(layer.table_name)})")
        table = '"' + query.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return (f"service='{service}' key='fid' srid=4326 type={geometry} "
            f"checkPrimaryKeyUnicity='0' table={table} ({column})")


def _srs(parent: ET.Element) -> ET.Element:
    srs = ET.SubElement(parent, "spatialrefsys", nativeFormat="Wkt")
    for tag, text in WGS84:
        ET.SubElement(srs, tag).text = text
    return srs


def _properties(root: ET.Element, background: str | None) -> None:
    props = ET.SubElement(root, "properties")
    entries: dict[str, dict[str, tuple[str, str]]] = {
        "SpatialRefSys": {"ProjectionsEnabled": ("int", "1")},
        "Measure": {"Ellipsoid": ("QString", "EPSG:7030")},
        "Measurement": {"DistanceUnits": ("QString", "meters"), "AreaUnits": ("QString", "m2")},
    }
    if background:
        entries["Gui"] = {f"CanvasColor{part}Part": ("int", str(int(background[i:i + 2], 16)))
                          for part, i in (("Red", 1), ("Green", 3), ("Blue", 5))}
    for section, values in entries.items():
        node = ET.SubElement(props, section)
        for key, (kind, text) in values.items():
            ET.SubElement(node, key, type=kind).text = text


def _view(root: ET.Element, extent: Extent) -> None:
    """The opening view: the canvas extent (QGIS desktop) and the default view extent."""
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    ET.SubElement(canvas, "units").text = "degrees"
    box = ET.SubElement(canvas, "extent")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), extent):
        ET.SubElement(box, tag).text = repr(value)
    ET.SubElement(canvas, "rotation").text = "0"
    _srs(ET.SubElement(canvas, "destinationsrs"))
    settings = ET.SubElement(root, "ProjectViewSettings", UseProjectScales="0", rotation="0")
    ET.SubElement(settings, "Scales")
    default = ET.SubElement(settings, "DefaultViewExtent", **{
        k: repr(v) for k, v in zip(("xmin", "ymin", "xmax", "ymax"), extent)})
    _srs(default)


def group_name(theme: Theme) -> str:
    return f"{theme.title.vi} — {theme.title.en}"


def theme_groups(themes: Themes, layers: list[LayerDef]) -> list[tuple[Theme, list[LayerDef]]]:
    """The themes (base map last) with the given layers each draws, top of the tree first."""
    by_id = {layer.id: layer for layer in layers}
    groups = []
    for theme in sorted(themes, key=lambda t: (t.extends is None, t.name)):
        # A layer sits where its first drawing rule is (MapLibre draws rules in order).
        order: dict[str, int] = {}
        for index, rule in sorted(enumerate(theme.rules), key=lambda r: r[1].draw == "label"):
            if rule.layer in by_id and themes.home_rules(rule.layer)[0].name == theme.name:
                order.setdefault(rule.layer, index)
        members = sorted((by_id[lid] for lid in order),
                         key=lambda layer: (layer.admin_level is None, order[layer.id]),
                         reverse=True)
        if members:
            groups.append((theme, members))
    return groups


def _map_layer(parent: ET.Element, geometry: str, lid: str, name: str, uri: str,
               qml: str) -> None:
    map_layer = ET.SubElement(parent, "maplayer", type="vector",
                              geometry=GEOMETRY_KIND[geometry], wkbType=WKB[geometry])
    for tag, text in (("id", lid), ("datasource", uri), ("layername", name)):
        ET.SubElement(map_layer, tag).text = text
    _srs(ET.SubElement(map_layer, "srs"))
    ET.SubElement(map_layer, "provider", encoding="UTF-8").text = "postgres"
    # The QML root holds the same elements a project keeps inside <maplayer>.
    style = ET.fromstring(qml.encode("utf-8"))
    for attribute in ("hasScaleBasedVisibilityFlag", "minScale", "maxScale"):
        if attribute in style.attrib:  # layer-level settings live on <maplayer>
            map_layer.set(attribute, style.attrib[attribute])
    map_layer.extend(child for child in style
                     if child.tag not in ("id", "datasource", "layername", "srs", "provider"))


def project_qgs(registry: Registry, themes: Themes, role: str, service: str,
                qml_for: QmlFor, extent: Extent | None = None) -> str:
    """The .qgs XML of the project of one role: its layers, grouped by theme, styled."""
    caller = Caller(name=role, roles=frozenset({role}))
    layers = [layer for layer in visible_layers(caller, registry) if layer.is_spatial]
    sees_pii = bool(ROLE_RIGHTS[role]["pii"])
    basemap = next(t for t in themes if t.extends is None)
    title = f"iocgis — {role}"
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION, saveUser=PROJECT_PREFIX)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    _srs(ET.SubElement(root, "projectCrs"))
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    layers_el = ET.SubElement(root, "projectlayers")
    order = ET.SubElement(root, "layerorder")
    for theme, members in theme_groups(themes, layers):
        on = "Qt::Checked" if theme.extends is None else "Qt::Unchecked"
        node = ET.SubElement(tree, "layer-tree-group", name=group_name(theme), checked=on,
                             expanded="1" if theme.extends is None else "0")
        ET.SubElement(node, "customproperties")
        for layer in members:
            masked = needs_mask(layer) and not sees_pii
            # the position on top, then the footprints (drawn underneath)
            for column, _ in geometry_layers(layer):
                footprints = column == "footprint"
                uri = datasource(layer, masked, service, column)
                lid = layer_id(layer) + ("_footprint" if footprints else "")
                name = (layer.title.vi + (FOOTPRINT_SUFFIX if footprints else "")
                        + (MASKED_SUFFIX if masked else ""))
                leaf = ET.SubElement(node, "layer-tree-layer", id=lid, name=name, source=uri,
                                     providerKey="postgres", checked="Qt::Checked",
                                     expanded="0")
                ET.SubElement(leaf, "customproperties")
                qml = qml_for(layer.id, column=column) if footprints else qml_for(layer.id)
                geometry = (layer.footprint if footprints else layer.geometry) or "Point"
                _map_layer(layers_el, geometry, lid, name, uri, qml)
                ET.SubElement(order, "layer", id=lid)
    _properties(root, basemap.background)
    if extent is not None:
        _view(root, extent)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body

"""QGIS reads its styles and projects from the database: write them there.

- ``public.layer_styles`` (QGIS's own table and schema): each layer's QML from
  ``iocgis.styles.qml_for`` as the default style of its table and of its masked view, so a
  layer opened from the browser panel is styled at once;
- ``public.qgis_projects`` (QGIS's PostgreSQL project storage): one project per role, the
  layers that role may see grouped by theme, personal data through the masked views, every
  datasource naming a ``pg_service.conf`` entry so each user connects with their own login.

Row-level security on both tables shows a login only what its grants let it open.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable
from xml.etree import ElementTree as ET

import psycopg
from psycopg import sql

from iocgis.access import ROLE_RIGHTS, Caller, visible_layers
from iocgis.errors import ConfigError
from iocgis.layers import LayerDef, Registry
from iocgis.security.dbroles import MASKED_SCHEMA, group_role, masked_view_name, needs_mask
from iocgis.security.settings import SecuritySettings

QGIS_VERSION = "3.22.16-Białowieża"
STYLE_DESCRIPTION = "iocgis default style (generated from styles/; edit the style, not this row)"
PROJECT_PREFIX = "iocgis"
WKB = {"Point": "Point", "MultiPoint": "MultiPoint", "MultiLineString": "MultiLineString",
       "MultiPolygon": "MultiPolygon"}
GEOMETRY_KIND = {"Point": "Point", "MultiPoint": "Point", "MultiLineString": "Line",
                 "MultiPolygon": "Polygon"}
WGS84_WKT = ('GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,'
             '298.257223563,LENGTHUNIT["metre",1]]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",'
             '0.0174532925199433]],CS[ellipsoidal,2],AXIS["geodetic latitude (Lat)",north,'
             'ORDER[1],ANGLEUNIT["degree",0.0174532925199433]],AXIS["geodetic longitude (Lon)",'
             'east,ORDER[2],ANGLEUNIT["degree",0.0174532925199433]],ID["EPSG",4326]]')

LAYER_STYLES_DDL = """
CREATE TABLE IF NOT EXISTS public.layer_styles (
    id SERIAL PRIMARY KEY, f_table_catalog varchar, f_table_schema varchar,
    f_table_name varchar, f_geometry_column varchar, styleName text, styleQML xml,
    styleSLD xml, useAsDefault boolean, description text,
    owner varchar(63) DEFAULT CURRENT_USER, ui xml,
    update_time timestamp DEFAULT CURRENT_TIMESTAMP, type varchar)
"""
QGIS_PROJECTS_DDL = """
CREATE TABLE IF NOT EXISTS public.qgis_projects (
    name text PRIMARY KEY, metadata jsonb, content bytea)
"""
# A login sees the style rows of the tables it may open, and the projects of its roles.
POLICIES = (
    "ALTER TABLE public.layer_styles ENABLE ROW LEVEL SECURITY",
    "DROP POLICY IF EXISTS readable_layers ON public.layer_styles",
    "CREATE POLICY readable_layers ON public.layer_styles FOR SELECT USING (CASE WHEN "
    "to_regclass(quote_ident(f_table_schema) || '.' || quote_ident(f_table_name)) IS NULL "
    "THEN false ELSE has_any_column_privilege(quote_ident(f_table_schema) || '.' || "
    "quote_ident(f_table_name), 'SELECT') END)",
    "ALTER TABLE public.qgis_projects ENABLE ROW LEVEL SECURITY",
    "DROP POLICY IF EXISTS own_role ON public.qgis_projects",
    "CREATE POLICY own_role ON public.qgis_projects FOR SELECT USING (CASE WHEN "
    "metadata ->> 'iocgis_db_role' IS NULL THEN true WHEN NOT EXISTS (SELECT 1 FROM pg_roles "
    "WHERE rolname = metadata ->> 'iocgis_db_role') THEN false ELSE pg_has_role("
    "metadata ->> 'iocgis_db_role', 'MEMBER') END)",
)


@dataclass
class PublishReport:
    styles: int = 0
    projects: list[str] = field(default_factory=list)


def style_source() -> Callable[[str], str]:
    """``iocgis.styles.qml_for``: the one style system (the styles package owns it)."""
    try:
        from iocgis.styles import qml_for
    except ImportError as exc:
        raise ConfigError("the styles package offers no qml_for(layer_id)", where="iocgis.styles",
                          hint="update the checkout; QML is generated from styles/") from exc
    return qml_for


def project_name(role: str) -> str:
    return f"{PROJECT_PREFIX}-{role}"


def _source(layer: LayerDef, masked: bool, service: str) -> tuple[str, str, str]:
    """(schema, table, QGIS postgres datasource) for the layer as a role should open it."""
    schema, table = (MASKED_SCHEMA, masked_view_name(layer)) if masked else (
        layer.schema_name, layer.table_name)
    uri = (f"service='{service}' key='fid' srid=4326 type={WKB[layer.geometry or 'Point']} "
           f"checkPrimaryKeyUnicity='0' table=\"{schema}\".\"{table}\" (geom)")
    return schema, table, uri


def publish_styles(conn: psycopg.Connection, registry: Registry,
                   qml_for: Callable[[str], str]) -> int:
    """One default style row per layer table and masked view (ours replaced, others kept)."""
    dbname = conn.execute("SELECT current_database()").fetchone()[0]
    count = 0
    for layer in registry.spatial():
        qml = qml_for(layer.id)
        ET.fromstring(qml.encode("utf-8"))  # a broken QML fails here, naming the layer below
        targets = [(layer.schema_name, layer.table_name)]
        if needs_mask(layer):
            targets.append((MASKED_SCHEMA, masked_view_name(layer)))
        for schema, table in targets:
            conn.execute("DELETE FROM public.layer_styles WHERE f_table_catalog = %s AND "
                         "f_table_schema = %s AND f_table_name = %s AND description = %s",
                         (dbname, schema, table, STYLE_DESCRIPTION))
            conn.execute("UPDATE public.layer_styles SET useAsDefault = false WHERE "
                         "f_table_catalog = %s AND f_table_schema = %s AND f_table_name = %s",
                         (dbname, schema, table))
            conn.execute(
                "INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                "f_geometry_column, styleName, styleQML, useAsDefault, description, type) "
                "VALUES (%s, %s, %s, 'geom', %s, XMLPARSE(DOCUMENT %s), true, %s, %s)",
                # QGIS matches ``type`` against the geometry kind (Point, Line, Polygon).
                (dbname, schema, table, f"{layer.id} (iocgis)", qml, STYLE_DESCRIPTION,
                 GEOMETRY_KIND[layer.geometry or "Point"]))
            count += 1
    return count


def _srs() -> ET.Element:
    srs = ET.Element("spatialrefsys", nativeFormat="Wkt")
    for tag, text in (("wkt", WGS84_WKT), ("proj4", "+proj=longlat +datum=WGS84 +no_defs"),
                      ("srid", "4326"), ("authid", "EPSG:4326"), ("description", "WGS 84"),
                      ("projectionacronym", "longlat"), ("ellipsoidacronym", "EPSG:7030"),
                      ("geographicflag", "true")):
        ET.SubElement(srs, tag).text = text
    return srs


def project_qgs(registry: Registry, role: str, settings: SecuritySettings,
                qml_for: Callable[[str], str]) -> str:
    """The .qgs XML of the project of one role: its layers, grouped by theme, styled."""
    caller = Caller(name=role, roles=frozenset({role}))
    allowed = {layer.id for layer in visible_layers(caller, registry) if layer.is_spatial}
    title = f"iocgis — {role}"
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION, saveUser=PROJECT_PREFIX)
    ET.SubElement(root, "homePath", path="")
    ET.SubElement(root, "title").text = title
    ET.SubElement(ET.SubElement(root, "projectCrs"), "spatialrefsys").extend(list(_srs()))
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    layers_el = ET.SubElement(root, "projectlayers")
    order = ET.SubElement(root, "layerorder")
    sees_pii = bool(ROLE_RIGHTS[role]["pii"])
    for group in registry.groups:
        members = [layer for layer in group.layers if layer.id in allowed]
        if not members:
            continue
        node = ET.SubElement(tree, "layer-tree-group", name=f"{group.title.vi} ({group.title.en})",
                             checked="Qt::Checked", expanded="1")
        ET.SubElement(node, "customproperties")
        for layer in members:
            masked = needs_mask(layer) and not sees_pii
            _, _, uri = _source(layer, masked, settings.qgis_service)
            layer_id = f"{layer.group}_{layer.name}"
            name = layer.title.vi + (" (ẩn dữ liệu cá nhân)" if masked else "")
            leaf = ET.SubElement(node, "layer-tree-layer", id=layer_id, name=name, source=uri,
                                 providerKey="postgres", checked="Qt::Checked", expanded="0")
            ET.SubElement(leaf, "customproperties")
            map_layer = ET.SubElement(layers_el, "maplayer", type="vector",
                                      geometry=GEOMETRY_KIND[layer.geometry or "Point"],
                                      wkbType=WKB[layer.geometry or "Point"])
            for tag, text in (("id", layer_id), ("datasource", uri), ("layername", name)):
                ET.SubElement(map_layer, tag).text = text
            ET.SubElement(map_layer, "srs").append(_srs())
            ET.SubElement(map_layer, "provider", encoding="UTF-8").text = "postgres"
            # The QML root holds the same elements a project keeps inside <maplayer>.
            style = ET.fromstring(qml_for(layer.id).encode("utf-8"))
            for attribute in ("hasScaleBasedVisibilityFlag", "minScale", "maxScale"):
                if attribute in style.attrib:  # layer-level settings live on <maplayer>
                    map_layer.set(attribute, style.attrib[attribute])
            map_layer.extend(child for child in style
                             if child.tag not in ("id", "datasource", "layername", "srs",
                                                  "provider"))
            ET.SubElement(order, "layer", id=layer_id)
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


def qgz(name: str, qgs: str) -> bytes:
    """The zipped project QGIS stores (.qgz: the .qgs inside)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.qgs", qgs.encode("utf-8"))
    return buffer.getvalue()


def publish(conn: psycopg.Connection, registry: Registry, settings: SecuritySettings,
            qml_for: Callable[[str], str] | None = None) -> PublishReport:
    """Styles into layer_styles, a project per role into qgis_projects (one transaction)."""
    qml_for = qml_for or style_source()
    report = PublishReport()
    with conn.transaction():
        conn.execute(LAYER_STYLES_DDL)
        conn.execute(QGIS_PROJECTS_DDL)
        report.styles = publish_styles(conn, registry, qml_for)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        for role in ROLE_RIGHTS:
            name = project_name(role)
            content = qgz(name, project_qgs(registry, role, settings, qml_for))
            metadata = {"last_modified_time": now, "last_modified_user": PROJECT_PREFIX,
                        "iocgis_role": role, "iocgis_db_role": group_role(settings, role)}
            conn.execute("INSERT INTO public.qgis_projects (name, metadata, content) VALUES "
                         "(%s, %s::jsonb, %s) ON CONFLICT (name) DO UPDATE SET metadata = "
                         "EXCLUDED.metadata, content = EXCLUDED.content",
                         (name, json.dumps(metadata, ensure_ascii=False), content))
            report.projects.append(name)
        for statement in POLICIES:
            conn.execute(statement)
        roles = [r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
            (settings.db_role_prefix.replace("_", r"\_") + "%",))]
        for role_name in roles:
            for table in ("layer_styles", "qgis_projects"):
                conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                    sql.Identifier("public", table), sql.Identifier(role_name)))
    return report

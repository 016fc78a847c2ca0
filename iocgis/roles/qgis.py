"""QGIS reads its styles and projects from the database: write them there.

- ``public.layer_styles`` (QGIS's own table and schema): each layer's QML from
  ``iocgis.styles.qml_for`` as the default style of its table and of its masked view, so a
  layer opened from the browser panel is styled at once (a layer with footprints: one style
  per geometry column, its positions and its footprints);
- ``public.qgis_projects`` (QGIS's PostgreSQL project storage): one project per role
  (``qgis_project``: the layers that role may see, grouped by the web map's themes, the base
  map on), every datasource naming a ``pg_service.conf`` entry so each user connects with
  their own login.

Row-level security on both tables shows a login only what its grants let it open.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import psycopg
from psycopg import sql

from iocgis.access import ROLE_RIGHTS
from iocgis.errors import ConfigError
from iocgis.layers import Registry
from iocgis.roles.dbroles import MASKED_SCHEMA, group_role, masked_view_name, needs_mask
from iocgis.roles.qgis_project import (
    PROJECT_PREFIX,
    Extent,
    QmlFor,
    geometry_layers,
    project_name,
    project_qgs,
)
from iocgis.security.settings import SecuritySettings
from iocgis.styles.definitions import get_themes

STYLE_DESCRIPTION = "iocgis default style (generated from styles/; edit the style, not this row)"

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
    ("CREATE POLICY readable_layers ON public.layer_styles FOR SELECT USING (CASE WHEN "
    "to_regclass(quote_ident(f_table_schema) || '.' || quote_ident(f_table_name)) IS NULL "
    "THEN false ELSE has_any_column_privilege(quote_ident(f_table_schema) || '.' || "
    "quote_ident(f_table_name), 'SELECT') END)"),
    "ALTER TABLE public.qgis_projects ENABLE ROW LEVEL SECURITY",
    "DROP POLICY IF EXISTS own_role ON public.qgis_projects",
    ("CREATE POLICY own_role ON public.qgis_projects FOR SELECT USING (CASE WHEN "
    "metadata ->> 'iocgis_db_role' IS NULL THEN true WHEN NOT EXISTS (SELECT 1 FROM pg_roles "
    "WHERE rolname = metadata ->> 'iocgis_db_role') THEN false ELSE pg_has_role("
    "metadata ->> 'iocgis_db_role', 'MEMBER') END)"),
)


@dataclass
class PublishReport:
    styles: int = 0
    projects: list[str] = field(default_factory=list)


def style_source() -> QmlFor:
    """``iocgis.styles.qml_for``: the one style system (the styles package owns it)."""
    try:
        from iocgis.styles import qml_for
    except ImportError as exc:
        raise ConfigError("the styles package offers no qml_for(layer_id)", where="iocgis.styles",
                          hint="update the checkout; QML is generated from styles/") from exc
    return qml_for


def publish_styles(conn: psycopg.Connection, registry: Registry,
                   qml_for: QmlFor) -> int:
    """One default style row per layer table and masked view (ours replaced, others kept)."""
    dbname = conn.execute("SELECT current_database()").fetchone()[0]
    count = 0
    for layer in registry.spatial():
        # the position, and a layer's footprints as a polygon layer of their own column
        styled = [(column, kind, qml_for(layer.id, column=column) if column != "geom"
                   else qml_for(layer.id)) for column, kind in geometry_layers(layer)]
        for *_, qml in styled:
            ET.fromstring(qml.encode("utf-8"))  # a broken QML fails here, naming the layer
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
            for column, kind, qml in styled:
                conn.execute(
                    "INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, "
                    "f_table_name, f_geometry_column, styleName, styleQML, useAsDefault, "
                    "description, type) VALUES (%s, %s, %s, %s, %s, XMLPARSE(DOCUMENT %s), true, "
                    "%s, %s)",
                    # QGIS matches ``type`` against the geometry kind (Point, Line, Polygon).
                    (dbname, schema, table, column, f"{layer.id} (iocgis)", qml,
                     STYLE_DESCRIPTION, kind))
                count += 1
    return count


def qgz(name: str, qgs: str) -> bytes:
    """The zipped project QGIS stores (.qgz: the .qgs inside)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.qgs", qgs.encode("utf-8"))
    return buffer.getvalue()


def province_extent(conn: psycopg.Connection, registry: Registry) -> Extent | None:
    """The extent of the province boundaries (the projects open on it), None while empty."""
    boxes = []
    for layer in registry.spatial():
        if layer.admin_level == "province":
            boxes.append(conn.execute(sql.SQL(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(geom) AS e FROM {}) AS extent WHERE e IS NOT NULL").format(
                sql.Identifier(layer.schema_name, layer.table_name))).fetchone())
    boxes = [box for box in boxes if box]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def publish(conn: psycopg.Connection, registry: Registry, settings: SecuritySettings,
            qml_for: QmlFor | None = None) -> PublishReport:
    """Styles into layer_styles, a project per role into qgis_projects (one transaction)."""
    qml_for = qml_for or style_source()
    report = PublishReport()
    with conn.transaction():
        conn.execute(LAYER_STYLES_DDL)
        conn.execute(QGIS_PROJECTS_DDL)
        report.styles = publish_styles(conn, registry, qml_for)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        extent = province_extent(conn, registry)
        for role in ROLE_RIGHTS:
            name = project_name(role)
            content = qgz(name, project_qgs(registry, get_themes(), role, settings.qgis_service,
                                            qml_for, extent))
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

"""Live facts about each layer (extent, time range, version, last import) read from ``meta``.

The pygeoapi configuration carries extents from the data, so it is regenerated whenever these
facts change; ``fingerprint`` is the cheap query the server polls to notice that.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from iocgis.access import SYSTEM, plan_for
from iocgis.access.database import reading_on
from iocgis.layers import Registry

log = logging.getLogger("iocgis.api.ogc")

# Changes whenever an import, rollback or migration touches a layer's catalog row.
# What the generated documents are made of: an import or rollback (last_import_id), extents and
# time spans. Not data_version: live edits (alarm levels, incidents, citizen reports) bump it
# several times a second in an emergency, and the documents do not change with them (before,
# each bump made the next OGC request in every worker regenerate every level: ~0.7 s).
FINGERPRINT_SQL = """
SELECT md5(coalesce(string_agg(id || ':' || coalesce(last_import_id, 0)
                               || ':' || coalesce(ST_AsText(extent), '') || ':'
                               || coalesce(temporal_min::text, '') || ':'
                               || coalesce(temporal_max::text, ''), ',' ORDER BY id), ''))
FROM meta.layers
"""


@dataclass(frozen=True)
class LayerFacts:
    layer_id: str
    bbox: tuple[float, float, float, float] | None
    temporal: tuple[datetime | None, datetime | None] | None
    data_version: int
    row_count: int
    last_import_at: datetime | None
    cadence: timedelta | None


def registry_fingerprint(registry: Registry) -> str:
    digest = hashlib.sha256()
    for group in registry.groups:
        digest.update(group.model_dump_json().encode())
    return digest.hexdigest()[:16]


def read_fingerprint(conn: psycopg.Connection) -> str:
    row = conn.execute(FINGERPRINT_SQL).fetchone()
    return str(row[0]) if row else ""


def read_facts(conn: psycopg.Connection, registry: Registry,
               role_prefix: str) -> dict[str, LayerFacts]:
    """Facts per layer; extents missing from ``meta.layers`` (rows loaded by other means than
    the importers) are measured on the table by the platform itself (``access.SYSTEM``)."""
    rows = conn.execute(
        "SELECT id, ST_XMin(extent), ST_YMin(extent), ST_XMax(extent), ST_YMax(extent), "
        "temporal_min, temporal_max, data_version, row_count, last_import_at, cadence "
        "FROM meta.layers").fetchall()
    by_id = {row[0]: row for row in rows}
    facts = {}
    for layer in registry:
        row = by_id.get(layer.id)
        bbox = tuple(row[1:5]) if row and row[1] is not None else None
        temporal = (row[5], row[6]) if row and (row[5] or row[6]) else None
        if (layer.is_spatial and bbox is None) or (layer.temporal and temporal is None):
            with reading_on(conn, plan_for(SYSTEM, layer, registry), role_prefix,
                            what="catalogue"):
                if layer.is_spatial and bbox is None:
                    bbox = _measured_extent(conn, layer.schema_name, layer.table_name)
                if layer.temporal and temporal is None:
                    temporal = _measured_time(conn, layer.schema_name, layer.table_name,
                                              layer.temporal)
        facts[layer.id] = LayerFacts(
            layer_id=layer.id, bbox=bbox, temporal=temporal,  # type: ignore[arg-type]
            data_version=int(row[7]) if row else 0, row_count=int(row[8]) if row else 0,
            last_import_at=row[9] if row else None, cadence=row[10] if row else layer.cadence)
    return facts


def _measured_extent(conn: psycopg.Connection, schema: str, table: str) -> tuple[float, ...] | None:
    try:
        row = conn.execute(sql.SQL(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom) AS e FROM {}) AS x").format(sql.Identifier(schema, table))).fetchone()
    except psycopg.errors.UndefinedTable:
        log.warning("table %s.%s is missing; run `iocgis db migrate`", schema, table)
        return None
    return tuple(float(v) for v in row) if row and row[0] is not None else None


def _measured_time(conn: psycopg.Connection, schema: str, table: str,
                   column: str) -> tuple[datetime | None, datetime | None] | None:
    try:
        row = conn.execute(sql.SQL("SELECT min({c}), max({c}) FROM {t}").format(
            c=sql.Identifier(column), t=sql.Identifier(schema, table))).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return (row[0], row[1]) if row and row[0] is not None else None

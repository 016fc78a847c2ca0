"""OGC API – Records: a catalogue of every layer the caller may see, with freshness and quality.

One record per layer (and one per planning dossier and document the caller may read, from
``iocgis.planning_docs.catalog``): its titles and descriptions in Vietnamese and English, keywords, extent,
fields (personal-data fields only for callers with that right), sensitivity, freshness (the last
import against the layer's update cadence) and a quality summary of the last import (counts per
quality dimension, never example values, which could be personal data).

The catalogue takes the parameters of a feature collection, checked by the same parser
(``params.parse_items_query`` with the catalogue as its target): ``bbox`` (+ ``bbox-crs``),
``datetime`` (on ``updated``, the catalogue's time field), ``q``, ``<queryable>=<value>``,
``filter`` in CQL2 text or JSON (+ ``filter-crs``), ``sortby``, ``properties``,
``skipGeometry``, ``crs``, ``resulttype`` and ``limit``/``offset``. Records are few (one per
layer), so they are built in Python; the spatial and CQL2 parts run in PostGIS over the
records' values through the features' own CQL2 compiler, so both answer the same language.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from psycopg import sql
from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError

from iocgis.access import can_see, current_caller, visible_fields
from iocgis.api.ogc import links as ogc_links
from iocgis.api.ogc.config import CATALOG_ID
from iocgis.api.ogc.crs import CRS84
from iocgis.api.ogc.features_sql import envelope, geometry_output
from iocgis.api.ogc.params import ITEM_PARAMETERS, ItemsQuery, nfc, parse_items_query
from iocgis.api.ogc.pool import get_pool
from iocgis.api.ogc.provider import JSON_TYPES, arguments_as_params, checked_or_invalid, run_query
from iocgis.api.ogc.pygeoapi_seams import checked_request
from iocgis.layers import LayerDef, get_registry
from iocgis.layers.model import OPEN_LICENCES, Code, FieldDef, Text
from iocgis.layers.types import STORAGE_SRID, field_type
from iocgis.planning_docs import catalog as planning_catalog
from iocgis.sharing.open_data import FORMATS as OPEN_FORMATS

# The queryables of a record, as registry field definitions so that the parser, the CQL2
# compiler and the OpenAPI document treat them exactly like a layer's fields.
_SENSITIVITIES = (Code(code="public", vi="Công khai", en="Public"),
                  Code(code="internal", vi="Nội bộ", en="Internal"),
                  Code(code="restricted", vi="Mật", en="Restricted"))
_FRESHNESS = (Code(code="fresh", vi="Còn mới", en="Fresh"),
              Code(code="stale", vi="Quá hạn cập nhật", en="Stale"),
              Code(code="never_imported", vi="Chưa nhập", en="Never imported"))
CATALOG_FIELDS: dict[str, FieldDef] = {f.name: f for f in (
    FieldDef(name="type", type="text", title=Text(vi="Loại bản ghi", en="Record type"),
             domain=(Code(code="dataset", vi="Bộ dữ liệu", en="Dataset"),
                     Code(code="dossier", vi="Hồ sơ quy hoạch", en="Planning dossier"),
                     Code(code="document", vi="Tài liệu quy hoạch", en="Planning document"))),
    FieldDef(name="title", type="text", title=Text(vi="Tiêu đề", en="Title")),
    FieldDef(name="description", type="text", title=Text(vi="Mô tả", en="Description")),
    FieldDef(name="group", type="text", title=Text(vi="Nhóm lớp", en="Layer group")),
    FieldDef(name="sensitivity", type="text", title=Text(vi="Mức độ mật", en="Sensitivity"),
             domain=_SENSITIVITIES),
    FieldDef(name="freshness", type="text", title=Text(vi="Độ cập nhật", en="Freshness"),
             domain=_FRESHNESS),
    FieldDef(name="updated", type="timestamptz",
             title=Text(vi="Cập nhật lúc", en="Last updated")),
)}
CATALOG_TIME_FIELD = "updated"
# What pygeoapi needs of the fields (its queryables and OpenAPI parameters).
RECORD_FIELDS: dict[str, dict[str, Any]] = {
    name: {**JSON_TYPES[f.type], "title": f.title.vi,
           **({"values": [c.code for c in f.domain]} if isinstance(f.domain, tuple) else {})}
    for name, f in CATALOG_FIELDS.items()}
# Parameters of /collections/catalog/items besides the queryables (paging by offset: there is
# one record per layer, so no cursor).
CATALOG_PARAMETERS = tuple(p for p in ITEM_PARAMETERS if p != "cursor")
SEARCHED_PROPERTIES = ("title", "description", "title_en", "description_en")
LAYER_FACTS_SQL = ("SELECT id, ST_XMin(extent), ST_YMin(extent), ST_XMax(extent), ST_YMax(extent), "
                   "temporal_min, temporal_max, row_count, last_import_at, source_date, "
                   "data_version, updated_at, cadence FROM meta.layers")
LAST_IMPORTS_SQL = (
    "SELECT DISTINCT ON (layer_id) layer_id, id, status, mode, finished_at, rows_in, rows_loaded, "
    "rows_fixed, rows_rejected, report->'findings' FROM meta.imports WHERE NOT dry_run "
    "ORDER BY layer_id, started_at DESC")


class CatalogTarget:
    """The catalogue as something ``parse_items_query`` checks parameters against."""

    id = CATALOG_ID
    is_spatial = True  # a record's geometry is its layer's extent
    temporal: str | None = CATALOG_TIME_FIELD

    def field(self, name: str) -> FieldDef:
        return CATALOG_FIELDS[name]


CATALOG = CatalogTarget()


def parse_catalog_query(raw_params: list[tuple[str, str]], body: bytes = b"",
                        content_type: str = "") -> ItemsQuery:
    """Every parameter of ``/collections/catalog/items``, checked like a layer's."""
    return parse_items_query(CATALOG, tuple(CATALOG_FIELDS), raw_params, body, content_type,
                             allowed=CATALOG_PARAMETERS)


def iso_duration(delta: timedelta) -> str:
    days, seconds = delta.days, delta.seconds
    if days or not seconds:
        return f"P{days}D" + (f"T{seconds}S" if seconds else "")
    return f"PT{seconds}S"


def freshness(layer: LayerDef, last_import_at: datetime | None, now: datetime,
              cadence: timedelta | None = None) -> dict[str, Any]:
    """Fresh while the last import is younger than the layer's update cadence: the registry's,
    or the shorter one of a source that feeds it (``meta.layers.cadence``, kept by
    importers/connectors: a source failing beyond its cadence makes the layer stale)."""
    cadence = min(layer.cadence, cadence or layer.cadence)
    info: dict[str, Any] = {"cadence": iso_duration(cadence), "lastImportAt": None}
    if last_import_at is None:
        return {**info, "status": "never_imported"}
    due = last_import_at + cadence
    return {**info, "status": "fresh" if now <= due else "stale",
            "lastImportAt": last_import_at.isoformat(), "dueAt": due.isoformat(),
            "ageDays": round((now - last_import_at).total_seconds() / 86400, 1)}


def quality(last_import: tuple | None) -> dict[str, Any] | None:
    if last_import is None:
        return None
    _, import_id, status, mode, finished, rows_in, loaded, fixed, rejected, findings = last_import
    by_dimension: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    for finding in findings or []:
        count = int(finding.get("count") or 0)
        dimension, severity = finding.get("dimension", "?"), finding.get("severity", "?")
        by_dimension[dimension] = by_dimension.get(dimension, 0) + count
        by_severity[severity] = by_severity.get(severity, 0) + count
    return {"importId": import_id, "status": status, "mode": mode,
            "finishedAt": finished.isoformat() if finished else None,
            "rowsIn": rows_in, "rowsLoaded": loaded, "rowsFixed": fixed, "rowsRejected": rejected,
            "findingsByDimension": by_dimension, "findingsBySeverity": by_severity}


def _bbox_polygon(bbox: tuple[float, ...]) -> dict[str, Any]:
    x1, y1, x2, y2 = bbox
    return {"type": "Polygon", "coordinates": [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]}


def layer_record(layer: LayerDef, facts: tuple | None, last_import: tuple | None,
                 fields: tuple[str, ...], now: datetime, base_url: str) -> dict[str, Any]:
    bbox = tuple(facts[1:5]) if facts and facts[1] is not None else None
    last_import_at = facts[8] if facts else None
    cadence = facts[12] if facts else None
    updated = last_import_at or (facts[11] if facts else None)
    collection = f"{base_url}/collections/{layer.id}"
    links = [
        # the record describes the layer's collection (rel "collection" is the catalogue)
        {"rel": "describes", "type": "application/json", "title": layer.title.vi,
         "href": collection},
        {"rel": "items", "type": "application/geo+json", "title": "Dữ liệu / features",
         "href": f"{collection}/items"},
    ]
    if layer.tiles:
        links.append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                      "type": "application/json", "title": "Tiles", "href": f"{collection}/tiles"})
    if layer.open:  # open data: its bulk downloads (iocgis/sharing/open_data.py) and licence
        links += [{"rel": "enclosure", "type": media, "title": f"{title} (dữ liệu mở / open data)",
                   "href": f"{base_url}/open-data/{layer.id}.{fmt}"}
                  for fmt, (_, media, title) in OPEN_FORMATS.items()]
        links.append({"rel": "license", "type": "text/html", "title": layer.open.licence,
                      "href": OPEN_LICENCES[layer.open.licence]})
    temporal = None
    if facts and (facts[5] or facts[6]):
        temporal = [facts[5].isoformat() if facts[5] else None,
                    facts[6].isoformat() if facts[6] else None]
    return {
        "id": layer.id, "type": "Feature", "geometry": _bbox_polygon(bbox) if bbox else None,
        "time": {"interval": temporal} if temporal else None,
        "properties": {
            "type": "dataset", "title": layer.title.vi, "description": layer.description.vi,
            "title_en": layer.title.en, "description_en": layer.description.en,
            "keywords": list(layer.keywords), "language": {"code": "vi"},
            "themes": [{"concepts": [{"id": layer.group}], "scheme": "iocgis:layer-groups"}],
            "group": layer.group, "sensitivity": layer.sensitivity,
            "geometryType": layer.geometry, "rowCount": facts[7] if facts else 0,
            "sourceDate": facts[9].isoformat() if facts and facts[9] else None,
            "dataVersion": facts[10] if facts else 0,
            "updated": updated.isoformat() if updated else None,
            "fields": [{"name": name, **JSON_TYPES[layer.field(name).type],
                        "title": layer.field(name).title.vi, "title_en": layer.field(name).title.en}
                       for name in fields],
            "freshness": freshness(layer, last_import_at, now, cadence)["status"],
            "freshnessDetail": freshness(layer, last_import_at, now, cadence),
            "quality": quality(last_import),
            "license": layer.open.licence if layer.open else "internal use",
            "openData": layer.open is not None,
        },
        "links": links,
    }


def record_value(record: dict[str, Any], name: str) -> Any:
    """A queryable of a record, typed as its field (``updated`` as a datetime)."""
    value = record["properties"].get(name)
    if value is not None and CATALOG_FIELDS[name].type == "timestamptz":
        return datetime.fromisoformat(value)
    return value


def _in_interval(moment: datetime | None,
                 interval: tuple[datetime | None, datetime | None]) -> bool:
    # Features Part 1, /req/core/fc-time-response C: a record without a time matches too.
    if moment is None:
        return True
    start, end = interval
    return (start is None or moment >= start) and (end is None or moment <= end)


def _searchable(record: dict[str, Any]) -> str:
    p = record["properties"]
    return nfc(" ".join([record["id"], *(p[name] for name in SEARCHED_PROPERTIES),
                         *p["keywords"]])).casefold()


def matches_simply(record: dict[str, Any], query: ItemsQuery) -> bool:
    """The conditions answered in Python: ``<queryable>=``, ``q`` and ``datetime``."""
    if any(record_value(record, name) != value for name, value in query.equals):
        return False
    if query.q and not any(term.casefold() in _searchable(record) for term in query.q):
        return False
    if query.interval is not None and \
            not _in_interval(record_value(record, CATALOG_TIME_FIELD), query.interval):
        return False
    return True


def spatial_sql(records: list[dict[str, Any]],
                query: ItemsQuery) -> tuple[sql.Composable, dict[str, Any]]:
    """The ids of the records that pass ``bbox`` and ``filter``, with their geometry in the
    requested CRS: PostGIS evaluates over the records' values with the features' compiler."""
    rows = [{**{name: record["properties"].get(name) for name in CATALOG_FIELDS},
             "id": record["id"], "bbox": list(_record_bbox(record) or ())} for record in records]
    columns = sql.SQL(", ").join(
        [sql.SQL("id text"), sql.SQL("bbox float8[]")] +
        [sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(field_type(f.type).sql))
         for name, f in CATALOG_FIELDS.items()])
    params: dict[str, Any] = {"records": json.dumps(rows)}
    where: list[sql.Composable] = []
    if query.bbox is not None:
        b = query.bbox
        names = ("bx1", "by1", "bx2", "by2")
        params.update(zip(names, (b.minx, b.miny, b.maxx, b.maxy)))
        box = envelope([sql.Placeholder(n) for n in names], b.crs,
                       max(b.maxx - b.minx, b.maxy - b.miny))
        where.append(sql.SQL("ST_Intersects(geom, {})").format(box))
    if query.filter_sql is not None:
        params.update(query.filter_params)
        where.append(query.filter_sql)
    output = sql.SQL("NULL") if query.skip_geometry else geometry_output(query.crs)
    statement = sql.SQL(
        "SELECT id, {output} FROM (SELECT r.*, CASE WHEN cardinality(r.bbox) = 4 THEN "
        "ST_MakeEnvelope(r.bbox[1], r.bbox[2], r.bbox[3], r.bbox[4], {srid}) END AS geom "
        "FROM jsonb_to_recordset({records}::jsonb) AS r({columns})) AS records{where}"
    ).format(output=output, records=sql.Placeholder("records"), columns=columns,
             srid=sql.Literal(STORAGE_SRID),
             where=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""))
    return statement, params


def _record_bbox(record: dict[str, Any]) -> tuple[float, float, float, float] | None:
    geometry = record["geometry"]
    if not geometry:
        return None
    ring = geometry["coordinates"][0]
    return ring[0][0], ring[0][1], ring[2][0], ring[2][1]


def sort_records(records: list[dict[str, Any]], query: ItemsQuery) -> list[dict[str, Any]]:
    """Registry order by default; ``sortby`` keys in turn, empty values last either way."""
    for name, descending in reversed(query.sortby):
        present = [r for r in records if record_value(r, name) is not None]
        absent = [r for r in records if record_value(r, name) is None]
        records = sorted(present, key=lambda r, n=name: record_value(r, n),
                         reverse=descending) + absent
    return records


def page_links(query: ItemsQuery, matched: int, base_url: str,
               format_: str = "json") -> list[dict[str, str]]:
    """Self and alternates with every parameter, next and prev (by offset)."""
    base = f"{base_url}/collections/{CATALOG_ID}/items"
    kept = [(k, v) for k, v in query.params if k != "offset"]
    links = ogc_links.format_links(base, query.params, format_, ogc_links.FEATURE_FORMATS)
    if query.offset + query.limit < matched:
        following = str(query.offset + query.limit)
        links.append({"rel": "next", "type": "application/geo+json", "title": "Trang sau / next",
                      "href": f"{base}?{urlencode([*kept, ('offset', following)])}"})
    if query.offset > 0:
        previous = str(max(0, query.offset - query.limit))
        links.append({"rel": "prev", "type": "application/geo+json",
                      "title": "Trang trước / previous",
                      "href": f"{base}?{urlencode([*kept, ('offset', previous)])}"})
    return links


def select_properties(record: dict[str, Any], query: ItemsQuery) -> dict[str, Any]:
    if query.properties is None:
        return record
    return {**record, "properties": {k: v for k, v in record["properties"].items()
                                     if k in query.properties}}


class CatalogProvider(BaseProvider):
    """The layer catalogue as OGC API – Records (``data: {pool: <key>, level: <sensitivity>}``)."""

    def __init__(self, provider_def: dict) -> None:
        super().__init__(provider_def)
        self.base_url = self.data["base_url"]

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        return RECORD_FIELDS

    def get_fields(self) -> dict[str, dict[str, Any]]:
        return RECORD_FIELDS

    def _records(self) -> list[dict[str, Any]]:
        caller = current_caller()
        layers = [layer for layer in get_registry() if can_see(caller, layer)]
        with get_pool(self.data["pool"]).connection() as conn:
            facts = {row[0]: row for row in run_query(conn, LAYER_FACTS_SQL, {})}
            imports = {row[0]: row for row in run_query(conn, LAST_IMPORTS_SQL, {})}
        now = datetime.now(UTC)
        return [layer_record(layer, facts.get(layer.id), imports.get(layer.id),
                             visible_fields(caller, layer), now, self.base_url)
                for layer in layers]

    def _spatial(self, records: list[dict[str, Any]], query: ItemsQuery) -> list[dict[str, Any]]:
        if query.bbox is None and query.filter_sql is None and (
                query.crs == CRS84 or query.skip_geometry):
            return records
        statement, params = spatial_sql(records, query)
        with get_pool(self.data["pool"]).connection() as conn:
            answered = {row[0]: row[1] for row in run_query(conn, statement, params)}
        kept = [r for r in records if r["id"] in answered]
        if query.crs != CRS84 and not query.skip_geometry:
            kept = [{**r, "geometry": json.loads(answered[r["id"]]) if answered[r["id"]] else None}
                    for r in kept]
        return kept

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results",
              **kwargs: Any) -> dict[str, Any]:
        current = checked_request(CATALOG_ID)
        if current is not None and current.items is not None:
            query = current.items
        else:  # not through the adapter: pygeoapi's arguments, checked by the same parser
            params = arguments_as_params(
                offset, limit, resulttype, kwargs.get("bbox"), kwargs.get("datetime_"),
                kwargs.get("properties"), kwargs.get("sortby"), kwargs.get("select_properties"),
                bool(kwargs.get("skip_geometry")), kwargs.get("q"), kwargs.get("filterq"), None)
            query = checked_or_invalid(parse_catalog_query, params)
        records = [r for r in self._records() if matches_simply(r, query)]
        # Planning dossiers and documents: q through their own text index, the rest as above.
        with get_pool(self.data["pool"]).connection() as conn:
            planning = planning_catalog.records(conn, current_caller(), self.base_url, query.q)
        without_q = dataclasses.replace(query, q=())
        records += [r for r in planning if matches_simply(r, without_q)]
        records = sort_records(self._spatial(records, query), query)
        matched = len(records)
        page = [] if query.hits else records[query.offset:query.offset + query.limit]
        if query.skip_geometry:
            page = [{**r, "geometry": None} for r in page]
        return {"type": "FeatureCollection",
                "features": [select_properties(r, query) for r in page],
                "numberMatched": matched, "numberReturned": len(page),
                "links": [] if query.hits else page_links(
                    query, matched, self.base_url, current.format if current else "json")}

    def get(self, identifier: Any, **kwargs: Any) -> dict[str, Any]:
        for record in self._records():
            if record["id"] == str(identifier):
                return record
        with get_pool(self.data["pool"]).connection() as conn:
            found = planning_catalog.record(conn, current_caller(), self.base_url,
                                            str(identifier))
        if found is not None:
            return found
        raise ProviderItemNotFoundError(user_msg=f"no catalogue record {str(identifier)[:60]!r}")

    def __repr__(self) -> str:
        return "<CatalogProvider>"


"""OGC API – Records: a catalogue of every layer the caller may see, with freshness and quality.

One record per layer: its titles and descriptions in Vietnamese and English, keywords, extent,
fields (personal-data fields only for callers with that right), sensitivity, freshness (the last
import against the layer's update cadence) and a quality summary of the last import (counts per
quality dimension, never example values, which could be personal data).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pygeoapi.provider.base import BaseProvider, ProviderItemNotFoundError

from iocgis.access import can_see, current_caller, visible_fields
from iocgis.api.ogc.context import BASE_URL_TOKEN
from iocgis.api.ogc.pool import get_pool
from iocgis.api.ogc.provider import JSON_TYPES, run_query, set_base_attributes
from iocgis.layers import LayerDef, get_registry

RECORD_FIELDS: dict[str, dict[str, Any]] = {
    "type": {"type": "string", "title": "Loại bản ghi"},
    "title": {"type": "string", "title": "Tiêu đề"},
    "description": {"type": "string", "title": "Mô tả"},
    "group": {"type": "string", "title": "Nhóm lớp"},
    "sensitivity": {"type": "string", "title": "Mức độ mật",
                    "values": ["public", "internal", "restricted"]},
    "freshness": {"type": "string", "title": "Độ cập nhật",
                  "values": ["fresh", "stale", "never_imported"]},
    "updated": {"type": "string", "format": "date-time", "title": "Cập nhật lúc"},
}
LAYER_FACTS_SQL = ("SELECT id, ST_XMin(extent), ST_YMin(extent), ST_XMax(extent), ST_YMax(extent), "
                   "temporal_min, temporal_max, row_count, last_import_at, source_date, "
                   "data_version, updated_at FROM meta.layers")
LAST_IMPORTS_SQL = (
    "SELECT DISTINCT ON (layer_id) layer_id, id, status, mode, finished_at, rows_in, rows_loaded, "
    "rows_fixed, rows_rejected, report->'findings' FROM meta.imports WHERE NOT dry_run "
    "ORDER BY layer_id, started_at DESC")


def iso_duration(delta: timedelta) -> str:
    days, seconds = delta.days, delta.seconds
    return f"P{days}D" + (f"T{seconds}S" if seconds else "") if days or not seconds else f"PT{seconds}S"


def freshness(layer: LayerDef, last_import_at: datetime | None, now: datetime) -> dict[str, Any]:
    """Fresh while the last import is younger than the layer's update cadence."""
    info: dict[str, Any] = {"cadence": iso_duration(layer.cadence), "lastImportAt": None}
    if last_import_at is None:
        return {**info, "status": "never_imported"}
    due = last_import_at + layer.cadence
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
        by_dimension[finding.get("dimension", "?")] = by_dimension.get(finding.get("dimension", "?"), 0) + count
        by_severity[finding.get("severity", "?")] = by_severity.get(finding.get("severity", "?"), 0) + count
    return {"importId": import_id, "status": status, "mode": mode,
            "finishedAt": finished.isoformat() if finished else None,
            "rowsIn": rows_in, "rowsLoaded": loaded, "rowsFixed": fixed, "rowsRejected": rejected,
            "findingsByDimension": by_dimension, "findingsBySeverity": by_severity}


def layer_record(layer: LayerDef, facts: tuple | None, last_import: tuple | None,
                 fields: tuple[str, ...], now: datetime) -> dict[str, Any]:
    bbox = facts[1:5] if facts and facts[1] is not None else None
    geometry = None
    if bbox:
        x1, y1, x2, y2 = bbox
        geometry = {"type": "Polygon",
                    "coordinates": [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]}
    last_import_at = facts[8] if facts else None
    updated = last_import_at or (facts[11] if facts else None)
    collection = f"{BASE_URL_TOKEN}/collections/{layer.id}"
    links = [
        {"rel": "collection", "type": "application/json", "title": layer.title.vi, "href": collection},
        {"rel": "items", "type": "application/geo+json", "title": "Dữ liệu / features",
         "href": f"{collection}/items"},
    ]
    if layer.tiles:
        links.append({"rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                      "type": "application/json", "title": "Tiles", "href": f"{collection}/tiles"})
    temporal = [facts[5].isoformat() if facts[5] else None,
                facts[6].isoformat() if facts[6] else None] if facts and (facts[5] or facts[6]) else None
    return {
        "id": layer.id, "type": "Feature", "geometry": geometry,
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
            "freshness": freshness(layer, last_import_at, now)["status"],
            "freshnessDetail": freshness(layer, last_import_at, now),
            "quality": quality(last_import),
            "license": "CC-BY-4.0" if layer.sensitivity == "public" else "internal use",
        },
        "links": links,
    }


class CatalogProvider(BaseProvider):
    """The layer catalogue as OGC API – Records (``data: {pool: <key>, level: <sensitivity>}``)."""

    def __init__(self, provider_def: dict) -> None:
        set_base_attributes(self, provider_def)
        self._fields = RECORD_FIELDS

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        return self._fields

    def get_fields(self) -> dict[str, dict[str, Any]]:
        return self._fields

    def _records(self) -> list[dict[str, Any]]:
        caller = current_caller()
        layers = [layer for layer in get_registry() if can_see(caller, layer)]
        with get_pool(self.data["pool"]).connection() as conn:
            facts = {row[0]: row for row in run_query(conn, LAYER_FACTS_SQL, {})}
            imports = {row[0]: row for row in run_query(conn, LAST_IMPORTS_SQL, {})}
        now = datetime.now(timezone.utc)
        return [layer_record(layer, facts.get(layer.id), imports.get(layer.id),
                             visible_fields(caller, layer), now) for layer in layers]

    def query(self, offset: int = 0, limit: int = 10, resulttype: str = "results",
              bbox: list | None = None, datetime_: str | None = None,
              properties: list | None = None, sortby: list | None = None,
              q: str | None = None, **kwargs: Any) -> dict[str, Any]:
        records = self._records()
        if bbox:
            x1, y1, x2, y2 = bbox[:4] if len(bbox) == 4 else (bbox[0], bbox[1], bbox[3], bbox[4])
            records = [r for r in records if r["geometry"] and _overlaps(r["geometry"], x1, y1, x2, y2)]
        for name, value in properties or []:
            records = [r for r in records if str(r["properties"].get(name)) == str(value)]
        if q:
            terms = [t.strip().lower() for t in q.split(",") if t.strip()]
            records = [r for r in records if any(t in _searchable(r) for t in terms)]
        for sort in reversed(sortby or []):
            records.sort(key=lambda r: str(r["properties"].get(sort["property"]) or ""),
                         reverse=sort["order"] == "-")
        matched = len(records)
        page = records[offset:offset + limit]
        if resulttype == "hits":
            page = []
        return {"type": "FeatureCollection", "features": page, "numberMatched": matched,
                "numberReturned": len(page)}

    def get(self, identifier: Any, **kwargs: Any) -> dict[str, Any]:
        for record in self._records():
            if record["id"] == str(identifier):
                return record
        raise ProviderItemNotFoundError(user_msg=f"no catalogue record {str(identifier)[:60]!r}")

    def __repr__(self) -> str:
        return "<CatalogProvider>"


def _overlaps(geometry: dict, x1: float, y1: float, x2: float, y2: float) -> bool:
    ring = geometry["coordinates"][0]
    gx1, gy1, gx2, gy2 = ring[0][0], ring[0][1], ring[2][0], ring[2][1]
    return not (gx2 < x1 or gx1 > x2 or gy2 < y1 or gy1 > y2)


def _searchable(record: dict[str, Any]) -> str:
    p = record["properties"]
    return " ".join([record["id"], p["title"], p["description"], p["title_en"],
                     p["description_en"], *p["keywords"]]).lower()

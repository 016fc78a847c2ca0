"""The OpenAPI 3.0 paths of the EDR collection (``live/edr.py``), joined to the document
pygeoapi serves (``api/ogc/service.py``) for each level whose callers may read it; its
parameters are the ones the routes accept (an unknown one is refused with a 400)."""

from __future__ import annotations

import copy
from typing import Any

from iocgis.access import level_caller
from iocgis.api.ogc.openapi import EXCEPTION_SCHEMA
from iocgis.layers import Registry
from iocgis.live.edr import COLLECTION, COVJSON, FORMATS, GEOJSON, parameter_codes, visible

TAG = "Environmental data (EDR)"


def _query(name: str, description: str, schema: dict[str, Any], *,
           required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema, "style": "form", "explode": False}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": EXCEPTION_SCHEMA}}}


def _get(summary: str, parameters: list[dict[str, Any]], media: list[str],
         operation: str) -> dict[str, Any]:
    return {"get": {
        "summary": summary, "tags": [TAG], "operationId": operation, "parameters": parameters,
        "responses": {
            "200": {"description": summary,
                    "content": {m: {"schema": {"type": "object"}} for m in media}},
            "400": _error("a parameter is wrong; the body says which and how to fix it"),
            "404": _error("no such station (or not visible to the caller)"),
            "413": _error("too many stations or readings: narrow coords or datetime")}}}


def paths(registry: Registry) -> dict[str, Any]:
    codes = sorted(parameter_codes(registry))
    names = _query("parameter-name", "parameters, comma-separated: " + ", ".join(codes),
                   {"type": "string", "pattern": "^(" + "|".join(codes) + ")(,("
                    + "|".join(codes) + "))*$"})
    when = _query("datetime", "an instant or interval (RFC 3339), open ends '..', e.g. "
                  "2026-11-10T00:00:00Z/..", {"type": "string"})
    series = _query("f", "CoverageJSON (PointSeries, the default) or GeoJSON",
                    {"type": "string", "enum": ["CoverageJSON", "GeoJSON"]})
    point = _query("coords", "a point, WKT in CRS84: POINT(lon lat)",
                   {"type": "string", "example": "POINT(106.83 10.95)"}, required=True)
    polygon = _query("coords", "a polygon, WKT in CRS84",
                     {"type": "string", "example": "POLYGON((106.8 10.9,106.9 10.9,106.9 11,"
                      "106.8 11,106.8 10.9))"}, required=True)
    station = {"name": "station", "in": "path", "required": True,
               "description": "the station code", "schema": {"type": "string"}}
    media = sorted(set(FORMATS.values()))
    base = f"/collections/{COLLECTION}"
    return {
        base: _get("the EDR collection: its queries and parameters", [],
                   ["application/json"], "describeTimeseries"),
        f"{base}/position": _get("the nearest station's series", [point, when, names, series],
                                 media, "queryTimeseriesPosition"),
        f"{base}/area": _get("the series of the stations inside", [polygon, when, names,
                                                                    series],
                             media, "queryTimeseriesArea"),
        f"{base}/items": _get("the stations (GeoJSON)", [names, _query(
            "f", "GeoJSON", {"type": "string", "enum": ["GeoJSON"]})], [GEOJSON],
            "getTimeseriesLocations"),
        f"{base}/items/{{station}}": _get("one station's series", [station, when, names,
                                                                  series],
                                          [COVJSON, GEOJSON], "getTimeseriesLocation"),
    }


def merge_into(document: dict[str, Any], level: str, registry: Registry) -> dict[str, Any]:
    """The document with the EDR paths, when callers of ``level`` may read the collection."""
    if not visible(level_caller(level, f"openapi-{level}"), registry):
        return document
    merged = copy.deepcopy(document)
    merged.setdefault("paths", {}).update(paths(registry))
    tags = merged.setdefault("tags", [])
    if not any(t.get("name") == TAG for t in tags):
        tags.append({"name": TAG, "description": "Chuỗi số liệu quan trắc / station time "
                     "series (OGC API - EDR)"})
    return merged

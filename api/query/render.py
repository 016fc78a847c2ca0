"""Query results as JSON (default), CSV or one GeoJSON FeatureCollection.

The JSON body is assembled around the FeatureCollections PostgreSQL already wrote, so large
pages are never parsed and re-serialised in Python. Text is real UTF-8 (no ``\\u`` escapes).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from iocgis.api.kit.responses import dumps
from iocgis.api.query.engine import LayerResult
from iocgis.api.query.sql import AREA, LENGTH

JSON_TYPE = "application/json"
GEOJSON_TYPE = "application/geo+json"
CSV_TYPE = "text/csv; charset=utf-8"


def json_response(body: str, status: int = 200, media_type: str = JSON_TYPE) -> Response:
    return Response(body.encode("utf-8"), status_code=status, media_type=media_type)


def layers_body(results: Iterable[LayerResult], head: dict[str, Any]) -> str:
    """``{...head, "layers": {key: {"count", "groups", "features"}}}``."""
    parts = []
    for result in results:
        extra = ""
        if result.query.step:  # scenario steps name the layer they read
            extra = f',"layer":{dumps(result.query.layer.id)}'
        parts.append(f'{dumps(result.query.key)}:{{"count":{result.count}{extra},'
                     f'"groups":{dumps(result.groups)},"features":{result.features}}}')
    head_text = dumps(head)[1:-1]
    return "{" + head_text + ("," if head_text else "") + '"layers":{' + ",".join(parts) + "}}"


def geojson_body(results: Iterable[LayerResult]) -> str:
    features: list[Any] = []
    for result in results:
        features += json.loads(result.features)["features"]
    return dumps({"type": "FeatureCollection", "numberReturned": len(features),
                  "features": features})


def csv_text(header: list[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    # A byte-order mark: spreadsheet programs then read the Vietnamese letters as UTF-8.
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return dumps(value)
    return value


def csv_response(text: str, filename: str) -> Response:
    return Response(text.encode("utf-8"), media_type=CSV_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def features_csv(results: list[LayerResult]) -> str:
    """One row per feature of the page: layer, fid, the visible fields, the measures."""
    header = ["layer", "fid"]
    rows: list[dict[str, Any]] = []
    for result in results:
        for name in [f.name for f in result.query.fields]:
            if name not in header:
                header.append(name)
        for row in json.loads(result.features):
            row["layer"] = result.query.layer.id
            for key in row:
                if key not in header:
                    header.append(key)
            rows.append(row)
    return csv_text(header, rows)


def flatten_group(layer_key: str, group: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"layer": layer_key, "key": group.get("key"),
                           "label_vi": (group.get("label") or {}).get("vi"),
                           "label_en": (group.get("label") or {}).get("en"),
                           "count": group.get("count")}
    for section, prefix in (("sum", "sum_"), ("avg", "avg_"), ("true_count", "true_")):
        for name, value in (group.get(section) or {}).items():
            row[prefix + name] = value
    for name in (AREA, LENGTH):
        if name in group:
            row[name] = group[name]
    for name, ratio in (group.get("ratios") or {}).items():
        row[name] = ratio["value"]
        row[f"{name}_target"] = ratio["target"]
        row[f"{name}_status"] = ratio["status"]
    return row


def groups_csv(results: list[LayerResult]) -> str:
    rows = [flatten_group(r.query.key, g) for r in results for g in r.groups]
    header: list[str] = ["layer", "key", "label_vi", "label_en", "count"]
    for row in rows:
        header += [k for k in row if k not in header]
    return csv_text(header, rows)

"""What the OpenAPI document advertises is what the server accepts (issue 12): every parameter of
every items path, sent alone with a valid value, is answered (not refused as unknown or bad),
and every items path lists ``datetime`` and ``q``, which every collection takes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iocgis.access import level_caller

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# Parameters that need another one beside them.
COMPANIONS = {"bbox-crs": {"bbox": "106,10,108,12"}, "filter-lang": {"filter": "{field} IS NULL"},
              "filter-crs": {"filter": "{field} IS NULL"}}
SAMPLES = {"f": "json", "lang": "en", "bbox": "106,10,108,12", "limit": "5", "offset": "1",
           "crs": CRS84, "bbox-crs": CRS84, "filter-crs": CRS84, "properties": "{field}",
           "sortby": "-{field}", "skipGeometry": "true", "datetime": "2025-01-01T00:00:00Z/..",
           "q": "a", "filter": "{field} IS NULL", "filter-lang": "cql2-text", "cursor": "1",
           "resulttype": "hits"}


@pytest.fixture(scope="module")
def document(ogc: httpx.Client) -> dict[str, Any]:
    return ogc.get("/openapi", params={"f": "json"}).json()


def _resolve(document: dict[str, Any], parameter: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in parameter:
        return document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
    return parameter


def _value(parameter: dict[str, Any], field: str) -> str:
    name, schema = parameter["name"], parameter.get("schema", {})
    if name in SAMPLES:
        return SAMPLES[name].format(field=field)
    if schema.get("enum"):
        return str(schema["enum"][0])
    return {"integer": "1", "number": "1.5", "boolean": "true"}.get(
        schema.get("type", ""), {"date-time": "2025-07-15T08:00:00Z", "date": "2025-07-15"}.get(
            schema.get("format", ""), "x"))


# One collection of each kind is sent every parameter; the others must list the same
# parameters (besides their own queryables), so the same checks hold for them.
SENT_EVERYTHING = ("/collections/catalog/items", "/collections/emergency.incidents/items",
                   "/collections/kpi.indicators/items", "/collections/admin.communes/items")


def test_every_advertised_items_parameter_is_accepted(ogc: httpx.Client, document) -> None:  # noqa: ANN001
    # (the EDR collection's items are its locations, with EDR's parameters: tests/live)
    items_paths = [p for p in document["paths"]
                   if p.endswith("/items") and p != "/collections/iot.timeseries/items"]
    assert set(SENT_EVERYTHING) <= set(items_paths) and len(items_paths) > 15
    refused = []
    common: dict[str, set[str]] = {}
    for path in items_paths:
        parameters = [_resolve(document, p) for p in document["paths"][path]["get"]["parameters"]]
        names = {p["name"] for p in parameters}
        assert {"datetime", "q", "bbox", "filter", "limit"} <= names, path
        queryables = ogc.get(path.rsplit("/", 1)[0] + "/queryables").json()["properties"]
        assert set(queryables) - {"geometry"} <= names, path  # every queryable is a parameter
        common[path] = names - set(queryables)
        if path not in SENT_EVERYTHING:
            continue
        field = next(name for name, schema in queryables.items() if schema.get("type"))
        for parameter in parameters:
            name = parameter["name"]
            params = {name: _value(parameter, field),
                      **{k: v.format(field=field) for k, v in COMPANIONS.get(name, {}).items()}}
            response = ogc.get(path, params=params)
            if response.status_code != 200:
                refused.append((path, params, response.status_code, response.text[:160]))
    assert not refused, refused
    layer_parameters = common["/collections/emergency.incidents/items"]
    assert all(names == layer_parameters for path, names in common.items()
               if path != "/collections/catalog/items"), common
    assert common["/collections/catalog/items"] == layer_parameters - {"cursor"}


@pytest.mark.parametrize("level", ["public", "internal", "restricted"])
def test_each_level_documents_the_items_of_every_collection_it_serves(ogc_server, level: str) -> None:  # noqa: ANN001
    """The document of a level lists items (with datetime and q) for each of its collections,
    the internal and restricted ones too, never a personal-data field as a parameter."""
    api = ogc_server.app.state.ogc.api_for(level_caller(level, "test"))
    document = api.openapi
    for collection_id in api.config["resources"]:
        operation = document["paths"][f"/collections/{collection_id}/items"]["get"]
        names = {_resolve(document, p)["name"] for p in operation["parameters"]}
        assert {"datetime", "q", "filter"} <= names, (level, collection_id)
    if level != "public":
        parcels = document["paths"]["/collections/land.parcels/items"]["get"]["parameters"]
        assert "holder_name" not in {_resolve(document, p)["name"] for p in parcels}


def test_the_served_openapi_documents_are_valid_openapi_30(ogc: httpx.Client, ogc_server,  # noqa: ANN001
                                                           document) -> None:  # noqa: ANN001
    """Every level's document (what code generators and Swagger UI read) is valid OpenAPI 3.0
    by an independent validator: code lists as ``enum``, the tile paths' parameters in the
    path, no empty ``required``."""
    from openapi_spec_validator import OpenAPIV30SpecValidator

    served = ogc_server.app.state.ogc.generation.documents
    assert document["paths"].keys() == served["public"]["paths"].keys()  # what /openapi serves
    for level, doc in served.items():
        errors = [f"{'/'.join(map(str, e.path))}: {e.message[:200]}"
                  for e in OpenAPIV30SpecValidator(doc).iter_errors()]
        assert not errors, (level, len(errors), errors[:5])
    coded = document["paths"]["/collections/emergency.incidents/items"]["get"]["parameters"]
    assert any(_resolve(document, p).get("schema", {}).get("enum") for p in coded)

"""OGC API – Features Part 3 (Filtering), its abstract tests as the standard writes them, on every
public collection of the demo server: what ogctests 0.1.15 means to check but cannot (see
``test_ogctests.py`` for its bugs). Requirement classes in the test names."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .rfc8288 import parse_link_header

QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
SCHEMAS = ("https://json-schema.org/draft/2019-09/schema",
           "https://json-schema.org/draft/2020-12/schema")
GEOMETRY_FORMAT = re.compile(r"^geometry-(point|multipoint|linestring|multilinestring|polygon|"
                             r"multipolygon|geometry|any)$")
GEOJSON = {"Accept": "application/geo+json"}


@pytest.fixture(scope="module")
def demo(demo_server) -> Iterator[httpx.Client]:  # noqa: ANN001
    with httpx.Client(base_url=demo_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def resources(demo: httpx.Client) -> list[dict[str, Any]]:
    """Every filterable resource, its queryables URI (from the Link header of its items, as the
    abstract test reads it) and a sample queryable with a value taken from its first feature."""
    found = []
    for collection in demo.get("/collections", headers={"Accept": "application/json"}).json()[
            "collections"]:
        if "data_queries" in collection:  # EDR (iot.timeseries): no Features items to filter
            continue
        url = f"/collections/{collection['id']}/items"
        head = demo.head(url, headers={"Accept": "application/json"})
        assert head.status_code == 200, url
        queryables = [link["href"] for link in parse_link_header(head.headers["link"])
                      if link.get("rel") == QUERYABLES_REL]
        assert len(queryables) == 1, (url, head.headers["link"])
        document = demo.get(queryables[0], headers={"Accept": "application/schema+json"})
        features = demo.get(url, params={"limit": 1}, headers=GEOJSON).json()["features"]
        assert features, f"the demo has no {collection['id']}"
        first = features[0]
        found.append({"id": collection["id"], "url": url, "queryables_uri": queryables[0],
                      "queryables": document, "feature": first,
                      "extent": collection["extent"]["spatial"]["bbox"][0]})
    return found


def _sample(resource: dict[str, Any], types: tuple[str, ...]) -> tuple[str, Any] | None:
    properties = resource["queryables"].json()["properties"]
    for name, schema in properties.items():
        value = resource["feature"]["properties"].get(name)
        if schema.get("type") in types and value is not None and "format" not in schema:
            return name, value
    return None


def test_queryables_get_queryables_uris_and_queryables(demo: httpx.Client, resources) -> None:  # noqa: ANN001
    """/conf/queryables/get-queryables-uris and /conf/queryables/get-queryables."""
    assert len(resources) > 15
    for resource in resources:
        response = resource["queryables"]
        assert response.status_code == 200, resource["id"]
        assert response.headers["content-type"] == "application/schema+json"
        schema = response.json()
        assert schema["$schema"] in SCHEMAS and schema["$schema"].endswith("2020-12/schema")
        assert schema["$id"] == resource["queryables_uri"]
        assert schema["type"] == "object" and schema["properties"]
        assert schema["additionalProperties"] is False
        for name, member in schema["properties"].items():
            assert isinstance(member, dict)
            assert "type" in member or GEOMETRY_FORMAT.match(member.get("format", "")), name
        spatial = resource["feature"]["geometry"] is not None
        assert ("geometry" in schema["properties"]) == spatial, resource["id"]
        # the collection links its queryables too, without ?f=json
        collection = demo.get(f"/collections/{resource['id']}").json()
        assert any(link["rel"] == QUERYABLES_REL and link["href"] == resource["queryables_uri"]
                   for link in collection["links"])


def test_queryables_query_parameters(demo: httpx.Client, resources) -> None:  # noqa: ANN001
    """/conf/queryables-query-parameters/query-param: ``{queryable}={valid-value}`` answers
    only matching features; an invalid value for the queryable is a 400."""
    invalid_tested = 0
    for resource in resources:
        name, value = _sample(resource, ("string", "integer", "number", "boolean")) or (None, None)
        assert name, resource["id"]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        response = demo.get(resource["url"], params={name: text, "limit": 100}, headers=GEOJSON)
        assert response.status_code == 200, (resource["id"], response.text[:300])
        assert response.headers["content-type"] == "application/geo+json"
        features = response.json()["features"]
        assert features and all(f["properties"][name] == value for f in features), resource["id"]
        typed = _sample(resource, ("integer", "number", "boolean"))
        if typed:
            bad = demo.get(resource["url"], params={typed[0]: "[invalid-value]"}, headers=GEOJSON)
            assert bad.status_code == 400, (resource["id"], typed[0])
            invalid_tested += 1
    assert invalid_tested > len(resources) // 2


def _cql2(name: str, value: Any, lang: str) -> str:
    if lang == "cql2-json":
        return json.dumps({"op": "=", "args": [{"property": name}, value]})
    if isinstance(value, bool):
        return f"{name} = {str(value).upper()}"
    if isinstance(value, (int, float)):
        return f"{name} = {value}"
    return f"{name} = '{value.replace(chr(39), chr(39) * 2)}'"


@pytest.mark.parametrize("lang", ["cql2-text", "cql2-json", None])
def test_filter_param_in_both_languages_and_the_default(demo: httpx.Client, resources,  # noqa: ANN001
                                                         lang: str | None) -> None:
    """/conf/filter/filter-param and /conf/filter/filter-lang-default (None: no filter-lang,
    CQL2 text): a valid filter answers matching features only, an invalid one is a 400."""
    for resource in resources:
        name, value = _sample(resource, ("string", "integer", "number", "boolean")) or (None, None)
        params = {"filter": _cql2(name, value, lang or "cql2-text"), "limit": 100}
        if lang:
            params["filter-lang"] = lang
        response = demo.get(resource["url"], params=params, headers=GEOJSON)
        assert response.status_code == 200, (resource["id"], params, response.text[:300])
        assert response.headers["content-type"] == "application/geo+json"
        features = response.json()["features"]
        assert features and all(f["properties"][name] == value for f in features)
        invalid = '{"op": "="}' if lang == "cql2-json" else f"{name} ="
        params = {"filter": invalid, **({"filter-lang": lang} if lang else {})}
        assert demo.get(resource["url"], params=params, headers=GEOJSON).status_code == 400


def test_filter_expression_construction_rejects_unknown_queryables(demo: httpx.Client,  # noqa: ANN001
                                                                   resources) -> None:
    """/conf/filter/expression-construction: every queryables document says
    additionalProperties false, so a filter on anything else is a 400."""
    for resource in resources:
        for lang, text in (("cql2-text", "this_is_not_a_queryable = 1"),
                           ("cql2-json", '{"op": "=", "args": [{"property": '
                                         '"this_is_not_a_queryable"}, 1]}')):
            response = demo.get(resource["url"], params={"filter-lang": lang, "filter": text})
            assert response.status_code == 400 and "this_is_not_a_queryable" in response.text


def test_filter_crs_is_wgs84_by_default(demo: httpx.Client, resources) -> None:  # noqa: ANN001
    """/conf/filter/filter-crs-wgs84: a spatial predicate over the collection's WGS84 extent
    matches what the unfiltered request does (its features that have a geometry: a catalogue
    record of a layer without one has none); coordinates outside WGS84 are a 400."""
    spatial = [r for r in resources if r["feature"]["geometry"] is not None]
    assert len(spatial) > 10

    def hits(resource: dict[str, Any], **params: str) -> int:
        response = demo.get(resource["url"], params={"resulttype": "hits", **params})
        assert response.status_code == 200, response.text[:300]
        return response.json()["numberMatched"]

    for resource in spatial:
        x1, y1, x2, y2 = resource["extent"]
        located = hits(resource) - hits(resource, filter="geometry IS NULL")
        inside = hits(resource, filter=f"S_INTERSECTS(geometry, BBOX({x1},{y1},{x2},{y2}))")
        assert inside == located > 0, resource["id"]
        outside = demo.get(resource["url"], params={
            "filter": "S_INTERSECTS(geometry, BBOX(1000000,1000000,2000000,2000000))"})
        assert outside.status_code == 400, resource["id"]

"""The query API's OpenAPI fragment: every reference resolves, each level names only the layers
and scenarios its readers may see, and the served document carries it. Schemathesis then
fuzzes the public fragment against the live server: no 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iocgis.api.query.openapi import merge_into, openapi_fragment


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_every_reference_resolves() -> None:
    fragment = openapi_fragment("internal")
    for ref in refs(fragment["paths"]):
        _, _, kind, name = ref.split("/")
        assert name in fragment["components"][kind], ref


def test_levels_name_only_what_their_readers_may_see() -> None:
    public = openapi_fragment("public")
    layers = public["components"]["parameters"]["query_layers"]["schema"]["items"]["enum"]
    assert "infra.schools" in layers and "housing.houses" not in layers
    assert "/scenarios/flood" not in public["paths"]
    internal = openapi_fragment("internal")
    assert "housing.houses" in internal["components"]["parameters"]["query_layers"]["schema"][
        "items"]["enum"]
    assert "/scenarios/flood" in internal["paths"]
    flood = internal["paths"]["/scenarios/flood"]["get"]["parameters"]
    radius = next(p for p in flood if p.get("name") == "radius_m")
    assert radius["schema"]["maximum"] == 50000 and radius["schema"]["default"] == 2000


def test_merge_keeps_what_is_there() -> None:
    document = {"openapi": "3.0.2", "paths": {"/collections": {"get": {}}},
                "components": {"parameters": {"limit": {"name": "limit"}}}, "tags": []}
    merged = merge_into(document, "public")
    assert "/collections" in merged["paths"] and "/query/radius" in merged["paths"]
    assert merged["components"]["parameters"]["limit"] == {"name": "limit"}
    assert "query_limit" in merged["components"]["parameters"]
    assert document["paths"].keys() == {"/collections"}  # the input is not changed


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(query_server) -> None:  # noqa: ANN001
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    document = merge_into({"openapi": "3.0.2", "info": {"title": "iocgis", "version": "1"},
                           "paths": {}}, "public")
    schema = schemathesis.openapi.from_dict(document)
    failures = []
    calls = []
    for operation in schema.get_all_operations():
        op = operation.ok()

        @settings(max_examples=8, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def check(case) -> None:  # noqa: ANN001
            response = case.call(base_url=query_server.url, timeout=30)
            calls.append(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query,
                                 response.status_code, response.text[:300]))

        check()
    assert not failures, failures[:5]
    assert len(calls) > 50 and any(status == 200 for status in calls)


def test_the_served_openapi_carries_the_query_routes(anon: httpx.Client,
                                                     analyst: httpx.Client) -> None:
    public = anon.get("/openapi", params={"f": "json"})
    assert public.status_code == 200, public.text[:300]
    paths = public.json()["paths"]
    assert "/query/radius" in paths and "/scenarios/planning_check" in paths
    assert "/scenarios/flood" not in paths  # reads internal layers
    internal = analyst.get("/openapi", params={"f": "json"}).json()["paths"]
    assert "/scenarios/flood" in internal

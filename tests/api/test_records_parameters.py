"""The Records catalogue takes every parameter it advertises (issue 12): datetime and updated,
title and description, CQL2 filters in text and JSON, crs, bbox with bbox-crs, skipGeometry,
properties, sortby and paging by offset; and refuses what it does not offer (cursor, CSV)."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from iocgis.access import ANONYMOUS, visible_layers

from .rfc8288 import parse_link_header

CATALOG = "/collections/catalog/items"
EPSG_5899 = "http://www.opengis.net/def/crs/EPSG/0/5899"


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text[:300]
    return [record["id"] for record in response.json()["features"]]


def test_datetime_and_updated(ogc: httpx.Client) -> None:
    """datetime selects on ``updated`` (the catalogue's time field); schools were imported three
    years ago, incidents two hours ago, the other layers at migration time (now)."""
    three_years_ago = (datetime.now(UTC) - timedelta(days=3 * 365)).date()
    old = _ids(ogc.get(CATALOG, params={"datetime": f"../{three_years_ago + timedelta(days=1)}",
                                        "limit": 100}))
    assert old == ["infra.schools"]
    recent = _ids(ogc.get(CATALOG, params={"datetime": f"{datetime.now(UTC).date()}/..",
                                           "limit": 100}))
    assert "emergency.incidents" in recent and "infra.schools" not in recent
    updated = ogc.get(f"{CATALOG}/infra.schools").json()["properties"]["updated"]
    assert _ids(ogc.get(CATALOG, params={"updated": updated})) == ["infra.schools"]
    assert ogc.get(CATALOG, params={"updated": "last week"}).status_code == 400
    assert ogc.get(CATALOG, params={"datetime": "2025-13-01"}).status_code == 400


def test_title_and_description_as_queryables(ogc: httpx.Client) -> None:
    record = ogc.get(f"{CATALOG}/emergency.incidents").json()["properties"]
    decomposed = unicodedata.normalize("NFD", record["title"])
    assert _ids(ogc.get(CATALOG, params={"title": decomposed})) == ["emergency.incidents"]
    assert _ids(ogc.get(CATALOG, params={"description": record["description"]})) == [
        "emergency.incidents"]
    assert _ids(ogc.get(CATALOG, params={"title": "no such title"})) == []


@pytest.mark.parametrize("params", [
    {"filter": "group = 'emergency' AND freshness = 'fresh'"},
    {"filter": "title LIKE 'Sự cố%'"},
    {"filter": json.dumps({"op": "and", "args": [
        {"op": "=", "args": [{"property": "group"}, "emergency"]},
        {"op": "s_intersects", "args": [{"property": "geometry"},
                                        {"type": "Point", "coordinates": [106.82, 10.95]}]}]}),
     "filter-lang": "cql2-json"},
    {"filter": "S_INTERSECTS(geometry, POINT(400000 1211500))", "filter-crs": EPSG_5899},
    {"filter": "T_AFTER(updated, TIMESTAMP('2020-01-01T00:00:00Z')) AND group = 'emergency' "
               "AND freshness <> 'never_imported'"},
])
def test_cql2_filters(ogc: httpx.Client, params: dict) -> None:
    assert _ids(ogc.get(CATALOG, params={**params, "limit": 100})) == ["emergency.incidents"]


def test_cql2_post_and_bad_filters(ogc: httpx.Client) -> None:
    body = {"op": "=", "args": [{"property": "sensitivity"}, "public"]}
    posted = ogc.post(CATALOG, params={"limit": 100}, json=body)
    assert len(_ids(posted)) == len(visible_layers(ANONYMOUS))
    for bad in ("rowCount > 5", "group = ", "holder_name = 'x'"):
        response = ogc.get(CATALOG, params={"filter": bad})
        assert response.status_code == 400 and response.json()["hint"], bad


def test_crs_bbox_crs_and_skip_geometry(ogc: httpx.Client) -> None:
    plain = ogc.get(f"{CATALOG}", params={"freshness": "fresh", "limit": 100})
    vn2000 = ogc.get(CATALOG, params={"freshness": "fresh", "crs": EPSG_5899, "limit": 100})
    assert vn2000.status_code == 200 and vn2000.headers["content-crs"] == f"<{EPSG_5899}>"
    assert plain.headers["content-crs"].endswith("CRS84>")
    x, y = vn2000.json()["features"][0]["geometry"]["coordinates"][0][0]
    assert 350_000 < x < 450_000 and 1_150_000 < y < 1_300_000  # metres, TM-3 107°45'
    assert ogc.get(CATALOG, params={"crs": "EPSG:2154"}).status_code == 400
    boxed = ogc.get(CATALOG, params={"bbox": "398000,1211000,399000,1212000",
                                     "bbox-crs": EPSG_5899})
    assert _ids(boxed) == ["emergency.incidents"]
    skipped = ogc.get(CATALOG, params={"skipGeometry": "true", "limit": 100}).json()
    assert all(record["geometry"] is None for record in skipped["features"])


def test_properties_sortby_and_offset_paging(ogc: httpx.Client) -> None:
    layers = len(visible_layers(ANONYMOUS))
    selected = ogc.get(CATALOG, params={"properties": "title,updated", "limit": 3}).json()
    assert all(set(r["properties"]) == {"title", "updated"} for r in selected["features"])
    oldest = _ids(ogc.get(CATALOG, params={"sortby": "updated", "limit": 1}))
    assert oldest == ["infra.schools"]  # ascending: the oldest update first
    seen, page = [], ogc.get(CATALOG, params={"limit": 4, "sortby": "-group"})
    while True:
        assert page.status_code == 200
        seen += _ids(page)
        header = {link["rel"]: link for link in parse_link_header(page.headers["link"])}
        body = {link["rel"]: link for link in page.json()["links"]}
        assert header["self"]["type"] == "application/geo+json"
        assert ("next" in header) == ("next" in body)
        if len(seen) > 4:
            assert "prev" in body and "prev" in header
        if "next" not in body:
            break
        page = ogc.get(body["next"]["href"])
    assert len(seen) == len(set(seen)) == layers == page.json()["numberMatched"]
    groups = [ogc.get(f"{CATALOG}/{i}").json()["properties"]["group"] for i in seen]
    assert groups == sorted(groups, reverse=True)


def test_what_the_catalogue_does_not_offer_is_a_clear_400(ogc: httpx.Client) -> None:
    for params, words in (({"cursor": "3"}, "unknown parameter 'cursor'"),
                          ({"f": "csv"}, "no CSV form"),
                          ({"rowCount": "3"}, "unknown parameter"),
                          ({"limit": "0"}, "out of range")):
        response = ogc.get(CATALOG, params=params)
        assert response.status_code == 400 and words in response.json()["description"], params
    assert ogc.get(CATALOG, headers={"Accept": "text/csv"}).status_code == 400
    page = ogc.get(CATALOG).json()
    assert not [link for link in page["links"] if "csv" in link["type"]]
    collection = ogc.get("/collections/catalog").json()
    assert not [link for link in collection["links"] if "csv" in link.get("type", "")]


def test_every_advertised_catalogue_parameter_is_accepted(ogc: httpx.Client) -> None:
    document = ogc.get("/openapi", params={"f": "json"}).json()
    names = {_parameter(document, p)["name"]
             for p in document["paths"][CATALOG]["get"]["parameters"]}
    assert {"datetime", "updated", "title", "description", "filter", "filter-lang", "crs",
            "bbox-crs", "skipGeometry", "offset", "limit"} <= names
    assert "cursor" not in names
    queryables = ogc.get("/collections/catalog/queryables").json()["properties"]
    assert set(queryables) - {"geometry"} <= names


def _parameter(document: dict, parameter: dict) -> dict:
    if "$ref" in parameter:
        return document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[-1]]
    return parameter

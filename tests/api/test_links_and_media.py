"""Media types and links as clients read them (issue 12): GeoJSON answers are
``application/geo+json`` whichever way JSON is asked for, collection/items/item answers carry an
RFC 8288 ``Link`` header matching their links, the default-JSON links carry no ``?f=json``, and
the server names no software version."""

from __future__ import annotations

import httpx
import pytest

from .rfc8288 import parse_link_header

ITEMS = "/collections/emergency.incidents/items"
GEOJSON = "application/geo+json"


def _header_links(response: httpx.Response) -> dict[str, list[dict[str, str]]]:
    by_rel: dict[str, list[dict[str, str]]] = {}
    for link in parse_link_header(response.headers["link"]):
        by_rel.setdefault(link["rel"], []).append(link)
    return by_rel


@pytest.mark.parametrize("how", [{}, {"params": {"f": "json"}},
                                 {"headers": {"Accept": GEOJSON}},
                                 {"headers": {"Accept": "application/json"}}])
def test_items_and_features_are_geojson_however_json_is_asked(ogc: httpx.Client, how: dict) -> None:
    page = ogc.get(ITEMS, **{**how, "params": {**how.get("params", {}), "limit": 2}})
    assert page.status_code == 200 and page.headers["content-type"] == GEOJSON
    self_links = [link for link in page.json()["links"] if link["rel"] == "self"]
    assert [link["type"] for link in self_links] == [GEOJSON]  # the links say what is served
    fid = page.json()["features"][0]["id"]
    feature = ogc.get(f"{ITEMS}/{fid}", **how)
    assert feature.status_code == 200 and feature.headers["content-type"] == GEOJSON
    catalogue = ogc.get("/collections/catalog/items", **how)
    assert catalogue.headers["content-type"] == GEOJSON
    # errors stay OGC exception documents
    assert ogc.get(ITEMS, params={"limit": "x"}).headers["content-type"] == "application/json"


def test_items_link_header_matches_the_page_links(ogc: httpx.Client) -> None:
    first = ogc.get(ITEMS, params={"limit": 10, "bbox": "106.0,10.0,108.0,12.0"})
    header = _header_links(first)
    body = {link["rel"]: link for link in first.json()["links"] if link["type"] == GEOJSON}
    assert header["self"][0]["type"] == GEOJSON and header["next"][0]["type"] == GEOJSON
    assert {link["type"] for link in header["alternate"]} == {
        "text/html", "application/ld+json", "text/csv"}
    assert header["self"][0]["href"].replace("%2C", ",") == body["self"]["href"]
    assert "http://www.opengis.net/def/rel/ogc/1.0/queryables" in header
    second = ogc.get(header["next"][0]["href"])  # the header's own next link works
    assert second.status_code == 200
    assert second.json()["features"][0]["id"] == ogc.get(body["next"]["href"]).json()[
        "features"][0]["id"]
    assert "prev" in _header_links(ogc.get(ITEMS, params={"limit": 10, "offset": 10}))


def test_item_and_collection_link_headers(ogc: httpx.Client) -> None:
    fid = ogc.get(ITEMS, params={"limit": 1}).json()["features"][0]["id"]
    item = _header_links(ogc.get(f"{ITEMS}/{fid}"))
    assert item["self"][0]["href"].split("?")[0].endswith(f"{ITEMS}/{fid}")
    assert {link["type"] for link in item["alternate"]} == {"text/html", "application/ld+json"}
    assert item["collection"][0]["href"].endswith("/collections/emergency.incidents")
    collection = _header_links(ogc.get("/collections/emergency.incidents"))
    assert collection["self"][0]["type"] == "application/json"
    assert any(link["href"].endswith(ITEMS) for link in collection["items"])
    html = _header_links(ogc.get(ITEMS, params={"f": "html"}))  # every format has the header
    assert html["self"][0]["type"] == "text/html"
    assert any(link["type"] == GEOJSON for link in html["alternate"])


def test_link_headers_stay_small_for_long_filters(ogc: httpx.Client) -> None:
    long_filter = " OR ".join(f"incident_code = 'SC-{i:03d}'" for i in range(200))
    response = ogc.get(ITEMS, params={"filter": long_filter, "limit": 1})
    assert response.status_code == 200 and len(response.headers["link"]) < 9000
    assert any(link["rel"] == "self" for link in response.json()["links"])  # kept in the body


def test_default_json_links_carry_no_format_parameter(ogc: httpx.Client) -> None:
    """GDAL appends ``/{featureId}`` to the items href (it built ``items?f=json/45``)."""
    for document in (ogc.get("/collections/emergency.incidents").json(),
                     *ogc.get("/collections").json()["collections"]):
        for link in document["links"]:
            if link["rel"] == "items" and link["type"] == GEOJSON:
                assert link["href"].endswith(f"/collections/{document['id']}/items"), link
            if link["rel"].endswith("/queryables") and "json" in link["type"]:
                assert link["href"].endswith(f"/collections/{document['id']}/queryables")


def test_queryables_are_json_schema_2020_12(ogc: httpx.Client) -> None:
    incidents = ogc.get("/collections/emergency.incidents/queryables").json()
    assert incidents["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert incidents["additionalProperties"] is False
    assert incidents["properties"]["kind"]["title"] == "Loại sự cố"
    assert "geometry" in incidents["properties"]
    kpi = ogc.get("/collections/kpi.indicators/queryables").json()
    assert "geometry" not in kpi["properties"]  # nothing to filter spatially


@pytest.mark.parametrize("path", ["/", "/collections", ITEMS, f"{ITEMS}/1", "/openapi",
                                  "/collections/emergency.incidents/queryables"])
def test_no_software_version_is_announced(ogc: httpx.Client, path: str) -> None:
    response = ogc.get(path)
    assert response.status_code == 200
    assert "x-powered-by" not in response.headers
    assert "pygeoapi" not in response.headers.get("server", "")


def test_favicon_is_served_locally(ogc: httpx.Client) -> None:
    response = ogc.get("/favicon.ico")
    assert response.status_code == 200 and response.headers["content-type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in response.headers["cache-control"]

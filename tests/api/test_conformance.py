"""The requirements of OGC API – Features Part 1 (Core, GeoJSON) and Part 2 (CRS), checked
one by one against the running server (requirement ids in the test names)."""

from __future__ import annotations

import httpx

ITEMS = "/collections/emergency.incidents/items"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def test_req_core_root_op_and_success(ogc: httpx.Client) -> None:
    response = ogc.get("/", headers={"accept": "application/json"})
    assert response.status_code == 200
    rels = {link["rel"] for link in response.json()["links"]}
    assert {"conformance", "data"} <= rels and rels & {"service-desc", "service-doc"}


def test_req_core_api_definition_op(ogc: httpx.Client) -> None:
    response = ogc.get("/openapi", params={"f": "json"})
    assert response.status_code == 200 and response.json()["openapi"].startswith("3.0")


def test_req_core_conformance_success(ogc: httpx.Client) -> None:
    classes = ogc.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes


def test_req_core_fc_md_op_items_and_sfc_md_op(ogc: httpx.Client) -> None:
    body = ogc.get("/collections").json()
    assert any(link["rel"] == "self" for link in body["links"])
    for collection in body["collections"]:
        assert collection["id"] and collection["links"]
        if collection.get("itemType") == "feature":
            assert any(link["rel"] == "items" for link in collection["links"])
            single = ogc.get(f"/collections/{collection['id']}").json()
            assert single["id"] == collection["id"] and single["extent"] == collection["extent"]


def test_req_core_fc_response_and_geojson_content(ogc: httpx.Client) -> None:
    response = ogc.get(ITEMS, params={"limit": 7})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"  # /req/geojson/content
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"]) == 7  # fc-limit-response-1
    assert "timeStamp" in body
    rels = {link["rel"] for link in body["links"]}
    assert {"self", "alternate", "next"} <= rels  # fc-links, fc-next-1
    for feature in body["features"]:
        assert feature["type"] == "Feature" and "geometry" in feature and "properties" in feature


def test_req_core_fc_bbox_response(ogc: httpx.Client) -> None:
    box = (106.815, 10.94, 106.826, 10.96)
    body = ogc.get(ITEMS, params={"bbox": ",".join(map(str, box)), "limit": 100}).json()
    assert body["features"]
    for feature in body["features"]:
        x, y = feature["geometry"]["coordinates"]
        assert box[0] <= x <= box[2] and box[1] <= y <= box[3]


def test_req_core_fc_time_response(ogc: httpx.Client) -> None:
    body = ogc.get(ITEMS, params={"datetime": "2025-07-01T00:00:00Z/2025-07-31T23:59:59Z",
                                  "limit": 100}).json()
    assert body["features"]
    assert all(f["properties"]["reported_at"].startswith("2025-07") for f in body["features"])


def test_req_core_f_op_and_f_success(ogc: httpx.Client) -> None:
    fid = ogc.get(ITEMS, params={"limit": 1}).json()["features"][0]["id"]
    response = ogc.get(f"{ITEMS}/{fid}")
    assert response.status_code == 200
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == fid
    rels = {link["rel"] for link in feature["links"]}
    assert {"self", "collection"} <= rels


def test_req_core_query_param_unknown_and_invalid(ogc: httpx.Client) -> None:
    assert ogc.get(ITEMS, params={"no_such_parameter": "1"}).status_code == 400
    assert ogc.get(ITEMS, params={"limit": "many"}).status_code == 400
    assert ogc.get(ITEMS, params={"bbox": "a,b,c,d"}).status_code == 400


def test_req_crs_collection_crs_list_storage_crs_and_content_crs_header(ogc: httpx.Client) -> None:
    collection = ogc.get("/collections/emergency.incidents").json()
    assert collection["crs"][0] == CRS84 and collection["storageCrs"] == CRS84
    assert ogc.get(ITEMS, params={"limit": 1}).headers["content-crs"] == f"<{CRS84}>"
    for crs in collection["crs"]:
        response = ogc.get(ITEMS, params={"limit": 1, "crs": crs})
        assert response.status_code == 200 and response.headers["content-crs"] == f"<{crs}>"
    assert ogc.get(ITEMS, params={"crs": "http://www.opengis.net/def/crs/EPSG/0/32648"}).status_code == 400

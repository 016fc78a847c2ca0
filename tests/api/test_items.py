"""Items: paging, bbox and CRS (Part 2, VN-2000 with the official shift), selection, personal data,
UTF-8 and the HTML pages."""

from __future__ import annotations

import httpx
import pytest
from pyproj import CRS

from iocgis.crs import transformer

from . import ogc_fixtures

ITEMS = "/collections/emergency.incidents/items"
TOTAL = len(ogc_fixtures.INCIDENTS) + ogc_fixtures.EXTRA_INCIDENTS
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"


def _ids(body: dict) -> list[int]:
    return [f["id"] for f in body["features"]]


def _next(body: dict) -> str | None:
    return next((link["href"] for link in body["links"] if link["rel"] == "next"), None)


def test_following_next_links_returns_every_feature_once(ogc: httpx.Client) -> None:
    body = ogc.get(ITEMS, params={"limit": 10}).json()
    assert body["numberMatched"] == TOTAL and body["numberReturned"] == 10
    seen = _ids(body)
    pages = 1
    while (href := _next(body)) is not None:
        assert "cursor=" in href  # keyset paging
        body = httpx.get(href, timeout=30).json()
        seen += _ids(body)
        pages += 1
    assert pages == 5 and len(seen) == TOTAL == len(set(seen))
    assert seen == sorted(seen)


def test_offset_pages_equal_keyset_pages(ogc: httpx.Client) -> None:
    first = ogc.get(ITEMS, params={"limit": 10}).json()
    keyset = httpx.get(_next(first), timeout=30).json()
    by_offset = ogc.get(ITEMS, params={"limit": 10, "offset": 10}).json()
    assert _ids(keyset) == _ids(by_offset)
    prev = next(link["href"] for link in by_offset["links"] if link["rel"] == "prev")
    assert _ids(httpx.get(prev, timeout=30).json()) == _ids(first)
    # sorted pages page by offset and never overlap
    a = ogc.get(ITEMS, params={"limit": 20, "sortby": "-severity,incident_code"}).json()
    b = ogc.get(ITEMS, params={"limit": 20, "offset": 20, "sortby": "-severity,incident_code"}).json()
    assert not set(_ids(a)) & set(_ids(b))
    # the last page of an offset walk has no next page, and still links back
    last = ogc.get(ITEMS, params={"limit": 10, "offset": TOTAL - 5}).json()
    rels = {link["rel"] for link in last["links"]}
    assert "next" not in rels and "prev" in rels
    severities = [f["properties"]["severity"] for f in a["features"]]
    assert severities == sorted(severities, reverse=True)


def test_resulttype_hits_counts_without_features(ogc: httpx.Client) -> None:
    body = ogc.get(ITEMS, params={"resulttype": "hits", "kind": "chay"}).json()
    assert body["numberMatched"] == 3 and body["features"] == []


def _bbox_in(crs: CRS, lon1: float, lat1: float, lon2: float, lat2: float) -> list[float]:
    to = transformer(CRS.from_user_input("OGC:CRS84"), crs)
    (x1, x2), (y1, y2) = to.transform([lon1, lon2], [lat1, lat2])
    return [x1, y1, x2, y2]


@pytest.mark.parametrize("epsg", [4326, 3857, 3405, 5899])
def test_bbox_crs_selects_the_same_features_as_crs84(ogc: httpx.Client, epsg: int) -> None:
    box = (106.815, 10.94, 106.826, 10.96)  # ORIGIN and the incidents up to ~650 m east
    expected = _ids(ogc.get(ITEMS, params={"bbox": ",".join(map(str, box)), "limit": 100}).json())
    assert len(expected) == 5  # 0, 100, 300, 490 and 510 m east of ORIGIN
    coords = _bbox_in(CRS.from_epsg(epsg), *box)
    if epsg == 4326:  # latitude first
        coords = [box[1], box[0], box[3], box[2]]
    response = ogc.get(ITEMS, params={"bbox": ",".join(map(str, coords)), "limit": 100,
                                      "bbox-crs": EPSG.format(epsg)})
    assert response.status_code == 200, response.text
    assert _ids(response.json()) == expected


@pytest.mark.parametrize("epsg", [3405, 5899, 3857])
def test_crs_output_is_transformed_in_postgis_with_the_official_shift(ogc: httpx.Client,
                                                                      epsg: int) -> None:
    response = ogc.get(ITEMS, params={"crs": EPSG.format(epsg), "limit": 1, "kind": "chay"})
    assert response.status_code == 200, response.text
    assert response.headers["content-crs"] == f"<{EPSG.format(epsg)}>"
    x, y = response.json()["features"][0]["geometry"]["coordinates"]
    # iocgis.crs pins VN-2000 to the official 7-parameter shift; PostGIS must agree to a centimetre
    to_epsg = transformer(CRS.from_user_input("OGC:CRS84"), CRS.from_epsg(epsg))
    ex, ey = to_epsg.transform(*ogc_fixtures.ORIGIN)
    assert abs(x - ex) < 0.01 and abs(y - ey) < 0.01


def test_crs_4326_is_latitude_first_and_crs84_longitude_first(ogc: httpx.Client) -> None:
    params = {"limit": 1, "kind": "chay"}
    lon_lat = ogc.get(ITEMS, params=params).json()["features"][0]["geometry"]["coordinates"]
    flipped = ogc.get(ITEMS, params={**params, "crs": "[EPSG:4326]"}).json()
    lat_lon = flipped["features"][0]["geometry"]["coordinates"]
    assert lon_lat == pytest.approx(list(ogc_fixtures.ORIGIN))
    assert lat_lon == pytest.approx(lon_lat[::-1])


def test_single_item_in_vn2000(ogc: httpx.Client) -> None:
    fid = ogc.get(ITEMS, params={"limit": 1}).json()["features"][0]["id"]
    body = ogc.get(f"{ITEMS}/{fid}", params={"crs": EPSG.format(5899)}).json()
    assert body["id"] == fid and body["geometry"]["coordinates"][0] > 100_000
    assert "reporter_phone" not in body["properties"]
    assert ogc.get(f"{ITEMS}/999999").status_code == 404
    assert ogc.get(f"{ITEMS}/abc").status_code == 404


def test_properties_skip_geometry_and_property_filters(ogc: httpx.Client) -> None:
    body = ogc.get(ITEMS, params={"properties": "kind,severity", "skipGeometry": "true",
                                  "kind": "chay", "limit": 50}).json()
    assert body["numberMatched"] == 3
    for feature in body["features"]:
        assert set(feature["properties"]) == {"kind", "severity"}
        assert feature["geometry"] is None
    assert ogc.get(ITEMS, params={"severity": 5}).json()["numberMatched"] == 1


def test_datetime_interval_and_instant(ogc: httpx.Client) -> None:
    recent = ogc.get(ITEMS, params={"datetime": "2025-07-14T00:00:00Z/..", "limit": 100}).json()
    assert sorted(f["properties"]["incident_code"] for f in recent["features"]) == \
        ["SC-001", "SC-002", "SC-003"]
    day = ogc.get(ITEMS, params={"datetime": "2025-07-15", "limit": 100}).json()
    assert {f["properties"]["incident_code"] for f in day["features"]} == {"SC-001", "SC-002"}


def test_free_text_q_searches_visible_text_fields(ogc: httpx.Client) -> None:
    body = ogc.get(ITEMS, params={"q": "Ổ dịch số 3", "limit": 100}).json()
    assert {f["properties"]["incident_code"] for f in body["features"]} >= {"XA-003"}
    assert ogc.get(ITEMS, params={"q": "0909000001"}).json()["numberMatched"] == 0  # a phone: PII


def test_personal_data_never_reaches_anonymous(ogc: httpx.Client) -> None:
    for params in ({"limit": 100}, {"limit": 100, "f": "html"}, {"limit": 5, "f": "csv"}):
        text = ogc.get(ITEMS, params=params).text
        assert "reporter_phone" not in text and "0909000001" not in text
    for params in ({"filter": "reporter_phone = '0909000001'"}, {"sortby": "reporter_phone"},
                   {"properties": "reporter_phone"}, {"reporter_phone": "0909000001"},
                   {"filter": '{"op":"isNull","args":[{"property":"reporter_phone"}]}',
                    "filter-lang": "cql2-json"}):
        response = ogc.get(ITEMS, params=params)
        assert response.status_code == 400, params
        assert "reporter_phone" in response.json()["description"]  # named as unknown, like a typo


def test_json_is_real_utf8_with_values_untouched(ogc: httpx.Client) -> None:
    raw = ogc.get(ITEMS, params={"kind": "chay", "limit": 1}).content
    assert "Trấn Biên".encode() in raw and b"\\u" not in raw
    school = ogc.get("/collections/infra.schools/items").content
    assert ogc_fixtures.SCHOOL_NAME.encode() in school  # ">" is not rewritten as &gt;
    assert b"\\u" not in ogc.get("/collections", params={"lang": "vi"}).content


def test_html_pages_render_vietnamese_and_a_map(ogc: httpx.Client) -> None:
    for path in ("/", "/collections", "/collections/admin.communes", ITEMS):
        response = ogc.get(path, params={"f": "html"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
    items = ogc.get("/collections/admin.communes/items", params={"f": "html"}).text
    assert "Phường Trấn Biên" in items and 'id="items-map"' in items
    assert "Ranh giới xã, phường, đặc khu" in ogc.get("/collections", params={"f": "html"}).text


def test_large_results_state_an_estimate_instead_of_counting(ogc: httpx.Client,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from iocgis.api.ogc import features_sql

    monkeypatch.setattr(features_sql, "EXACT_COUNT_CAP", 5)  # the server runs in this process
    body = ogc.get(ITEMS, params={"limit": 10}).json()
    assert "numberMatched" not in body
    assert body["numberMatchedEstimate"] > 10 and body["numberReturned"] == 10
    last_page = ogc.get(ITEMS, params={"limit": 100}).json()  # one page counts itself exactly
    assert last_page["numberMatched"] == TOTAL


@pytest.mark.parametrize("north_first", [False, True], ids=["crs84", "epsg4326"])
def test_bbox_edges_a_hair_from_a_point_select_as_st_intersects_does(ogc: httpx.Client, ogc_conn,
                                                                     north_first: bool) -> None:
    """Rows inside the bbox are taken without GEOS (single-precision boxes, rounded inwards);
    a point a nanodegree outside or exactly on an edge is decided as ST_Intersects decides."""
    x, y = 106.90 + 3 * 0.001, 10.96  # an extra incident (ogc_fixtures)
    for box in [(x - 0.0015, y - 0.01, x - 1e-9, y + 0.01), (x + 1e-9, y - 0.01, x + 0.0015, y + 0.01),
                (x - 0.0015, y - 0.01, x, y + 0.01), (x - 0.0005, y - 1e-9, x + 0.0005, y),
                (x - 0.0025, y - 0.01, x + 0.0025, y + 0.01)]:
        expected = sorted(r[0] for r in ogc_conn.execute(
            "SELECT fid FROM emergency.incidents WHERE ST_Intersects(geom, "
            "ST_MakeEnvelope(%s, %s, %s, %s, 4326))", box))
        sent = (box[1], box[0], box[3], box[2]) if north_first else box
        params = {"bbox": ",".join(repr(v) for v in sent), "limit": 100}
        if north_first:
            params["bbox-crs"] = EPSG.format(4326)
        body = ogc.get(ITEMS, params=params).json()
        assert sorted(_ids(body)) == expected and body["numberMatched"] == len(expected), box
    assert expected  # the widest box holds some


@pytest.mark.parametrize("collection", ["emergency.incidents", "infra.schools",
                                        "admin.communes"])
def test_features_written_by_postgresql_equal_the_single_items(ogc: httpx.Client,
                                                               collection: str) -> None:
    """A JSON page's features come as PostgreSQL writes them (pygeoapi_seams.features_json);
    each equals the same feature answered alone (decoded and written by Python): geometry,
    id, Vietnamese text, numbers, nulls and timestamps."""
    page = ogc.get(f"/collections/{collection}/items", params={"limit": 100})
    assert page.status_code == 200 and page.headers["content-type"].startswith(
        "application/geo+json")
    body = page.json()
    assert body["features"] and body["numberReturned"] == len(body["features"])
    for feature in body["features"]:
        alone = ogc.get(f"/collections/{collection}/items/{feature['id']}").json()
        assert {k: alone[k] for k in ("type", "id", "geometry", "properties")} == feature
    assert "\\u" not in page.text  # UTF-8 as stored
    again = ogc.get(f"/collections/{collection}/items",
                    params={"limit": 100, "crs": EPSG.format(5899), "skipGeometry": "true"})
    assert all(f["geometry"] is None for f in again.json()["features"])

"""CQL2 filters in text and JSON, spatial predicates and a distance filter measured in metres."""

from __future__ import annotations

import json

import httpx
import pytest
from pyproj import CRS

from iocgis.crs import transformer

from . import ogc_fixtures

ITEMS = "/collections/emergency.incidents/items"
LON, LAT = ogc_fixtures.ORIGIN


def codes(ogc: httpx.Client, filter_: str | dict, path: str = ITEMS, **params: str) -> set[str]:
    if isinstance(filter_, dict):
        params = {**params, "filter": json.dumps(filter_), "filter-lang": "cql2-json"}
    else:
        params = {**params, "filter": filter_}
    response = ogc.get(path, params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    key = "incident_code" if path == ITEMS else "code"
    return {f["properties"][key] for f in response.json()["features"]}


def within_metres(distance: float) -> set[str]:
    return {code for code, metres, *_ in ogc_fixtures.INCIDENTS if metres <= distance}


@pytest.mark.parametrize("distance", [50, 150, 500, 1000, 2500])
def test_dwithin_in_metres_is_geodesic(ogc: httpx.Client, distance: float) -> None:
    found = codes(ogc, f"DWITHIN(geometry, POINT({LON} {LAT}), {distance}, meters)")
    assert found == within_metres(distance)


def test_dwithin_units_json_and_beyond(ogc: httpx.Client) -> None:
    assert codes(ogc, f"DWITHIN(geom, POINT({LON} {LAT}), 0.5, kilometers)") == within_metres(500)
    as_json = {"op": "s_dwithin", "args": [{"property": "geometry"},
                                           {"type": "Point", "coordinates": [LON, LAT]}, 500]}
    assert codes(ogc, as_json) == within_metres(500)
    beyond = codes(ogc, f"BEYOND(geometry, POINT({LON} {LAT}), 1, km) AND kind <> 'dich_benh'")
    assert beyond == {c for c, m, *_ in ogc_fixtures.INCIDENTS if m > 1000}


def test_spatial_predicates(ogc: httpx.Client) -> None:
    box = f"POLYGON(({LON - 0.001} {LAT - 0.001}, {LON + 0.0035} {LAT - 0.001}, " \
          f"{LON + 0.0035} {LAT + 0.001}, {LON - 0.001} {LAT + 0.001}, {LON - 0.001} {LAT - 0.001}))"
    assert codes(ogc, f"S_INTERSECTS(geometry, {box})") == within_metres(300)
    assert codes(ogc, f"S_WITHIN(geometry, {box})") == within_metres(300)
    assert codes(ogc, f"S_WITHIN(geometry, BBOX({LON - 0.001}, {LAT - 0.001}, {LON + 0.0035}, "
                      f"{LAT + 0.001}))") == within_metres(300)
    communes = "/collections/admin.communes/items"
    assert codes(ogc, f"S_CONTAINS(geometry, POINT({LON} {LAT}))", communes) == {"72301"}
    assert codes(ogc, {"op": "s_intersects", "args": [{"property": "geometry"},
                                                      {"bbox": [106.9, 10.93, 106.91, 10.94]}]},
                 communes) == {"72302"}


def test_filter_crs_vn2000_geometry(ogc: httpx.Client) -> None:
    x, y = transformer(CRS.from_user_input("OGC:CRS84"), CRS.from_epsg(5899)).transform(LON, LAT)
    found = codes(ogc, f"DWITHIN(geometry, POINT({x} {y}), 150, meters)",
                  **{"filter-crs": "http://www.opengis.net/def/crs/EPSG/0/5899"})
    assert found == within_metres(150)
    ewkt = codes(ogc, f"S_INTERSECTS(geometry, SRID=3405;POLYGON(({x - 1e6} {y - 1e6}, "
                      f"{x + 1e6} {y - 1e6}, {x + 1e6} {y + 1e6}, {x - 1e6} {y - 1e6})))")
    assert ewkt  # the EWKT SRID is honoured (the triangle in 3405 covers the fixtures)


@pytest.mark.parametrize("text, expected", [
    ("kind = 'chay'", {"SC-001", "SC-002", "SC-005"}),
    ("kind = 'chay' AND severity >= 4", {"SC-001", "SC-002"}),
    ("kind IN ('lu_lut', 'cuu_nan')", {"SC-003", "SC-006", "SC-007"}),
    ("severity BETWEEN 2 AND 3 AND kind <> 'dich_benh'", {"SC-003", "SC-004", "SC-006", "SC-007"}),
    ("casualties IS NOT NULL", {"SC-001", "SC-002"}),
    ("NOT (kind = 'dich_benh') AND incident_code LIKE 'SC-00_' AND severity = 1", {"SC-005", "SC-008"}),
    ("CASEI(title) LIKE '%trấn biên (sc-00_)%' AND kind = 'chay'", {"SC-001", "SC-002", "SC-005"}),
    ("severity * 2 + 1 = 11", {"SC-001"}),
    ("severity / 0 = 1", set()),  # undefined, never an error
    ("reported_at > TIMESTAMP('2025-07-14T00:00:00Z')", {"SC-001", "SC-002", "SC-003"}),
    ("T_INTERSECTS(reported_at, INTERVAL('2025-07-15', '..'))", {"SC-001", "SC-002"}),
    ("T_BEFORE(reported_at, TIMESTAMP('2025-06-20T00:00:00Z')) AND kind <> 'dich_benh'", {"SC-008"}),
    ("reported_at >= '2025-07-15'", {"SC-001", "SC-002"}),
    ('"kind" = \'chay\' AND severity = 5', {"SC-001"}),
])
def test_cql2_text(ogc: httpx.Client, text: str, expected: set[str]) -> None:
    assert codes(ogc, text) == expected


def test_cql2_json_get_and_post_agree_with_text(ogc: httpx.Client) -> None:
    as_json = {"op": "and", "args": [
        {"op": "=", "args": [{"property": "kind"}, "chay"]},
        {"op": ">=", "args": [{"property": "severity"}, 4]},
        {"op": "t_after", "args": [{"property": "reported_at"},
                                   {"timestamp": "2025-07-01T00:00:00Z"}]}]}
    expected = codes(ogc, "kind = 'chay' AND severity >= 4")
    assert codes(ogc, as_json) == expected
    posted = ogc.post(ITEMS, params={"limit": 100}, json=as_json)
    assert posted.status_code == 200, posted.text
    assert {f["properties"]["incident_code"] for f in posted.json()["features"]} == expected


def test_filtered_next_links_keep_the_filter(ogc: httpx.Client) -> None:
    body = ogc.get(ITEMS, params={"filter": "kind = 'dich_benh'", "limit": 10}).json()
    assert body["numberMatched"] == ogc_fixtures.EXTRA_INCIDENTS
    seen = [f["id"] for f in body["features"]]
    while (href := next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)):
        body = httpx.get(href, timeout=30).json()
        seen += [f["id"] for f in body["features"]]
        assert all(f["properties"]["kind"] == "dich_benh" for f in body["features"])
    assert len(seen) == len(set(seen)) == ogc_fixtures.EXTRA_INCIDENTS

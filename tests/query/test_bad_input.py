"""Every kind of bad input the issue lists: a 4xx whose message says what to fix, never a 500,
and no SQL ever runs from a parameter."""

from __future__ import annotations

import math

import httpx
import psycopg
import pytest

from .query_fixtures import INCIDENT

LON, LAT = INCIDENT[1], INCIDENT[2]
GOOD = {"lon": LON, "lat": LAT, "radius_m": 500, "layers": "emergency.shelters"}


def refused(response: httpx.Response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    text = f"{body.get('description', '')} {body.get('hint', '')}"
    for word in words:
        assert word in text, (word, body)
    return body


def test_lon_lat_out_of_range(anon: httpx.Client) -> None:
    refused(anon.get("/query/radius", params={**GOOD, "lon": 200}), 400, "lon 200", "-180")
    refused(anon.get("/query/radius", params={**GOOD, "lat": -95}), 400, "lat -95", "-90")
    refused(anon.get("/query/point", params={"lon": "abc", "lat": LAT}), 400, "lon must be",
            "decimal")
    refused(anon.get("/query/point", params={"lon": "nan", "lat": LAT}), 400, "finite")
    refused(anon.get("/query/point", params={"lat": LAT}), 400, "'lon' is missing")


def test_lon_lat_swapped_outside_the_province(anon: httpx.Client) -> None:
    body = refused(anon.get("/query/radius", params={**GOOD, "lon": LAT, "lat": LON}), 400,
                   "swapped")
    assert f"lon={LON:g}" in body["hint"]
    # both in range, but swapped: (10.9, 50) is in range and outside; its mirror is not
    refused(anon.get("/query/point", params={"lon": 10.947, "lat": 50.0}), 400, "outside")


def test_point_outside_the_province(anon: httpx.Client) -> None:
    refused(anon.get("/query/point", params={"lon": 105.85, "lat": 21.03}), 400,
            "outside the province", "106.60")


def test_radius_not_positive_or_over_50_km(anon: httpx.Client) -> None:
    refused(anon.get("/query/radius", params={**GOOD, "radius_m": 0}), 400, "radius_m 0", "50 km")
    refused(anon.get("/query/radius", params={**GOOD, "radius_m": -5}), 400, "radius_m")
    refused(anon.get("/query/radius", params={**GOOD, "radius_m": 50_001}), 400, "50,000")
    refused(anon.get("/query/radius", params={k: v for k, v in GOOD.items() if k != "radius_m"}),
            400, "radius_m")


def test_polygon_invalid_self_intersecting(anon: httpx.Client) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[106.83, 10.93], [106.86, 10.96],
                                                  [106.86, 10.93], [106.83, 10.96],
                                                  [106.83, 10.93]]]}
    refused(anon.post("/query/region", params={"layers": "emergency.shelters"}, json=bowtie),
            400, "invalid", "Self-intersection", "redraw")


def test_polygon_over_10000_vertices(anon: httpx.Client) -> None:
    n = 10_050
    ring = [[LON + 0.01 * math.cos(2 * math.pi * i / n), LAT + 0.01 * math.sin(2 * math.pi * i / n)]
            for i in range(n)]
    ring.append(ring[0])
    refused(anon.post("/query/region", params={"layers": "emergency.shelters"},
                      json={"type": "Polygon", "coordinates": [ring]}), 400, "10,051", "10,000")


def test_polygon_larger_than_the_province(anon: httpx.Client) -> None:
    huge = {"type": "Polygon", "coordinates": [[[104, 8.5], [110, 8.5], [110, 14], [104, 14],
                                                [104, 8.5]]]}
    refused(anon.post("/query/region", params={"layers": "emergency.shelters"}, json=huge), 400,
            "more than the province")


def test_polygon_outside_the_province_or_swapped(anon: httpx.Client) -> None:
    swapped = {"type": "Polygon", "coordinates": [[[10.93, 106.83], [10.93, 106.86],
                                                   [10.96, 106.86], [10.93, 106.83]]]}
    refused(anon.post("/query/region", params={"layers": "emergency.shelters"}, json=swapped),
            400, "out of range")
    far = {"type": "Polygon", "coordinates": [[[105.8, 21.0], [105.9, 21.0], [105.9, 21.1],
                                               [105.8, 21.0]]]}
    refused(anon.post("/query/region", params={"layers": "emergency.shelters"}, json=far), 400,
            "outside the province")


def test_region_body_not_a_polygon(anon: httpx.Client) -> None:
    params = {"layers": "emergency.shelters"}
    refused(anon.post("/query/region", params=params, json={"type": "Point",
                                                            "coordinates": [LON, LAT]}),
            400, "Point", "/query/radius")
    refused(anon.post("/query/region", params=params, content=b"{not json"), 400, "not JSON")
    refused(anon.post("/query/region", params=params, content=b""), 400, "empty")
    refused(anon.post("/query/region", params=params,
                      json={"type": "Polygon", "coordinates": [[["a", "b"]]]}), 400, "coordinates")
    refused(anon.post("/query/region", params={**params, "crs": "EPSG:999999"},
                      json={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}),
            400, "coordinate system", "EPSG:5899")


def test_unknown_layer_field_or_code(anon: httpx.Client) -> None:
    refused(anon.get("/query/radius", params={**GOOD, "layers": "infra.nothing"}), 404,
            "unknown layer")
    refused(anon.get("/query/radius", params={**GOOD, "layers": "housing.houses"}), 404,
            "unknown layer")  # internal: anonymous is told it does not exist
    refused(anon.get("/query/radius", params={**GOOD, "layers": "kpi.values"}), 400,
            "no geometry", "/query/kpi")
    refused(anon.get("/query/radius", params={**GOOD, "group_by": "colour"}), 400,
            "colour", "shelter_id")
    refused(anon.get("/query/radius", params={**GOOD, "where": "colour:red"}), 400, "colour")
    refused(anon.get("/query/radius", params={**GOOD, "layers": "infra.schools",
                                              "where": "level:university"}), 400,
            "not a code", "tieu_hoc")
    refused(anon.get("/query/radius", params={**GOOD, "layers": "infra.schools",
                                              "where": "pupils:many"}), 400, "integer")
    refused(anon.get("/query/admin/99999", params={"layers": "emergency.shelters"}), 404,
            "99999")
    refused(anon.get("/query/admin/7", params={"layers": "emergency.shelters"}), 400,
            "5-digit")
    refused(anon.get("/query/admin", params={"level": "district", "layer": "infra.schools"}),
            400, "no districts")
    refused(anon.get("/query/admin", params={"layer": "infra.schools", "agg": "sum:level"}),
            400, "numeric")
    refused(anon.get("/query/admin", params={"layer": "infra.schools", "agg": "median:pupils"}),
            400, "sum:<field>")
    refused(anon.get("/query/radius", params={**GOOD, "group_by": "capacity_people",
                                              "layers": "emergency.shelters"}), 200)


def test_group_by_numeric_measurement_refused(anon: httpx.Client) -> None:
    refused(anon.get("/query/radius", params={**GOOD, "layers": "emergency.flood_zones",
                                              "group_by": "max_depth_m"}), 400, "measurement")


def test_group_by_personal_data_without_the_right(analyst: httpx.Client,
                                                  analyst_pii: httpx.Client) -> None:
    params = {**GOOD, "layers": "housing.houses", "radius_m": 1000}
    refused(analyst.get("/query/radius", params={**params, "group_by": "household_head"}), 400,
            "household_head", "commune_code")
    refused(analyst.get("/query/radius", params={**params, "where": "household_head:x"}), 400,
            "household_head")
    refused(analyst.get("/query/admin", params={"layer": "land.parcels",
                                                "agg": "count,sum:area_m2",
                                                "where": "holder_name:Trần Thị 00"}), 400,
            "holder_name")
    # the right to personal data allows it, and the field comes back in features
    allowed = analyst_pii.get("/query/radius", params={**params, "group_by": "household_head",
                                                       "limit": 1})
    assert allowed.status_code == 200, allowed.text
    houses = allowed.json()["layers"]["housing.houses"]
    assert "household_head" in houses["features"]["features"][0]["properties"]
    plain = analyst.get("/query/radius", params={**params, "limit": 1}).json()
    assert "household_head" not in plain["layers"]["housing.houses"]["features"]["features"][0][
        "properties"]


def test_sql_in_parameters_is_refused(anon: httpx.Client, qconn: psycopg.Connection) -> None:
    injections = [
        ("/query/radius", {**GOOD, "layers": "emergency.shelters;DROP TABLE admin.communes"}, 404),
        ("/query/radius", {**GOOD, "group_by": "name; DROP TABLE admin.communes"}, 400),
        ("/query/radius", {**GOOD, "where": "name) OR 1=1 --:x"}, 400),
        ("/query/radius", {**GOOD, "layers": "infra.schools",
                           "where": "commune_code:26041' OR '1'='1"}, 400),
        ("/query/radius", {**GOOD, "radius_m": "500 OR 1=1"}, 400),
        ("/query/radius", {**GOOD, "lon": "106.8;DELETE FROM admin.communes"}, 400),
        ("/query/radius", {**GOOD, "limit": "10; DROP TABLE x"}, 400),
        ("/query/radius", {**GOOD, "f": "csv'--"}, 400),
        ("/query/admin/26041%27--", {"layers": "emergency.shelters"}, 400),
        ("/query/admin", {"layer": "infra.schools", "agg": "sum:pupils);DROP TABLE x;--"}, 400),
        ("/query/kpi", {"period": "2025' OR '1'='1"}, 400),
        ("/scenarios/education", {"level": "thcs'--"}, 400),
    ]
    for path, params, status in injections:
        response = anon.get(path, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.json().get("description"), response.text
    assert qconn.execute("SELECT count(*) FROM admin.communes").fetchone()[0] == 4


def test_unknown_parameters_are_named(anon: httpx.Client) -> None:
    refused(anon.get("/query/radius", params={**GOOD, "radius": 500}), 400, "'radius'",
            "radius_m")
    refused(anon.get("/query/radius", params={**GOOD, "f": "xml"}), 400, "xml", "geojson")
    refused(anon.get("/query/radius", params={**GOOD, "limit": 100_000}), 400, "limit")
    refused(anon.get("/query/radius", params={**GOOD, "f": "csv", "table": "rows"}), 400,
            "table=groups")


def test_a_query_too_long_is_stopped_with_advice(analyst: httpx.Client,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from iocgis.api.query import engine

    monkeypatch.setattr(engine, "STATEMENT_TIMEOUT_MS", 1)
    slow = analyst.get("/query/admin/75", params={"layers": "housing.houses,land.parcels"})
    body = refused(slow, 503, "longer than", "narrow it")
    assert body["code"] == "TemporarilyUnavailable" and int(slow.headers["retry-after"]) >= 1

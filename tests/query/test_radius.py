"""``/query/radius``: counts, groups and totals against independent SQL, distances against
pyproj's geodesic on the WGS84 ellipsoid."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from pyproj import Geod

from .query_fixtures import INCIDENT

GEOD = Geod(ellps="WGS84")
LON, LAT = INCIDENT[1], INCIDENT[2]


def independent_houses_by_commune(conn: psycopg.Connection, radius: float) -> dict[str, tuple]:
    """Poor households within ``radius`` metres, by commune: ST_Distance (not ST_DWithin)."""
    rows = conn.execute(
        "SELECT commune_code, count(*), count(*) FILTER (WHERE is_poor),"
        " count(*) FILTER (WHERE is_near_poor), count(*) FILTER (WHERE is_temporary),"
        " sum(household_size), sum(ST_Area(footprint::geography))"  # measured by the footprint
        " FROM housing.houses"
        " WHERE ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography)"
        " <= %s GROUP BY 1", (LON, LAT, radius)).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_poor_households_within_2km_of_the_incident_by_commune(analyst: httpx.Client,
                                                               qconn: psycopg.Connection) -> None:
    """The planner's question, one call: poor households within 2 km of the flood, by commune."""
    response = analyst.get("/query/radius", params={
        "lon": LON, "lat": LAT, "radius_m": 2000, "layers": "housing.houses",
        "group_by": "commune_code", "where": "is_poor:true", "limit": 0})
    assert response.status_code == 200, response.text
    body = response.json()
    result = body["layers"]["housing.houses"]
    expected = independent_houses_by_commune(qconn, 2000)
    poor = {code: row[1] for code, row in expected.items() if row[1]}
    assert {g["key"]: g["count"] for g in result["groups"]} == poor
    assert result["count"] == sum(poor.values()) > 0
    assert len(poor) >= 2  # the circle spans several communes
    assert body["query"]["radius_m"] == 2000 and body["query"]["operation"] == "radius"


def test_radius_groups_carry_totals_flags_and_areas(analyst: httpx.Client,
                                                    qconn: psycopg.Connection) -> None:
    response = analyst.get("/query/radius", params={
        "lon": LON, "lat": LAT, "radius_m": 1500, "layers": "housing.houses",
        "group_by": "commune_code", "limit": 0})
    assert response.status_code == 200, response.text
    groups = {g["key"]: g for g in response.json()["layers"]["housing.houses"]["groups"]}
    expected = independent_houses_by_commune(qconn, 1500)
    assert set(groups) == set(expected)
    for code, (count, poor, near_poor, temporary, people, area) in expected.items():
        group = groups[code]
        assert group["count"] == count
        assert group["true_count"] == {"is_poor": poor, "is_near_poor": near_poor,
                                       "is_temporary": temporary}
        assert group["sum"]["household_size"] == people
        assert group["avg"]["household_size"] == pytest.approx(people / count)
        assert group["measured_area_m2"] == pytest.approx(area, abs=0.01)
        # floors, height and year are not totalled (the registry says total: false)
        assert set(group["sum"]) == {"household_size"}


def test_radius_distances_match_the_geodesic(anon: httpx.Client,
                                             qconn: psycopg.Connection) -> None:
    """Every shelter within 5 km, nearest first, each distance within 0.1 % of pyproj.Geod."""
    response = anon.get("/query/radius", params={"lon": LON, "lat": LAT, "radius_m": 5000,
                                                 "layers": "emergency.shelters"})
    assert response.status_code == 200, response.text
    features = response.json()["layers"]["emergency.shelters"]["features"]["features"]
    expected = {}
    for sid, lon, lat in qconn.execute(
            "SELECT shelter_id, ST_X(geom), ST_Y(geom) FROM emergency.shelters").fetchall():
        distance = GEOD.inv(LON, LAT, lon, lat)[2]
        if distance <= 5000:
            expected[sid] = distance
    assert [f["properties"]["shelter_id"] for f in features] == sorted(expected,
                                                                       key=expected.get)
    for feature in features:
        got = feature["properties"]["distance_m"]
        assert got == pytest.approx(expected[feature["properties"]["shelter_id"]], rel=1e-3)


def test_radius_paging_keeps_the_counts(anon: httpx.Client) -> None:
    params = {"lon": LON, "lat": LAT, "radius_m": 6000, "layers": "emergency.shelters"}
    whole = anon.get("/query/radius", params=params).json()["layers"]["emergency.shelters"]
    page = anon.get("/query/radius", params={**params, "limit": 2, "offset": 1}).json()
    page = page["layers"]["emergency.shelters"]
    assert page["count"] == whole["count"]
    ids = [f["id"] for f in whole["features"]["features"]]
    assert [f["id"] for f in page["features"]["features"]] == ids[1:3]
    assert page["features"]["numberMatched"] == whole["count"]


def test_a_caller_limited_to_a_commune_sees_only_its_rows(scoped: httpx.Client,
                                                         qconn: psycopg.Connection) -> None:
    params = {"lon": LON, "lat": LAT, "radius_m": 2000, "group_by": "commune_code", "limit": 0}
    houses = scoped.get("/query/radius", params={**params, "layers": "housing.houses"})
    assert houses.status_code == 200, houses.text
    expected = independent_houses_by_commune(qconn, 2000)
    assert {g["key"]: g["count"] for g in houses.json()["layers"]["housing.houses"]["groups"]} \
        == {"26041": expected["26041"][0]}
    table = scoped.get("/query/admin", params={"layer": "housing.houses"}).json()["rows"]
    assert {r["code"] for r in table if r["count"]} == {"26041"}
    flood = scoped.get("/scenarios/flood", params={"incident": INCIDENT[0]}).json()
    assert {g["key"] for g in flood["layers"]["houses_near"]["groups"]} == {"26041"}

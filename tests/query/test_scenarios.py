"""Scenario presets over HTTP, each step checked against independent SQL; callers authenticate
with API keys made through the security module (anonymous sees public layers only)."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from pyproj import Geod

from .query_fixtures import INCIDENT

GEOD = Geod(ellps="WGS84")
CODE, LON, LAT = INCIDENT


def test_scenarios_list_only_what_the_caller_may_see(anon: httpx.Client,
                                                     analyst: httpx.Client) -> None:
    public = {s["name"] for s in anon.get("/scenarios").json()["scenarios"]}
    # the others read internal layers
    assert public == {"education", "planning_check", "planning_lookup"}
    listed = analyst.get("/scenarios").json()["scenarios"]
    assert {s["name"] for s in listed} == {"education", "flood", "health", "land",
                                           "planning_check", "planning_lookup"}
    flood = next(s for s in listed if s["name"] == "flood")
    assert flood["parameters"]["radius_m"]["default"] == 2000
    assert flood["parameters"]["radius_m"]["max"] == 50000
    assert anon.get("/scenarios/flood", params={"incident": CODE}).status_code == 404


def test_flood_poor_households_within_2km_by_commune(analyst: httpx.Client,
                                                     qconn: psycopg.Connection) -> None:
    """Done-when question, one call: poor households within 2 km of this incident, by commune."""
    response = analyst.get("/scenarios/flood", params={"incident": CODE, "radius_m": 2000})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scenario"]["name"] == "flood"
    steps = body["layers"]
    assert set(steps) == {"houses_near", "shelters", "health_facilities"}
    expected = qconn.execute(
        "SELECT h.commune_code, count(*), count(*) FILTER (WHERE h.is_poor),"
        " count(*) FILTER (WHERE h.is_near_poor), count(*) FILTER (WHERE h.is_temporary),"
        " sum(h.household_size) FROM housing.houses h, emergency.incidents i"
        " WHERE i.incident_code = %s"
        " AND ST_Distance(h.geom::geography, i.geom::geography) <= 2000 GROUP BY 1",
        (CODE,)).fetchall()
    groups = {g["key"]: g for g in steps["houses_near"]["groups"]}
    assert set(groups) == {r[0] for r in expected} and len(groups) >= 2
    for code, count, poor, near_poor, temporary, people in expected:
        assert groups[code]["count"] == count
        assert groups[code]["true_count"] == {"is_poor": poor, "is_near_poor": near_poor,
                                              "is_temporary": temporary}
        assert groups[code]["sum"] == {"household_size": people}
    assert steps["houses_near"]["features"]["features"] == []  # totals only
    assert steps["houses_near"]["layer"] == "housing.houses"
    for step, layer, key in (("shelters", "emergency.shelters", "shelter_id"),
                             ("health_facilities", "infra.health_facilities", "facility_id")):
        schema, table = layer.split(".")
        ranked = sorted((GEOD.inv(LON, LAT, x, y)[2], fid) for fid, x, y in qconn.execute(
            f"SELECT {key}, ST_X(geom), ST_Y(geom) FROM {schema}.{table}").fetchall())
        features = steps[step]["features"]["features"]
        assert [f["properties"][key] for f in features] == [f for _, f in ranked[:5]]
        for feature, (distance, _) in zip(features, ranked):
            assert feature["properties"]["distance_m"] == pytest.approx(distance, rel=1e-3)


def test_flood_zone_scenario_counts_houses_inside(analyst: httpx.Client,
                                                  qconn: psycopg.Connection) -> None:
    response = analyst.get("/scenarios/flood", params={"scenario": "bao_dong_2"})
    assert response.status_code == 200, response.text
    steps = response.json()["layers"]
    assert set(steps) == {"houses_flooded"}  # no place given: no radius, no nearest
    expected = dict(qconn.execute(
        "SELECT h.commune_code, count(DISTINCT h.fid) FROM housing.houses h JOIN"
        " emergency.flood_zones z ON ST_Intersects(h.geom, z.geom)"
        " WHERE z.scenario = 'bao_dong_2' GROUP BY 1").fetchall())
    assert {g["key"]: g["count"] for g in steps["houses_flooded"]["groups"]} == expected
    assert sum(expected.values()) > 0


def test_flood_from_a_point_and_radius(analyst: httpx.Client, qconn: psycopg.Connection) -> None:
    response = analyst.get("/scenarios/flood", params={"point": f"{LON},{LAT}",
                                                       "radius_m": 800, "nearest": 2})
    assert response.status_code == 200, response.text
    steps = response.json()["layers"]
    expected = qconn.execute(
        "SELECT count(*) FROM housing.houses WHERE ST_Distance(geom::geography,"
        " ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) <= 800", (LON, LAT)).fetchone()[0]
    assert steps["houses_near"]["count"] == expected > 0
    assert len(steps["shelters"]["features"]["features"]) == 2


def test_planning_check_of_a_parcel(analyst: httpx.Client, qconn: psycopg.Connection) -> None:
    """Done-when question, one call: which approved plan covers this parcel."""
    # A parcel inside the approved zone Z1-B (project QH-001).
    commune, sheet, number = qconn.execute(
        "SELECT commune_code, sheet_no, parcel_no FROM land.parcels p WHERE EXISTS (SELECT 1"
        " FROM planning.zones z WHERE z.zone_code = 'Z1-B' AND ST_Intersects(z.geom, p.geom))"
        " ORDER BY fid LIMIT 1").fetchone()
    parcel = f"{commune}/{sheet}/{number}"
    response = analyst.get("/scenarios/planning_check", params={"parcel": parcel})
    assert response.status_code == 200, response.text
    steps = response.json()["layers"]
    expected_zones = dict(qconn.execute(
        "SELECT z.zone_code, ST_Area(ST_Intersection(z.geom, p.geom)::geography)"
        " FROM planning.zones z JOIN planning.projects pr USING (project_code)"
        " JOIN land.parcels p ON ST_Intersects(z.geom, p.geom)"
        " WHERE pr.status = 'da_phe_duyet' AND p.commune_code = %s AND p.sheet_no = %s"
        " AND p.parcel_no = %s", (commune, sheet, number)).fetchall())
    zones = {f["properties"]["zone_code"]: f["properties"]
             for f in steps["zones"]["features"]["features"]}
    assert set(zones) == set(expected_zones) and expected_zones
    for code, area in expected_zones.items():
        assert zones[code]["measured_area_m2"] == pytest.approx(area, rel=1e-6)
        assert zones[code]["far_max"] is not None  # the zone's indicators come along
    expected_projects = {r[0] for r in qconn.execute(
        "SELECT pr.project_code FROM planning.projects pr JOIN land.parcels p"
        " ON ST_Intersects(pr.geom, p.geom) WHERE pr.status = 'da_phe_duyet'"
        " AND p.commune_code = %s AND p.sheet_no = %s AND p.parcel_no = %s",
        (commune, sheet, number)).fetchall()}
    got = {f["properties"]["project_code"] for f in steps["projects"]["features"]["features"]}
    assert got == expected_projects == {"QH-001"}


def test_planning_check_of_a_point_is_public(anon: httpx.Client, qconn: psycopg.Connection) -> None:
    lon, lat = 106.835, 10.945  # inside Z1-B (approved) and Z2-A (draft)
    response = anon.get("/scenarios/planning_check", params={"point": f"{lon},{lat}"})
    assert response.status_code == 200, response.text
    zones = [f["properties"]["zone_code"]
             for f in response.json()["layers"]["zones"]["features"]["features"]]
    expected = [r[0] for r in qconn.execute(
        "SELECT z.zone_code FROM planning.zones z JOIN planning.projects p USING (project_code)"
        " WHERE p.status = 'da_phe_duyet' AND ST_Intersects(z.geom,"
        " ST_SetSRID(ST_MakePoint(%s, %s), 4326))", (lon, lat)).fetchall()]
    assert zones == expected == ["Z1-B"]
    # parcels are internal: for an anonymous caller the scenario has no parcel parameter (its
    # list, its form and its answers never name the layer), as if it had never had one
    listed = anon.get("/scenarios").text
    assert "land.parcels" not in listed and '"parcel"' not in listed
    refused = anon.get("/scenarios/planning_check", params={"parcel": "26041/1/1"})
    assert refused.status_code == 400 and "unknown parameter 'parcel'" in refused.text
    assert "land.parcels" not in refused.text


def test_land_parcels_by_use_in_a_commune(analyst: httpx.Client, qconn: psycopg.Connection) -> None:
    response = analyst.get("/scenarios/land", params={"commune": "26041", "land_use": "ODT|ONT",
                                                      "limit": 3})
    assert response.status_code == 200, response.text
    parcels = response.json()["layers"]["parcels"]
    expected = qconn.execute(
        "SELECT land_use, count(*), sum(area_m2), sum(ST_Area(geom::geography))"
        " FROM land.parcels WHERE commune_code = '26041' AND land_use IN ('ODT', 'ONT')"
        " GROUP BY 1 ORDER BY 1").fetchall()
    assert [(g["key"], g["count"]) for g in parcels["groups"]] == [(r[0], r[1]) for r in expected]
    for group, (_, _, legal, measured) in zip(parcels["groups"], expected):
        assert group["sum"]["area_m2"] == pytest.approx(legal)
        assert group["measured_area_m2"] == pytest.approx(measured, abs=0.01)
        assert group["label"]["vi"].startswith("Đất ở")
    assert len(parcels["features"]["features"]) == 3
    assert "holder_name" not in parcels["features"]["features"][0]["properties"]


def test_education_schools_near_a_place_and_communes_over_target(
        anon: httpx.Client, qconn: psycopg.Connection) -> None:
    response = anon.get("/scenarios/education", params={"place": "KDC1", "radius_m": 3000})
    assert response.status_code == 200, response.text
    steps = response.json()["layers"]
    near = qconn.execute(
        "SELECT count(*) FROM infra.schools s, base.places p WHERE p.place_id = 'KDC1'"
        " AND ST_Distance(s.geom::geography, p.geom::geography) <= 3000").fetchone()[0]
    assert steps["schools_near"]["count"] == near > 0
    # the target comes from kpi.indicators GD_HS_TRUONG: at most 1000 pupils per school
    per_commune = qconn.execute(
        "SELECT commune_code, sum(pupils)::float8 / count(*) FROM infra.schools GROUP BY 1"
    ).fetchall()
    failing = {code for code, ratio in per_commune if ratio > 1000}
    groups = steps["communes_over_target"]["groups"]
    assert {g["key"] for g in groups} == failing and failing
    for group in groups:
        ratio = group["ratios"]["pupils_per_school"]
        assert ratio["status"] == "not_met" and ratio["target"] == 1000
        assert ratio["value"] == pytest.approx(dict(per_commune)[group["key"]])
    # an explicit target overrides the indicator's
    strict = anon.get("/scenarios/education", params={"max_pupils_per_school": 700})
    keys = {g["key"] for g in strict.json()["layers"]["communes_over_target"]["groups"]}
    assert keys == {code for code, ratio in per_commune if ratio > 700}


def test_health_houses_far_from_any_facility(analyst: httpx.Client,
                                             qconn: psycopg.Connection) -> None:
    response = analyst.get("/scenarios/health", params={"distance_m": 2500, "limit": 0})
    assert response.status_code == 200, response.text
    expected = dict(qconn.execute(
        "SELECT h.commune_code, count(*) FROM housing.houses h WHERE NOT EXISTS (SELECT 1"
        " FROM infra.health_facilities f WHERE ST_Distance(f.geom::geography,"
        " h.geom::geography) <= 2500) GROUP BY 1").fetchall())
    groups = response.json()["layers"]["houses_far"]["groups"]
    assert {g["key"]: g["count"] for g in groups} == expected and expected
    hospitals = analyst.get("/scenarios/health", params={"distance_m": 2500, "kind": "benh_vien",
                                                         "commune": "26044", "limit": 0})
    assert hospitals.status_code == 200, hospitals.text
    expected = qconn.execute(
        "SELECT count(*) FROM housing.houses h JOIN admin.communes c ON ST_Intersects(h.geom,"
        " c.geom) WHERE c.code = '26044' AND NOT EXISTS (SELECT 1 FROM infra.health_facilities f"
        " WHERE f.kind = 'benh_vien' AND ST_Distance(f.geom::geography, h.geom::geography)"
        " <= 2500)").fetchone()[0]
    assert hospitals.json()["layers"]["houses_far"]["count"] == expected > 0


def test_scenario_bad_parameters(analyst: httpx.Client) -> None:
    cases = [
        ({}, 400, "needs one of"),
        ({"incident": "NO-SUCH"}, 404, "NO-SUCH"),
        ({"incident": CODE, "radius_m": "0"}, 400, "radius_m"),
        ({"incident": CODE, "radius_m": "60000"}, 400, "radius_m"),
        ({"scenario": "tsunami"}, 400, "bao_dong_2"),
        ({"point": "10.94,106.84"}, 400, "swapped"),
        ({"incident": CODE, "radius": "100"}, 400, "radius"),
    ]
    for params, status, words in cases:
        response = analyst.get("/scenarios/flood", params=params)
        assert response.status_code == status, (params, response.text)
        assert words in response.text, (params, response.text)
    assert analyst.get("/scenarios/nope").status_code == 404
    response = analyst.get("/scenarios/land", params={"commune": "99999"})
    assert response.status_code == 404 and "99999" in response.text
    response = analyst.get("/scenarios/planning_check", params={"parcel": "26041-1-1"})
    assert response.status_code == 400 and "commune_code/sheet_no/parcel_no" in response.text

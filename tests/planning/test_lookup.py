"""The planning lookup over HTTP: a detailed plan whose zones come from its DXF drawing
(imported through the dossier), approved by a decision; a master plan from the layer alone;
an adjustment that supersedes one zone from its effective date while "as of" an earlier day
still returns the old one; a pending adjustment flagged; point, parcel, parcel id and drawn
polygon; JSON and GeoJSON; the access plan (parcels are internal)."""

from __future__ import annotations

import httpx
import psycopg
import pytest
import shapely
from pyproj import Geod

from ..security.security_helpers import insert_sample
from .conftest import (
    LOOKUP_ADJUSTMENT as ADJUSTMENT,
)
from .conftest import (
    LOOKUP_PARCEL as PARCEL,
)
from .conftest import (
    LOOKUP_PLAN as PLAN,
)
from .conftest import (
    MASTER_PLAN,
    REGIONS,
    halves,
    straddling_parcel,
)


def centre(polygon: shapely.Polygon) -> str:
    point = polygon.representative_point()
    return f"{point.x},{point.y}"


def lookup(client: httpx.Client, **params: str) -> dict:
    response = client.get("/planning/lookup", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def zones_of(body: dict) -> dict[str, dict]:
    return {z["zone_code"]: z for plan in body["plans"] for z in plan["zones"]}


def plan_of(body: dict, code: str) -> dict:
    return next(p for p in body["plans"] if p["project_code"] == code)


def test_a_parcel_in_the_detailed_plan_gets_its_zones_limits_and_decision(
        clients: dict[str, httpx.Client], approved_plan: dict) -> None:
    body = lookup(clients["analyst"], parcel=PARCEL, as_of="2024-06-01")
    assert [p["project_code"] for p in body["plans"]] == [MASTER_PLAN, PLAN]  # master first
    zones = zones_of(body)
    assert set(zones) == {"QHC-ODT-01", "LK-ODT-01", "LK-TMD-01"}
    area = body["place"]["area_m2"]
    geodesic = abs(Geod(ellps="WGS84").geometry_area_perimeter(straddling_parcel(PLAN))[0])
    assert area == pytest.approx(geodesic, rel=1e-3)  # geodesic m², not degrees
    assert zones["QHC-ODT-01"]["share"] == pytest.approx(1.0, abs=1e-3)
    assert zones["LK-ODT-01"]["share"] == pytest.approx(0.5, abs=0.01)
    assert zones["LK-ODT-01"]["overlap_m2"] == pytest.approx(area / 2, rel=0.02)
    odt = zones["LK-ODT-01"]
    assert odt["land_use"] == {"code": "ODT", "vi": "Đất ở tại đô thị",
                               "en": "Urban residential land"}
    assert (odt["density_max_pct"], odt["far_max"], odt["floors_max"]) == (60.0, 3.0, 5)
    assert set(odt["limits_from_label"]) == {"density_max_pct", "far_max", "floors_max"}
    assert zones["QHC-ODT-01"]["far_max"] == 2.5 and zones["QHC-ODT-01"]["limits_from_label"] == []
    detailed = plan_of(body, PLAN)
    assert detailed["decision"]["number"] == "789/QĐ-UBND"
    assert detailed["decision"]["authority"] == "UBND tỉnh Đồng Nai"
    assert detailed["decision"]["date"] == "2024-02-20"
    assert detailed["decision"]["document"]["href"] == \
        f"/planning/documents/{approved_plan['decision']['id']}"
    assert detailed["kind"]["vi"] == "Quy hoạch chi tiết" and detailed["scale"] == "1:500"
    master = plan_of(body, MASTER_PLAN)
    assert master["decision"] == {"number": "1234/QĐ-TTg", "date": "2019-05-10",
                                  "effective_date": None, "authority": "Thủ tướng Chính phủ",
                                  "signer": None, "document": None,
                                  "source": "planning.projects"}
    assert body["place"]["parcel"]["sheet_no"] == 502
    assert "holder_name" not in str(body) and "Nguyễn Văn Thử" not in str(body)
    by_id = lookup(clients["analyst"], parcel_id=str(body["place"]["parcel"]["fid"]),
                   as_of="2024-06-01")
    assert zones_of(by_id).keys() == zones.keys()


def test_an_adjustment_supersedes_a_zone_from_its_date_and_is_pending_before(
        clients: dict[str, httpx.Client], approved_plan: dict) -> None:
    officer, analyst, anonymous = clients["gis_officer"], clients["analyst"], clients["anonymous"]
    adjustment_id = approved_plan["adjustment"]["id"]
    east_point = centre(halves(PLAN)[1])
    draft = plan_of(lookup(analyst, parcel=PARCEL, as_of="2024-06-01"), PLAN)
    assert draft["newer_adjustment_pending"] is True
    assert draft["pending_adjustments"][0]["project_code"] == ADJUSTMENT
    assert draft["pending_adjustments"][0]["status"] == "draft"
    public = plan_of(lookup(anonymous, point=east_point, as_of="2024-06-01"), PLAN)
    assert public["newer_adjustment_pending"] is False  # a draft is internal
    assert officer.post(f"/planning/manage/dossiers/{adjustment_id}/status",
                        json={"status": "consultation"}).status_code == 200
    public = plan_of(lookup(anonymous, point=east_point, as_of="2024-06-01"), PLAN)
    assert public["pending_adjustments"][0]["status"] == "consultation"
    assert officer.put(f"/planning/manage/dossiers/{adjustment_id}/decision", json={
        "number": "99/QĐ-UBND", "decision_date": "2024-12-15", "effective_date": "2025-01-01",
        "authority": "UBND tỉnh Đồng Nai"}).status_code == 200
    approved = officer.post(f"/planning/manage/dossiers/{adjustment_id}/status",
                            json={"status": "approved"})
    assert approved.status_code == 200, approved.text
    parent = analyst.get(f"/planning/dossiers/{approved_plan['dossier']['id']}").json()
    assert parent["status"] == "adjusted" and parent["adjustments"][0]["id"] == adjustment_id

    before = lookup(analyst, parcel=PARCEL, as_of="2024-06-01")
    assert set(zones_of(before)) == {"QHC-ODT-01", "LK-ODT-01", "LK-TMD-01"}
    assert plan_of(before, PLAN)["pending_adjustments"][0]["effective_from"] == "2025-01-01"
    after = lookup(analyst, parcel=PARCEL, as_of="2025-06-01")
    assert set(zones_of(after)) == {"QHC-ODT-01", "LK-ODT-01", "LK-DVH-01"}
    assert plan_of(after, PLAN)["newer_adjustment_pending"] is False
    adjusted = plan_of(after, ADJUSTMENT)
    assert adjusted["name"] == "Điều chỉnh cục bộ quy hoạch chi tiết khu LK"
    assert adjusted["decision"]["number"] == "99/QĐ-UBND"
    assert adjusted["dossier"]["adjusts"]["project_code"] == PLAN
    earliest = lookup(analyst, parcel=PARCEL, as_of="2023-01-01")
    assert set(zones_of(earliest)) == {"QHC-ODT-01"}  # before the detailed plan took effect


def test_points_polygons_and_geojson(clients: dict[str, httpx.Client],
                                     approved_plan: dict) -> None:
    anonymous = clients["anonymous"]
    west, _ = halves(PLAN)
    at_point = lookup(anonymous, point=centre(west), as_of="2024-06-01")
    assert set(zones_of(at_point)) == {"QHC-ODT-01", "LK-ODT-01"}
    assert zones_of(at_point)["LK-ODT-01"]["share"] is None and at_point["place"]["kind"] == "point"
    region = shapely.geometry.mapping(straddling_parcel(PLAN))
    drawn = anonymous.post("/planning/lookup", params={"as_of": "2024-06-01"}, json=region)
    assert drawn.status_code == 200, drawn.text
    assert zones_of(drawn.json())["LK-TMD-01"]["share"] == pytest.approx(0.5, abs=0.01)
    geojson = anonymous.get("/planning/lookup", params={"point": centre(west), "f": "geojson",
                                                        "as_of": "2024-06-01"})
    assert geojson.headers["content-type"].startswith("application/geo+json")
    features = geojson.json()["features"]
    zone = next(f for f in features if f["id"] == "LK-ODT-01")
    assert zone["geometry"]["type"] == "MultiPolygon"
    assert zone["properties"]["land_use_vi"] == "Đất ở tại đô thị"
    assert zone["properties"]["decision_number"] == "789/QĐ-UBND"
    assert features[-1]["properties"]["role"] == "point"


def test_the_lookup_follows_the_access_plan_and_checks_its_input(
        clients: dict[str, httpx.Client], approved_plan: dict) -> None:
    anonymous, analyst = clients["anonymous"], clients["analyst"]
    hidden = anonymous.get("/planning/lookup", params={"parcel": PARCEL})
    assert hidden.status_code == 404 and "unknown layer" in hidden.json()["description"]
    missing = analyst.get("/planning/lookup", params={"parcel": "26041/999/9"})
    assert missing.status_code == 404
    for params, where in (({"point": "106.84,10.95", "parcel": PARCEL}, "point,parcel"),
                          ({}, "point,parcel,parcel_id"),
                          ({"point": "106.84,10.95", "as_of": "2024-13-01"}, "as_of"),
                          ({"point": "106.84,10.95", "f": "xml"}, "f"),
                          ({"parcel": "26041/502"}, "parcel")):
        response = analyst.get("/planning/lookup", params=params)
        assert response.status_code == 400 and response.json()["where"] == where, response.text
    west, south, east, north = REGIONS[PLAN]
    assert west < 106.85 and south > 10.9  # the fixtures lie inside the province frame


def test_the_lookup_is_a_scenario_preset(clients: dict[str, httpx.Client],
                                         approved_plan: dict) -> None:
    analyst = clients["analyst"]
    listed = {s["name"]: s for s in analyst.get("/scenarios").json()["scenarios"]}
    assert listed["planning_lookup"]["service"] == "planning_lookup"
    assert set(listed["planning_lookup"]["parameters"]) == {"point", "parcel", "as_of"}
    preset = analyst.get("/scenarios/planning_lookup",
                         params={"parcel": PARCEL, "as_of": "2024-06-01"})
    assert preset.status_code == 200, preset.text
    body = preset.json()
    assert body.pop("scenario")["name"] == "planning_lookup"
    assert body == lookup(analyst, parcel=PARCEL, as_of="2024-06-01")
    assert any(z["zone_code"] == "LK-ODT-01" for p in body["plans"] for z in p["zones"])
    sheet = analyst.get("/scenarios/planning_lookup", params={"parcel": PARCEL, "f": "pdf"})
    assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")
    anonymous = clients["anonymous"]  # parcels are internal: no parcel parameter for them
    assert "parcel" not in {s["name"]: s for s in anonymous.get("/scenarios").json()[
        "scenarios"]}["planning_lookup"]["parameters"]
    refused = anonymous.get("/scenarios/planning_lookup", params={"parcel": PARCEL})
    assert refused.status_code == 400 and "parcel" in refused.json()["description"]
    point = anonymous.get("/scenarios/planning_lookup",
                          params={"point": centre(halves(PLAN)[0])})
    assert point.status_code == 200 and point.json()["plans_count"] >= 1
    none = analyst.get("/scenarios/planning_lookup")
    assert none.status_code == 400 and none.json()["where"] == "point,parcel"


def test_a_plan_whose_zone_only_touches_a_drawn_place_is_not_listed(
        clients: dict[str, httpx.Client], planning_db_url: str, approved_plan: dict) -> None:
    """The zones and the plans are read in one pipeline, so the plans statement finds plans
    through the zones' own test: a plan (without an outline) whose only zone shares an edge
    with the place, and no area, is dropped with that zone; a point on the edge finds both."""
    west, south, east, north = REGIONS[PLAN]
    with psycopg.connect(planning_db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM planning.zones WHERE zone_code = 'EDGE-ODT-01'")
        conn.execute("DELETE FROM planning.projects WHERE project_code = 'QHCT-EDGE'")
        insert_sample(conn, "planning.projects", project_code="QHCT-EDGE",
                      name="Quy hoạch chi tiết khu giáp ranh", kind="chi_tiet", level="do_thi",
                      scale="1:500", status="da_phe_duyet", approving_authority=None,
                      decision_no="5/QĐ-UBND", decision_date="2020-01-01", geom=None)
        insert_sample(conn, "planning.zones", zone_code="EDGE-ODT-01", project_code="QHCT-EDGE",
                      land_use="ODT", far_max=2.0, density_max_pct=50, height_max_m=15,
                      floors_max=4, label="Giáp ranh",
                      geom=shapely.MultiPolygon([shapely.box(east, south, east + 0.001,
                                                             north)]).wkt)
    middle = (south + north) / 2
    inside = shapely.box(east - 0.0003, middle - 0.0002, east, middle + 0.0002)
    drawn = clients["analyst"].post("/planning/lookup", params={"as_of": "2024-06-01"},
                                    json=shapely.geometry.mapping(inside))
    assert drawn.status_code == 200, drawn.text
    body = drawn.json()
    assert "QHCT-EDGE" not in [p["project_code"] for p in body["plans"]]
    assert PLAN in [p["project_code"] for p in body["plans"]]  # its outline covers the place
    assert "EDGE-ODT-01" not in zones_of(body)
    on_edge = lookup(clients["analyst"], point=f"{east},{middle}", as_of="2024-06-01")
    assert "QHCT-EDGE" in [p["project_code"] for p in on_edge["plans"]]
    assert zones_of(on_edge)["EDGE-ODT-01"]["project_code"] == "QHCT-EDGE"

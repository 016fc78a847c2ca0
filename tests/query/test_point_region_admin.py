"""``/query/point``, ``POST /query/region``, ``/query/admin/{code}`` and the choropleth table,
each against independent PostGIS SQL written here."""

from __future__ import annotations

import csv
import io

import httpx
import psycopg
import pytest
from pyproj import Geod

from .query_fixtures import INCIDENT

GEOD = Geod(ellps="WGS84")
LON, LAT = INCIDENT[1], INCIDENT[2]
# A drawn polygon around the middle of the grid (an L-shape, so clipping matters).
DRAWN = {"type": "Polygon", "coordinates": [[
    [106.835, 10.935], [106.865, 10.935], [106.865, 10.950], [106.850, 10.950],
    [106.850, 10.965], [106.835, 10.965], [106.835, 10.935]]]}
DRAWN_WKT = ("POLYGON((106.835 10.935,106.865 10.935,106.865 10.95,106.85 10.95,"
             "106.85 10.965,106.835 10.965,106.835 10.935))")


def test_point_lists_polygons_containing_it_and_nearest_points(anon: httpx.Client,
                                                               qconn: psycopg.Connection) -> None:
    response = anon.get("/query/point", params={
        "lon": LON, "lat": LAT, "layers": "admin.communes,planning.zones,emergency.flood_zones,"
                                          "emergency.shelters", "nearest": 3})
    assert response.status_code == 200, response.text
    layers = response.json()["layers"]
    for layer, key in (("admin.communes", "code"), ("planning.zones", "zone_code"),
                       ("emergency.flood_zones", "zone_code")):
        schema, table = layer.split(".")
        expected = {r[0] for r in qconn.execute(
            f"SELECT {key} FROM {schema}.{table} WHERE ST_Contains(geom,"
            " ST_SetSRID(ST_MakePoint(%s, %s), 4326))", (LON, LAT)).fetchall()}
        got = {f["properties"][key] for f in layers[layer]["features"]["features"]}
        assert got == expected and layers[layer]["count"] == len(expected)
    assert layers["admin.communes"]["count"] == 1
    by_distance = sorted(
        (GEOD.inv(LON, LAT, x, y)[2], sid) for sid, x, y in qconn.execute(
            "SELECT shelter_id, ST_X(geom), ST_Y(geom) FROM emergency.shelters").fetchall())
    nearest = layers["emergency.shelters"]["features"]["features"]
    assert [f["properties"]["shelter_id"] for f in nearest] == [s for _, s in by_distance[:3]]
    for feature, (distance, _) in zip(nearest, by_distance):
        assert feature["properties"]["distance_m"] == pytest.approx(distance, rel=1e-3)


def test_point_with_tolerance_finds_polygons_nearby(anon: httpx.Client,
                                                    qconn: psycopg.Connection) -> None:
    # On the shared corner of the four communes, 50 m of tolerance touches all four.
    response = anon.get("/query/point", params={"lon": 106.8501, "lat": 10.9501,
                                                 "layers": "admin.communes", "tolerance_m": 50})
    assert response.status_code == 200, response.text
    expected = qconn.execute(
        "SELECT count(*) FROM admin.communes WHERE ST_Distance(geom::geography,"
        " ST_SetSRID(ST_MakePoint(106.8501, 10.9501), 4326)::geography) <= 50").fetchone()[0]
    assert response.json()["layers"]["admin.communes"]["count"] == expected == 4


def test_point_samples_rasters_too(anon: httpx.Client) -> None:
    response = anon.get("/query/point", params={"lon": 106.8555, "lat": 10.9444,
                                                 "layers": "admin.communes",
                                                 "rasters": "dem_test"})
    assert response.status_code == 200, response.text
    sample = response.json()["rasters"]["dem_test"]
    assert sample["value"] == 55 * 1000 + 55


def test_region_counts_and_clipped_areas(analyst: httpx.Client, qconn: psycopg.Connection) -> None:
    response = analyst.post("/query/region", params={
        "layers": "housing.houses,planning.zones,base.roads", "group_by": "commune_code",
        "limit": 5}, json=DRAWN)
    # planning.zones and base.roads have no commune_code: the request says which layer lacks it
    assert response.status_code == 400
    assert "planning.zones" in response.json()["description"]
    response = analyst.post("/query/region", params={
        "layers": "housing.houses,planning.zones,base.roads"}, json=DRAWN)
    assert response.status_code == 200, response.text
    layers = response.json()["layers"]
    # houses are counted by their position and measured by their footprint
    for layer, measure, shape in (("housing.houses", "ST_Area", "footprint"),
                                  ("planning.zones", "ST_Area", "geom"),
                                  ("base.roads", "ST_Length", "geom")):
        schema, table = layer.split(".")
        count, total = qconn.execute(
            f"SELECT count(*), coalesce(sum({measure}(ST_Intersection({shape},"
            f" ST_GeomFromText(%s, 4326))::geography)), 0) FROM {schema}.{table}"
            " WHERE ST_Intersects(geom, ST_GeomFromText(%s, 4326))",
            (DRAWN_WKT, DRAWN_WKT)).fetchone()
        result = layers[layer]
        assert result["count"] == count > 0
        (group,) = result["groups"]
        key = "measured_length_m" if measure == "ST_Length" else "measured_area_m2"
        assert group[key] == pytest.approx(total, rel=1e-6, abs=0.01)
    zone_area = {f["properties"]["zone_code"]: f["properties"]["measured_area_m2"]
                 for f in layers["planning.zones"]["features"]["features"]}
    # Z1-B is cut by the polygon: its clipped area is a fraction of the whole
    whole = qconn.execute("SELECT ST_Area(geom::geography) FROM planning.zones"
                          " WHERE zone_code = 'Z1-B'").fetchone()[0]
    assert 0 < zone_area["Z1-B"] < whole


def test_region_in_vn2000_coordinates(anon: httpx.Client, qconn: psycopg.Connection) -> None:
    """A polygon drawn in VN-2000 / TM-3 107-45 (EPSG:5899) is moved with the official shift."""
    import shapely
    from shapely.geometry import mapping, shape

    from iocgis.crs import WGS84, parse_crs, transformer

    to_vn = transformer(WGS84, parse_crs("EPSG:5899"))
    drawn_vn = mapping(shapely.transform(shape(DRAWN), to_vn.transform, interleaved=False))
    response = anon.post("/query/region", params={"layers": "emergency.shelters",
                                                  "crs": "EPSG:5899"}, json=drawn_vn)
    assert response.status_code == 200, response.text
    expected = qconn.execute("SELECT count(*) FROM emergency.shelters WHERE ST_Intersects(geom,"
                             " ST_GeomFromText(%s, 4326))", (DRAWN_WKT,)).fetchone()[0]
    assert response.json()["layers"]["emergency.shelters"]["count"] == expected > 0


def test_admin_unit_equals_the_region_of_its_boundary(analyst: httpx.Client,
                                                      qconn: psycopg.Connection) -> None:
    response = analyst.get("/query/admin/26041", params={"layers": "housing.houses,land.parcels",
                                                         "group_by": "commune_code",
                                                         "limit": 0})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"]["admin"]["name"] == "Phường Trấn Biên"
    for layer, shape in (("housing.houses", "footprint"), ("land.parcels", "geom")):
        schema, table = layer.split(".")
        rows = qconn.execute(
            f"SELECT t.commune_code, count(*), sum(ST_Area(ST_Intersection(t.{shape}, c.geom)"
            f"::geography)) FROM {schema}.{table} t JOIN admin.communes c"
            " ON ST_Intersects(t.geom, c.geom) WHERE c.code = '26041' GROUP BY 1").fetchall()
        groups = {g["key"]: g for g in body["layers"][layer]["groups"]}
        assert {k: g["count"] for k, g in groups.items()} == {r[0]: r[1] for r in rows}
        for code, _, area in rows:
            assert groups[code]["measured_area_m2"] == pytest.approx(area, rel=1e-6)


def test_admin_table_one_row_per_commune(analyst: httpx.Client, qconn: psycopg.Connection) -> None:
    """By the commune each house records (the default), and by where each house lies (its
    position); areas are the footprints'."""
    independent = {
        "field": "SELECT c.code, count(h.fid), sum(h.household_size), count(h.fid) FILTER (WHERE"
                 " h.is_poor), coalesce(sum(ST_Area(h.footprint::geography)), 0) FROM admin.communes c"
                 " LEFT JOIN housing.houses h ON h.commune_code = c.code GROUP BY c.code",
        "geometry": "SELECT c.code, count(h.fid), sum(h.household_size), count(h.fid) FILTER"
                    " (WHERE h.is_poor), coalesce(sum(ST_Area(h.footprint::geography)), 0) FROM"
                    " admin.communes c LEFT JOIN housing.houses h ON ST_Contains(c.geom,"
                    " ST_PointOnSurface(h.geom)) GROUP BY c.code"}
    total = qconn.execute("SELECT count(*) FROM housing.houses").fetchone()[0]
    for method, statement in independent.items():
        params = {"level": "commune", "layer": "housing.houses",
                  "agg": "count,sum:household_size,true:is_poor,area"}
        if method == "geometry":
            params["by"] = "geometry"
        response = analyst.get("/query/admin", params=params)
        assert response.status_code == 200, response.text
        assert response.json()["query"]["by"] == method
        rows = {r["code"]: r for r in response.json()["rows"]}
        expected = qconn.execute(statement).fetchall()
        assert len(rows) == len(expected) == 4
        for code, count, people, poor, area in expected:
            assert rows[code]["count"] == count
            assert rows[code]["sum_household_size"] == people
            assert rows[code]["true_is_poor"] == poor
            assert rows[code]["measured_area_m2"] == pytest.approx(area, abs=0.01)
        assert sum(r["count"] for r in rows.values()) == total  # each house counted once


def test_admin_table_by_geometry_for_layers_without_a_commune(anon: httpx.Client,
                                                             qconn: psycopg.Connection) -> None:
    response = anon.get("/query/admin", params={"layer": "emergency.shelters"})
    assert response.status_code == 200, response.text
    assert response.json()["query"]["by"] == "geometry"
    expected = dict(qconn.execute(
        "SELECT c.code, count(s.fid) FROM admin.communes c LEFT JOIN emergency.shelters s"
        " ON ST_Intersects(c.geom, s.geom) GROUP BY 1").fetchall())
    assert {r["code"]: r["count"] for r in response.json()["rows"]} == expected
    refused = anon.get("/query/admin", params={"layer": "emergency.shelters", "by": "field"})
    assert refused.status_code == 400 and "by=geometry" in refused.text


def test_admin_table_as_csv_and_geojson(anon: httpx.Client, qconn: psycopg.Connection) -> None:
    response = anon.get("/query/admin", params={"layer": "infra.schools",
                                                 "agg": "count,sum:pupils", "f": "csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    expected = dict(qconn.execute("SELECT commune_code, sum(pupils) FROM infra.schools"
                                  " GROUP BY 1").fetchall())
    assert {r["code"]: int(r["sum_pupils"]) for r in rows if r["sum_pupils"]} == expected
    assert "Phường Trấn Biên" in {r["name"] for r in rows}
    geo = anon.get("/query/admin", params={"layer": "infra.schools", "f": "geojson"})
    assert geo.status_code == 200
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = geo.json()["features"]
    assert len(features) == 4 and features[0]["geometry"]["type"] == "MultiPolygon"


def test_csv_and_geojson_of_a_query(analyst: httpx.Client) -> None:
    params = {"lon": LON, "lat": LAT, "radius_m": 1000, "layers": "housing.houses,emergency.shelters",
              "limit": 1000}
    as_json = analyst.get("/query/radius", params=params).json()["layers"]
    as_csv = analyst.get("/query/radius", params={**params, "f": "csv"})
    assert as_csv.status_code == 200
    text = as_csv.content.decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheets read the Vietnamese letters right
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == sum(r["count"] for r in as_json.values())
    assert "household_head" not in rows[0]  # personal data never leaves without the right
    groups = analyst.get("/query/radius", params={**params, "f": "csv", "table": "groups",
                                                  "group_by": "commune_code"})
    group_rows = list(csv.DictReader(io.StringIO(groups.content.decode("utf-8-sig"))))
    assert sum(int(r["count"]) for r in group_rows if r["layer"] == "housing.houses") == \
        as_json["housing.houses"]["count"]
    geo = analyst.get("/query/radius", params={**params, "f": "geojson"}).json()
    assert geo["type"] == "FeatureCollection"
    assert {f["properties"]["layer"] for f in geo["features"]} == {"housing.houses",
                                                                   "emergency.shelters"}


def test_vietnamese_text_is_real_utf8(anon: httpx.Client) -> None:
    response = anon.get("/query/point", params={"lon": LON, "lat": LAT,
                                                 "layers": "admin.communes"})
    assert "Phường".encode() in response.content
    assert b"\\u" not in response.content

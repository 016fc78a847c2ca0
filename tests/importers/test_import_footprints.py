"""Points and footprints (issue 13, item 1): a house is located by a point and may have a
footprint. The commune's survey of house POINTS (zipped Shapefile, TCVN3 DBF without .cpg,
VN-2000 / UTM 48N .prj without TOWGS84, no house id, no commune code) imports with a mapping
naming only its fields, stops at pending with the right diff, and goes live when a steward
approves, each position within 0.1 m of the official VN-2000 transformation. A file of
polygons loads footprints and their point on surface as the position; a mixed file both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely
from pyproj import CRS, Geod, Transformer

from iocgis.crs import WGS84, transformer
from iocgis.importers import review
from iocgis.importers.review import Reviewer
from iocgis.layers import get_registry

from .importer_fixtures import BIEN_HOA
from .test_import_derived import PRJ_UTM48N_NO_TOWGS84, SURVEY, mapping_file, survey_zip
from .test_import_review import no_pending_left, submit  # noqa: F401 - the fixture

HOUSING_STEWARD = Reviewer(name="steward_housing", approves=True, groups=frozenset({"housing"}))
# VN-2000 / UTM 48N to WGS84 written out here, not taken from iocgis.crs: the 7 parameters of
# Decision 05/2007/QĐ-BTNMT as PROJ's +towgs84 (position vector).
OFFICIAL_UTM48N = CRS.from_proj4(
    "+proj=utm +zone=48 +ellps=WGS84 +units=m +no_defs +towgs84=-191.90441429,-39.30318279,"
    "-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278")
GEOD = Geod(ellps="WGS84")


def survey_point(lon: float, lat: float) -> shapely.Geometry:
    return shapely.Point(lon, lat)


def positions(conn: psycopg.Connection) -> dict[str, tuple]:
    """household head -> (lon, lat, is_poor, has a footprint)."""
    return {r[0]: r[1:] for r in conn.execute(
        "SELECT household_head, ST_X(geom), ST_Y(geom), is_poor, footprint IS NOT NULL "
        "FROM housing.houses")}


def expected_position(lon: float, lat: float) -> tuple[float, float]:
    """Where the file's point (written in UTM 48N) lies by the official transformation."""
    to_utm = transformer(WGS84, CRS.from_wkt(PRJ_UTM48N_NO_TOWGS84))
    x, y = to_utm.transform(lon, lat)
    return Transformer.from_crs(OFFICIAL_UTM48N, "EPSG:4326", always_xy=True).transform(x, y)


def test_a_survey_of_points_goes_live_after_approval(run, imp_url, review_settings, state,
                                                     imp_conn, communes,
                                                     tmp_path: Path) -> None:
    mapping = mapping_file(tmp_path)
    first = SURVEY[:3]
    run(survey_zip(tmp_path / "v1", first, shape=survey_point), "housing.houses",
        mapping=mapping)
    # the next survey: Nguyễn Văn Minh is poor now, Lê Văn Đức is gone, Phạm Thị Hoa is new
    minh = ("Nguyễn Văn Minh", *SURVEY[0][1:3], "Có", SURVEY[0][4])
    hoa = ("Phạm Thị Hoa", "Khu phố 4, phường Trấn Biên", "Kiên cố", "Không", (106.85, 10.93))
    archive = survey_zip(tmp_path / "v2", (minh, SURVEY[1], hoa), shape=survey_point)
    before = state("housing.houses")
    report = submit(imp_url, review_settings, archive, "housing.houses", mapping=mapping)
    assert report.status == "pending" and report.rows_loaded == 3
    assert state("housing.houses") == before  # nothing live yet
    summary = review.get(imp_conn, report.import_id)["diff"]
    assert (summary["added"], summary["removed"], summary["changed"], summary["unchanged"]) == (
        1, 1, 1, 1)
    assert summary["fields"] == {"is_poor": 1}
    layer = get_registry().get("housing.houses")
    columns = ("house_id", "commune_code", "is_poor")
    changed = review.changes(imp_conn, layer, report.import_id, "changed", columns=columns)
    (row,) = changed["rows"]
    assert row["fields"] == ["is_poor"] and (row["before"], row["after"]) == (
        {"is_poor": False}, {"is_poor": True})
    added = review.changes(imp_conn, layer, report.import_id, "added", columns=columns)
    assert [r["after"]["commune_code"] for r in added["rows"]] == ["26041"]

    review.approve(imp_conn, get_registry(), report.import_id, HOUSING_STEWARD)
    live = positions(imp_conn)
    assert set(live) == {"Nguyễn Văn Minh", "Trần Thị Bích", "Phạm Thị Hoa"}
    assert live["Nguyễn Văn Minh"][2] is True
    for head, *_, where in (minh, SURVEY[1], hoa):
        lon, lat, _, footprint = live[head]
        _, _, metres = GEOD.inv(lon, lat, *expected_position(*where))
        assert metres < 0.1, (head, metres)
        assert footprint is False  # a survey of points draws no footprint


def test_polygons_load_footprints_and_their_point_on_surface(run, imp_url, review_settings,
                                                              imp_conn, tmp_path: Path) -> None:
    """A mixed file: a point is a position, a polygon a footprint with its point on surface
    as the position; a moved footprint is a change of both."""
    x, y = BIEN_HOA
    l_shape = shapely.Polygon([(x, y), (x + 2e-4, y), (x + 2e-4, y + 5e-5), (x + 5e-5, y + 5e-5),
                               (x + 5e-5, y + 2e-4), (x, y + 2e-4)])  # its centroid is outside
    fields = {"house_id": ["N-1", "N-2"], "commune_code": ["26041", "26041"],
              "floors": [2, 1]}
    path = tmp_path / "nha.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": shapely.geometry.mapping(g),
         "properties": {k: v[i] for k, v in fields.items()}}
        for i, g in enumerate((l_shape, shapely.Point(x + 0.001, y)))]}), encoding="utf-8")
    report = run(path, "housing.houses")
    assert report.rows_loaded == 2
    rows = {r[0]: r[1:] for r in imp_conn.execute(
        "SELECT house_id, ST_AsBinary(geom), ST_AsBinary(footprint) FROM housing.houses")}
    position, outline = (shapely.from_wkb(bytes(b)) for b in rows["N-1"])
    assert outline.geom_type == "MultiPolygon" and outline.equals(l_shape)
    assert position.equals(shapely.point_on_surface(l_shape)) and l_shape.contains(position)
    assert not l_shape.contains(l_shape.centroid)
    point, none = rows["N-2"]
    assert shapely.from_wkb(bytes(point)).equals(shapely.Point(x + 0.001, y)) and none is None

    moved = shapely.affinity.translate(l_shape, 1e-4, 0)
    body = json.loads(path.read_text(encoding="utf-8"))
    body["features"][0]["geometry"] = shapely.geometry.mapping(moved)
    path.write_text(json.dumps(body), encoding="utf-8")
    pending = submit(imp_url, review_settings, path, "housing.houses")
    summary = review.get(imp_conn, pending.import_id)["diff"]
    assert (summary["changed"], summary["unchanged"]) == (1, 1)
    assert summary["fields"] == {"footprint": 1, "geometry": 1}
    review.reject(imp_conn, get_registry(), pending.import_id, HOUSING_STEWARD, "thử")
    assert np.allclose(shapely.get_coordinates(shapely.from_wkb(bytes(imp_conn.execute(
        "SELECT ST_AsBinary(geom) FROM housing.houses WHERE house_id = 'N-1'").fetchone()[0]))),
        shapely.get_coordinates(position))


@pytest.mark.parametrize("layer", ["infra.schools", "infra.health_facilities",
                                   "infra.public_stations"])
def test_sites_are_footprints_of_point_layers(layer: str) -> None:
    """Schools, health facilities and stations: a point, or a site polygon beside it."""
    defined = get_registry().get(layer)
    assert defined.geometry_columns == ("geom", "footprint")
    assert defined.accepted_geometries == ("Point", "MultiPolygon")

"""Every format imports into the right layer with correct WGS84 coordinates, Vietnamese text
intact and a quality report stored."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import ezdxf
import numpy as np
import psycopg
import pytest
import shapely
from openpyxl import Workbook
from pyproj import CRS, Transformer

from iocgis import crs as crsmod
from iocgis import migrate
from iocgis.layers import get_registry

from .importer_fixtures import BIEN_HOA, BIEN_HOA_5899, places, shapefile_parts, write_vector, zip_files


def _places_rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT place_id, name, kind, population, ST_X(geom), ST_Y(geom), extra "
                        "FROM base.places ORDER BY place_id").fetchall()


def test_geopackage_loads_with_report_catalog_and_extra(run, imp_conn, tmp_path: Path) -> None:
    geoms, fields = places(3)
    fields["ghi_chu"] = ["một", "hai", "ba"]  # not a registry field: kept in extra
    path = write_vector(tmp_path / "places.gpkg", geoms, fields)
    before = imp_conn.execute("SELECT data_version FROM meta.layers WHERE id = 'base.places'"
                              ).fetchone()[0]
    report = run(path, "base.places", source_date=date(2025, 7, 1))
    assert report.status == "loaded"
    assert (report.rows_in, report.rows_loaded, report.rows_rejected) == (3, 3, 0)
    rows = _places_rows(imp_conn)
    assert rows[0][:4] == ("P1", "Khu dân cư số 1", "khu_dan_cu", 1000)
    assert rows[0][4:6] == pytest.approx(BIEN_HOA)
    assert rows[0][6] == {"ghi_chu": "một"}
    stored = imp_conn.execute("SELECT status, rows_loaded, source_checksum, report, user_name "
                              "FROM meta.imports WHERE id = %s", (report.import_id,)).fetchone()
    assert stored[0] == "loaded" and stored[1] == 3
    assert stored[2].startswith("sha256:")
    assert stored[3]["layer_id"] == "base.places" and stored[3]["source"]["crs"].startswith(
        "EPSG:4326")
    assert stored[4] == "cli"
    catalog = imp_conn.execute(
        "SELECT row_count, data_version, last_import_id, source_date, "
        "ST_Contains(extent, ST_SetSRID(ST_MakePoint(%s, %s), 4326)) FROM meta.layers "
        "WHERE id = 'base.places'", BIEN_HOA).fetchone()
    assert catalog[0] == 3 and catalog[1] == before + 1 and catalog[2] == report.import_id
    assert str(catalog[3]) == "2025-07-01" and catalog[4]
    # the swapped-in table has the registry's shape: autogenerate finds nothing to change
    assert migrate.pending_changes(run.url) == []
    assert imp_conn.execute("SELECT pg_get_serial_sequence('base.places', 'fid')").fetchone()[0] \
        == "base.places_fid_seq"


def test_zipped_shapefile_with_cpg(run, imp_conn, tmp_path: Path) -> None:
    geoms, fields = places(2)
    (tmp_path / "shp").mkdir()
    shp = write_vector(tmp_path / "shp" / "diem.shp", geoms, fields, encoding="UTF-8")
    assert (tmp_path / "shp" / "diem.cpg").exists()
    archive = zip_files(tmp_path / "diem.zip", shapefile_parts(shp), arcdir="du_lieu/")
    report = run(archive, "base.places")
    assert report.source_format == "ESRI Shapefile" and report.rows_loaded == 2
    assert _places_rows(imp_conn)[1][1] == "Khu dân cư số 2"


def test_folder_with_one_shapefile(run, imp_conn, tmp_path: Path) -> None:
    geoms, fields = places(2)
    folder = tmp_path / "thu_muc"
    folder.mkdir()
    write_vector(folder / "diem.shp", geoms, fields, encoding="UTF-8")
    (folder / "ghi_chu.txt").write_text("not a dataset")
    assert run(folder, "base.places").rows_loaded == 2


@pytest.mark.parametrize("driver,suffix", [("GeoJSON", ".geojson"), ("GeoJSONSeq", ".geojsonl"),
                                           ("FlatGeobuf", ".fgb")])
def test_geojson_family(run, imp_conn, tmp_path: Path, driver: str, suffix: str) -> None:
    geoms, fields = places(3)
    path = write_vector(tmp_path / f"places{suffix}", geoms, fields, driver=driver)
    report = run(path, "base.places")
    assert report.rows_loaded == 3 and report.source_format == driver
    assert _places_rows(imp_conn)[2][1] == "Khu dân cư số 3"


@pytest.mark.parametrize("kmz", [False, True])
def test_kml_and_kmz(run, imp_conn, tmp_path: Path, kmz: bool) -> None:
    placemarks = "".join(
        f"<Placemark><name>Điểm {i}</name><ExtendedData>"
        f"<Data name='place_id'><value>K{i}</value></Data>"
        f"<Data name='kind'><value>trung_tam_xa</value></Data></ExtendedData>"
        f"<Point><coordinates>{BIEN_HOA[0] + i * 0.01},{BIEN_HOA[1]},0</coordinates></Point>"
        f"</Placemark>" for i in range(2))
    kml = (f"<?xml version='1.0' encoding='UTF-8'?><kml xmlns='http://www.opengis.net/kml/2.2'>"
           f"<Document>{placemarks}</Document></kml>")
    path = tmp_path / "diem.kml"
    path.write_text(kml, encoding="utf-8")
    if kmz:
        path = zip_files(tmp_path / "diem.kmz", [path])
    report = run(path, "base.places", mapping={"fields": {"Name": "name"}})
    assert report.rows_loaded == 2
    rows = _places_rows(imp_conn)
    assert rows[0][:3] == ("K0", "Điểm 0", "trung_tam_xa")
    assert rows[1][4:6] == pytest.approx((BIEN_HOA[0] + 0.01, BIEN_HOA[1]))


def test_csv_lon_lat_with_decimal_commas_and_semicolons(run, imp_conn, tmp_path: Path) -> None:
    path = tmp_path / "diem.csv"
    path.write_text("place_id;name;kind;kinh_do;vi_do\n"
                    "C1;  Chợ   Biên Hòa ;khu_dan_cu;106,82432;10,94469\n", encoding="utf-8")
    report = run(path, "base.places")
    assert report.rows_loaded == 1 and report.rows_fixed == 1
    row = _places_rows(imp_conn)[0]
    assert row[1] == "Chợ Biên Hòa"  # whitespace cleaned
    assert row[4:6] == pytest.approx(BIEN_HOA)


def test_xlsx_vn2000_xy_in_surveyors_order(run, imp_conn, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["place_id", "name", "kind", "X", "Y"])
    # Vietnamese surveyors' X is the northing
    sheet.append(["X1", "Biên Hòa", "tinh_ly", BIEN_HOA_5899[1], BIEN_HOA_5899[0]])
    path = tmp_path / "toa_do.xlsx"
    book.save(path)
    report = run(path, "base.places", crs="EPSG:5899")
    assert report.rows_loaded == 1
    assert any(f.rule == "coordinates.xy_convention" for f in report.findings)
    lon, lat = _places_rows(imp_conn)[0][4:6]
    assert _metres_apart((lon, lat), BIEN_HOA) < 0.1


def _metres_apart(a: tuple[float, float], b: tuple[float, float]) -> float:
    from pyproj import Geod

    return abs(Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])[2])


@pytest.mark.parametrize("epsg", [5899, 9212, 3405, 4756])
def test_vn2000_forms_within_a_decimetre_of_the_official_shift(run, imp_conn, tmp_path: Path,
                                                               epsg: int) -> None:
    official = crsmod.transformer(crsmod.WGS84, CRS.from_epsg(epsg))
    x, y = official.transform(*BIEN_HOA)
    if epsg == 5899:
        assert (x, y) == pytest.approx(BIEN_HOA_5899, abs=0.01)
    geoms, fields = places(1)
    path = write_vector(tmp_path / "vn2000.gpkg", [shapely.Point(x, y)], fields,
                        crs=f"EPSG:{epsg}")
    report = run(path, "base.places")
    assert report.source_crs.startswith(f"EPSG:{epsg}")
    lon, lat = _places_rows(imp_conn)[0][4:6]
    assert _metres_apart((lon, lat), BIEN_HOA) < 0.1
    # and a plain pyproj transformation would not have been as good for TM-3 107-45
    if epsg == 5899:
        plain = Transformer.from_crs(epsg, 4326, always_xy=True).transform(x, y)
        assert _metres_apart(plain, BIEN_HOA) > 0.1


def test_prj_naming_vn2000_without_towgs84_gets_the_official_shift(run, imp_conn,
                                                                  tmp_path: Path) -> None:
    geoms, fields = places(1)
    folder = tmp_path / "esri"
    folder.mkdir()
    shp = write_vector(folder / "dn.shp", [shapely.Point(*BIEN_HOA_5899)], fields,
                       crs=None, encoding="UTF-8")
    shp.with_suffix(".prj").write_text(
        'PROJCS["VN_2000_TM3_107_45",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",'
        'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],'
        'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
        'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
        'PARAMETER["Central_Meridian",107.75],PARAMETER["Scale_Factor",0.9999],'
        'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')
    run(shp, "base.places")
    lon, lat = _places_rows(imp_conn)[0][4:6]
    assert _metres_apart((lon, lat), BIEN_HOA) < 0.1


def test_legacy_encodings_convert_to_unicode(run, imp_conn, tmp_path: Path) -> None:
    from .importer_fixtures import to_cp1258, to_legacy

    for encoding in ("tcvn3", "vni", "cp1258"):
        folder = tmp_path / encoding
        folder.mkdir()
        geoms, fields = places(1)
        shp = write_vector(folder / "x.shp", geoms, {"place_id": ["L1"], "name": ["xx"],
                                                     "kind": ["khu_dan_cu"]}, encoding="latin1")
        _rewrite_dbf_text(shp.with_suffix(".dbf"), b"xx", to_legacy("Đồng Nai", encoding)
                          if encoding != "cp1258" else to_cp1258("Đồng Nai"))
        (folder / "x.cpg").unlink(missing_ok=True)
        report = run(shp, "base.places", encoding=encoding)
        assert report.source_encoding == encoding
        assert _places_rows(imp_conn)[0][1] == "Đồng Nai", encoding


def _rewrite_dbf_text(dbf: Path, old: bytes, new: bytes) -> None:
    """Put raw bytes into a DBF character field (as a legacy program would have)."""
    import struct

    data = bytearray(dbf.read_bytes())
    header_len = struct.unpack("<H", data[8:10])[0]
    # widen nothing: the field is wide enough (pyogrio writes 80 characters for text)
    pos = data.index(old, header_len)
    data[pos:pos + len(new)] = new
    dbf.write_bytes(bytes(data))


def test_dxf_planning_drawing(run, imp_conn, tmp_path: Path) -> None:
    doc = ezdxf.new("R2010")
    msp = doc.modelspace()
    x0, y0 = BIEN_HOA_5899
    msp.add_lwpolyline([(x0, y0), (x0 + 100, y0), (x0 + 100, y0 + 80), (x0, y0 + 80)],
                       close=True, dxfattribs={"layer": "DAT_O_DO_THI"})
    hatch = msp.add_hatch(dxfattribs={"layer": "THE_THAO"})
    hatch.paths.add_polyline_path([(x0 + 200, y0), (x0 + 300, y0), (x0 + 300, y0 + 80),
                                   (x0 + 200, y0 + 80)], is_closed=True)
    msp.add_text("ODT-01", dxfattribs={"layer": "KY_HIEU", "insert": (x0 + 50, y0 + 40)})
    msp.add_mtext("CX-02", dxfattribs={"layer": "KY_HIEU", "insert": (x0 + 250, y0 + 40)})
    msp.add_text("Cao 25m", dxfattribs={"layer": "NHAN", "insert": (x0 + 10, y0 + 10)})
    msp.add_line((x0, y0), (x0 + 500, y0), dxfattribs={"layer": "DUONG"})  # not a polygon
    path = tmp_path / "quy_hoach.dxf"
    doc.saveas(path)
    mapping = {"crs": "EPSG:5899", "cad_layers": {"DAT_O_DO_THI": "ODT", "THE_THAO": "DTT"},
               "texts": {"KY_HIEU": "zone_code", "NHAN": "label"},
               "constants": {"project_code": "QH-2025-01"}}
    registry = get_registry()
    assert "DTT" in registry.domain_codes(registry.get("planning.zones").field("land_use"))
    report = run(path, "planning.zones", mapping=mapping)
    assert report.rows_loaded == 2, report.as_dict()
    rows = imp_conn.execute(
        "SELECT zone_code, land_use, label, project_code, extra->>'cad_layer', "
        "ST_Area(geom::geography) FROM planning.zones ORDER BY zone_code").fetchall()
    assert rows[0][:4] == ("CX-02", "DTT", None, "QH-2025-01")
    assert rows[1][:5] == ("ODT-01", "ODT", "Cao 25m", "QH-2025-01", "DAT_O_DO_THI")
    assert rows[1][5] == pytest.approx(8000, rel=0.001)  # 100 m x 80 m


def test_geotiff_becomes_a_cog_in_the_raster_catalog(run, imp_conn, tmp_path: Path) -> None:
    import rasterio
    from rasterio.transform import from_origin

    path = tmp_path / "dem.tif"
    data = (np.arange(1200 * 1100) % 700).reshape(1100, 1200).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=1200, height=1100, count=1,
                       dtype="float32", crs="EPSG:5899", nodata=-9999,
                       transform=from_origin(BIEN_HOA_5899[0] - 500, BIEN_HOA_5899[1] + 500,
                                             1, 1)) as dst:
        dst.write(data, 1)
    report = run(path, "raster.dem", mapping={"raster": {"title_vi": "Mô hình số độ cao",
                                                         "title_en": "Elevation", "kind": "dem",
                                                         "unit": "m"}})
    entry = report.extra["raster"]
    with rasterio.open(entry["path"]) as cog:
        assert cog.profile["tiled"] and cog.overviews(1)
        assert "towgs84=-191.90441429" in cog.crs.to_proj4()
        assert np.array_equal(cog.read(1), data)
    row = imp_conn.execute("SELECT title_vi, kind, width, height, ST_Contains(footprint, "
                           "ST_SetSRID(ST_MakePoint(%s, %s), 4326)) FROM meta.rasters "
                           "WHERE name = 'dem'", BIEN_HOA).fetchone()
    assert row == ("Mô hình số độ cao", "dem", 1200, 1100, True)
    status = imp_conn.execute("SELECT status FROM meta.imports WHERE id = %s",
                              (report.import_id,)).fetchone()[0]
    assert status == "loaded"


def test_tables_without_geometry_and_sequences_per_layer(run, imp_conn, tmp_path: Path) -> None:
    """Observations and indicators have no geometry; two layers of one schema each keep their
    own identity sequence through repeated swaps."""
    stations = tmp_path / "tram.csv"
    stations.write_text("station_code,name,kind,lon,lat\nTV-1,Trạm Biên Hòa,muc_nuoc_song,106.82,10.94\n",
                        encoding="utf-8")
    observations = tmp_path / "quan_trac.csv"
    observations.write_text("station_code,parameter,observed_at,value,unit\n"
                            "TV-1,water_level,2025-10-31T01:00:00+07:00,0.53,m\n"
                            "TV-1,water_level,31/10/2025 02:00,0.61,m\n", encoding="utf-8")
    for _ in range(2):
        run(stations, "iot.stations")
        report = run(observations, "iot.observations")
    assert report.rows_loaded == 2 and report.source_crs is None
    rows = imp_conn.execute("SELECT observed_at, value FROM iot.observations ORDER BY 1").fetchall()
    assert [r[0].isoformat() for r in rows] == ["2025-10-30T18:00:00+00:00",
                                                "2025-10-30T19:00:00+00:00"]
    seqs = [imp_conn.execute("SELECT pg_get_serial_sequence(%s, 'fid')", (t,)).fetchone()[0]
            for t in ("iot.stations", "iot.observations")]
    assert seqs == ["iot.stations_fid_seq", "iot.observations_fid_seq"]


def test_dry_run_reports_without_changing_and_json_is_real_utf8(run, state,
                                                                 tmp_path: Path) -> None:
    geoms, fields = places(2)
    run(write_vector(tmp_path / "p.gpkg", geoms, fields), "base.places")
    before = state("base.places")
    geoms, fields = places(1)
    report = run(write_vector(tmp_path / "điểm dân cư.gpkg", geoms, fields), "base.places",
                 dry_run=True)
    assert report.status == "dry_run" and report.rows_loaded == 1
    assert state("base.places") == before
    text = report.to_json()
    assert "điểm dân cư" in text and "\\u" not in text
    assert json.loads(text)["source"]["path"].endswith("điểm dân cư.gpkg")

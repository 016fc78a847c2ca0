"""Every kind of bad input the issue lists ends in a clear message (what, where, what to do)
and leaves the live layer exactly as it was (row count, checksum of every row, data version)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import shapely

from iocgis.errors import ImportFailed, InvalidInput, NotFound

from .importer_fixtures import BIEN_HOA, BIEN_HOA_5899, parcels, places, to_legacy, write_vector, zip_files


@pytest.fixture
def baseline(run, state, tmp_path: Path):  # noqa: ANN201
    """base.places and land.parcels loaded with good data; returns their state."""
    geoms, fields = places(3)
    run(write_vector(tmp_path / "good_places.gpkg", geoms, fields), "base.places")
    geoms, fields = parcels(4)
    run(write_vector(tmp_path / "good_parcels.gpkg", geoms, fields), "land.parcels")
    return {"base.places": state("base.places"), "land.parcels": state("land.parcels")}


def _untouched(state, baseline) -> None:  # noqa: ANN001
    for layer_id, before in baseline.items():
        assert state(layer_id) == before, f"{layer_id} changed"


def _last_import(conn: psycopg.Connection, layer_id: str) -> tuple:
    return conn.execute("SELECT status, error, report FROM meta.imports WHERE layer_id = %s "
                        "ORDER BY id DESC LIMIT 1", (layer_id,)).fetchone()


def test_empty_file(run, state, baseline, tmp_path: Path) -> None:
    empty = tmp_path / "places.gpkg"
    empty.write_bytes(b"")
    with pytest.raises(InvalidInput, match=r"places\.gpkg is empty \(0 bytes\)") as err:
        run(empty, "base.places")
    assert "export the data again" in str(err.value)
    _untouched(state, baseline)


def test_file_without_features(run, state, imp_conn, baseline, tmp_path: Path) -> None:
    path = tmp_path / "none.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(ImportFailed, match="none.geojson holds no features") as err:
        run(path, "base.places")
    assert "live layer is unchanged" in str(err.value)
    assert _last_import(imp_conn, "base.places")[0] == "aborted"
    _untouched(state, baseline)


def test_truncated_shapefile(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = parcels(40)
    with pytest.warns(RuntimeWarning, match="laundered"):  # DBF names are cut at 10 characters
        shp = write_vector(tmp_path / "thua.shp", geoms, fields, encoding="UTF-8")
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    with pytest.raises((InvalidInput, ImportFailed)) as err:
        run(shp, "land.parcels")
    assert "thua.shp" in str(err.value)
    assert "truncated or corrupt" in str(err.value)
    _untouched(state, baseline)


def test_corrupt_geopackage(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = parcels(200)
    gpkg = write_vector(tmp_path / "thua.gpkg", geoms, fields)
    data = bytearray(gpkg.read_bytes())
    data[len(data) // 3:] = b"\x00" * (len(data) - len(data) // 3)  # the tail is lost
    gpkg.write_bytes(bytes(data))
    with pytest.raises(InvalidInput, match=r"cannot read .*thua\.gpkg") as err:
        run(gpkg, "land.parcels")
    assert "truncated or corrupt" in str(err.value)
    _untouched(state, baseline)


def test_not_a_geopackage_at_all(run, state, baseline, tmp_path: Path) -> None:
    fake = tmp_path / "thua.gpkg"
    fake.write_bytes(b"SQLite format 3\x00" + b"\xff" * 3000)
    with pytest.raises(InvalidInput, match="thua.gpkg"):
        run(fake, "land.parcels")
    _untouched(state, baseline)


def test_zip_without_a_dataset(run, state, baseline, tmp_path: Path) -> None:
    note = tmp_path / "doc_truoc.txt"
    note.write_text("chỉ có ghi chú")
    archive = zip_files(tmp_path / "goi.zip", [note])
    with pytest.raises(InvalidInput, match=r"goi\.zip holds no dataset") as err:
        run(archive, "base.places")
    assert "supported kind" in str(err.value)
    _untouched(state, baseline)


def test_zip_with_several_datasets(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = places(2)
    a = write_vector(tmp_path / "a.gpkg", geoms, fields)
    b = write_vector(tmp_path / "b.geojson", geoms, fields, driver="GeoJSON")
    archive = zip_files(tmp_path / "hai.zip", [a, b])
    with pytest.raises(InvalidInput, match=r"hai\.zip holds 2 datasets \(a\.gpkg, b\.geojson\)") \
            as err:
        run(archive, "base.places")
    assert "one at a time" in str(err.value)
    _untouched(state, baseline)


def test_wrong_extension(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = places(2)
    real = write_vector(tmp_path / "diem.gpkg", geoms, fields)
    disguised = real.rename(tmp_path / "diem.shp")
    with pytest.raises(InvalidInput, match=r"diem\.shp does not look like a ESRI Shapefile") \
            as err:
        run(disguised, "base.places")
    assert "rename it to diem.gpkg" in str(err.value)
    odd = tmp_path / "diem.docx"
    odd.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(InvalidInput, match=r"files ending in '\.docx' cannot be imported"):
        run(odd, "base.places")
    _untouched(state, baseline)


def test_missing_prj(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = places(2)
    shp = write_vector(tmp_path / "diem.shp", geoms, fields, crs=None, encoding="UTF-8")
    assert not shp.with_suffix(".prj").exists()
    with pytest.raises(InvalidInput, match=r"diem\.shp has no \.prj file") as err:
        run(shp, "base.places")
    assert "--crs EPSG:5899" in str(err.value)
    _untouched(state, baseline)


def test_mixed_geometry_types(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = places(3)
    geoms[1] = shapely.box(BIEN_HOA[0], BIEN_HOA[1], BIEN_HOA[0] + 0.001, BIEN_HOA[1] + 0.001)
    path = write_vector(tmp_path / "tron.gpkg", geoms, fields, geometry_type="Unknown")
    with pytest.raises(ImportFailed) as err:
        run(path, "base.places")
    text = str(err.value)
    assert "1 of 3 features of" in text and "tron.gpkg" in text
    assert "Polygon geometry in a Point layer" in text and "feature 2" in text
    assert "--max-rejected" in text
    _untouched(state, baseline)


def test_self_intersecting_geometry_is_repaired_and_reported(run, state, baseline, imp_conn,
                                                           tmp_path: Path) -> None:
    geoms, fields = parcels(3)
    x, y = BIEN_HOA
    geoms[2] = shapely.Polygon([(x, y), (x + 0.001, y + 0.001), (x + 0.001, y), (x, y + 0.001)])
    assert not geoms[2].is_valid
    path = write_vector(tmp_path / "no.gpkg", geoms, fields, geometry_type="Polygon")
    report = run(path, "land.parcels", dry_run=True)
    repaired = [f for f in report.findings if f.rule == "geometry.repaired"]
    assert repaired and repaired[0].feature_ids == [3] and "Self-intersection" in repaired[0].example
    _untouched(state, baseline)  # a dry run changes nothing
    report = run(path, "land.parcels")
    assert report.rows_fixed == 1 and report.rows_loaded == 3
    assert imp_conn.execute("SELECT bool_and(ST_IsValid(geom)) FROM land.parcels").fetchone()[0]


def test_empty_geometries_are_rejected(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = parcels(3)
    geoms[0] = shapely.Polygon()
    geoms[2] = None
    path = write_vector(tmp_path / "rong.gpkg", geoms, fields, geometry_type="Polygon")
    with pytest.raises(ImportFailed) as err:
        run(path, "land.parcels")
    text = str(err.value)
    assert "2 of 3 features" in text
    assert "empty geometry" in text or "no geometry" in text
    _untouched(state, baseline)


def test_coordinates_in_the_wrong_tm3_zone(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = places(3)
    pts = [shapely.Point(BIEN_HOA_5899[0] + 100 * i, BIEN_HOA_5899[1]) for i in range(3)]
    # Đồng Nai TM-3 107-45 coordinates, declared as old Bình Phước's TM-3 106-15
    path = write_vector(tmp_path / "sai_mui.gpkg", pts, fields, crs="EPSG:9212")
    with pytest.raises(ImportFailed) as err:
        run(path, "base.places")
    text = str(err.value)
    assert "fall outside province 75 when read as EPSG:9212" in text
    assert "wrong central meridian" in text and "--crs EPSG:5899" in text
    _untouched(state, baseline)


def test_swapped_lon_lat(run, state, baseline, imp_conn, tmp_path: Path) -> None:
    geoms, fields = places(3)
    swapped = [shapely.Point(g.y, g.x) for g in geoms]
    path = write_vector(tmp_path / "dao.gpkg", swapped, fields)
    with pytest.raises(ImportFailed) as err:
        run(path, "base.places")
    assert "with X and Y swapped they fall inside" in str(err.value)
    assert "--swap-xy" in str(err.value)
    _untouched(state, baseline)
    run(path, "base.places", swap_xy=True)  # the fix the message names works
    lon, lat = imp_conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM base.places "
                                "WHERE place_id = 'P1'").fetchone()
    assert (lon, lat) == pytest.approx(BIEN_HOA)


def test_csv_with_text_in_coordinate_columns(run, state, baseline, tmp_path: Path) -> None:
    path = tmp_path / "diem.csv"
    path.write_text("place_id,name,kind,lon,lat\n"
                    "C1,Một,khu_dan_cu,106.82,10.94\n"
                    "C2,Hai,khu_dan_cu,mười lăm độ,10.95\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as err:
        run(path, "base.places")
    text = str(err.value)
    assert "1 of 2 rows of" in text and "diem.csv" in text
    assert "column lon: text where a coordinate number must be" in text
    assert "row 3" in text and "'mười lăm độ'" in text
    _untouched(state, baseline)


def test_tcvn3_dbf_without_cpg(run, state, baseline, imp_conn, tmp_path: Path) -> None:
    geoms, fields = places(2)
    fields["name"] = ["x" * 20, "y" * 20]
    shp = write_vector(tmp_path / "cu.shp", geoms, fields, encoding="latin1")
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    for old, new in ((b"x" * 20, to_legacy("Phường Trấn Biên", "tcvn3")),
                     (b"y" * 20, to_legacy("xã Phước Tân", "tcvn3"))):
        pos = data.index(old)
        data[pos:pos + 20] = new.ljust(20, b" ")
    dbf.write_bytes(bytes(data))
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    with pytest.raises(InvalidInput) as err:
        run(shp, "base.places")
    text = str(err.value)
    assert "cu.dbf has no .cpg and its text is not UTF-8; it looks like TCVN3" in text
    assert "--encoding tcvn3" in text
    _untouched(state, baseline)
    run(shp, "base.places", encoding="tcvn3")
    names = [r[0] for r in imp_conn.execute("SELECT name FROM base.places ORDER BY place_id")]
    assert names == ["Phường Trấn Biên", "xã Phước Tân"]


def test_ten_thousand_character_attribute(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = places(2)
    fields["name"][1] = "Đồng Nai " * 1111 + "x"
    assert len(fields["name"][1]) == 10_000
    path = write_vector(tmp_path / "dai.gpkg", geoms, fields)
    with pytest.raises(ImportFailed) as err:
        run(path, "base.places")
    text = str(err.value)
    assert "name: text longer than 2000 characters (up to 10000)" in text
    assert "feature 2" in text
    _untouched(state, baseline)


def test_duplicate_key_under_upsert(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = parcels(3, start=10)
    fields["parcel_no"][2] = 10  # same (commune, sheet, parcel) as feature 1
    path = write_vector(tmp_path / "trung.gpkg", geoms, fields)
    with pytest.raises(ImportFailed) as err:
        run(path, "land.parcels", mode="upsert")
    text = str(err.value)
    assert "key (commune_code, sheet_no, parcel_no) appears more than once" in text
    assert "features 3" in text and "may appear once in an upsert" in text
    _untouched(state, baseline)


def test_layer_that_does_not_exist(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = places(1)
    path = write_vector(tmp_path / "p.gpkg", geoms, fields)
    with pytest.raises(NotFound, match="unknown layer 'land.thua_dat'") as err:
        run(path, "land.thua_dat")
    assert "iocgis layers" in str(err.value)
    _untouched(state, baseline)


def test_code_outside_its_domain_names_value_and_feature(run, state, baseline,
                                                         tmp_path: Path) -> None:
    geoms, fields = parcels(3)
    fields["land_use"][1] = "XYZ"
    path = write_vector(tmp_path / "ma.gpkg", geoms, fields)
    with pytest.raises(ImportFailed) as err:
        run(path, "land.parcels")
    assert "land_use: code not in the field's code list" in str(err.value)
    assert "feature 2, value 'XYZ'" in str(err.value)
    _untouched(state, baseline)


def test_a_required_field_the_file_lacks(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = parcels(2)
    del fields["land_use"]
    path = write_vector(tmp_path / "thieu.gpkg", geoms, fields)
    with pytest.raises(ImportFailed, match=r"no field for the required field\(s\) land_use") as err:
        run(path, "land.parcels")
    assert "--mapping" in str(err.value)
    _untouched(state, baseline)


def test_rejects_within_the_tolerance_load_the_rest(run, state, baseline, imp_conn,
                                                    tmp_path: Path) -> None:
    geoms, fields = parcels(10, start=100)
    fields["land_use"][4] = "XYZ"
    path = write_vector(tmp_path / "mot_loi.gpkg", geoms, fields)
    report = run(path, "land.parcels", max_rejected=0.2)
    assert (report.rows_in, report.rows_loaded, report.rows_rejected) == (10, 9, 1)
    stored = _last_import(imp_conn, "land.parcels")
    assert stored[0] == "loaded"
    assert any(f["rule"] == "code.domain" and f["feature_ids"] == [5]
               for f in stored[2]["findings"])



def test_duplicate_keys_and_geometries_in_a_replace(run, state, baseline, tmp_path: Path) -> None:
    geoms, fields = parcels(4, start=20)
    fields["parcel_no"][3] = 21  # repeats feature 2's key
    geoms[2] = geoms[0]  # feature 3 has feature 1's geometry (a warning only)
    path = write_vector(tmp_path / "lap.gpkg", geoms, fields)
    with pytest.raises(ImportFailed) as err:
        run(path, "land.parcels")
    assert "key (commune_code, sheet_no, parcel_no) repeats an earlier feature" in str(err.value)
    assert "feature 4" in str(err.value)
    _untouched(state, baseline)
    report = run(path, "land.parcels", max_rejected=0.5)
    assert (report.rows_loaded, report.rows_rejected) == (3, 1)
    found = {f.rule: f for f in report.findings}
    assert found["key.duplicate"].feature_ids == [4]
    assert found["key.duplicate"].example == "feature 4 repeats feature 2"
    assert found["geometry.duplicate"].severity == "warn"
    assert found["geometry.duplicate"].feature_ids == [3]

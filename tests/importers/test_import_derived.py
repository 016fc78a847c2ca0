"""Derived fields (issue 13, item 2): a commune's housing survey as it really comes — a zipped
Shapefile, DBF in TCVN3 without .cpg, .prj in VN-2000 / UTM 48N without TOWGS84, fields
TEN_CHU, DIA_CHI, LOAI_NHA, HO_NGHEO, no house id and no commune code — imports with a
mapping naming only its fields: the commune comes from the location, the house id is
generated, and the quality report says so."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import shapely
import yaml
from pyproj import CRS

from iocgis.crs import WGS84, transformer
from iocgis.errors import ImportFailed, InvalidInput

from .importer_fixtures import parcels, shapefile_parts, to_legacy, write_vector, zip_files

# An ESRI .prj naming VN-2000 / UTM 48N and no datum shift, as ArcGIS and MapInfo write it.
PRJ_UTM48N_NO_TOWGS84 = (
    'PROJCS["VN_2000_UTM_Zone_48N",GEOGCS["GCS_VN_2000",DATUM["D_Vietnam_2000",'
    'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],'
    'UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],'
    'PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",105.0],PARAMETER["Scale_Factor",0.9996],'
    'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')
# (household head, address, house type, poor?, where: the house's centre, WGS84)
SURVEY = (
    ("Nguyễn Văn Minh", "Khu phố 1, phường Biên Hòa", "Kiên cố", "Không", (106.80, 10.935)),
    ("Trần Thị Bích", "Khu phố 3, phường Trấn Biên", "Nhà tạm", "Có", (106.84, 10.94)),
    # across the boundary: 0.0006° east of it and 0.0004° west, so its point on surface is east
    ("Lê Văn Đức", "Khu phố 5, phường Trấn Biên", "Bán kiên cố", "Có", (106.8201, 10.95)),
    ("Đặng Thị Lan", "Tổ 2, xã ngoài ranh", "Nhà tạm", "Không", (106.95, 10.95)),  # outside
)
OUTSIDE = 4  # the feature (1-based) outside every commune
HASH_KEY = re.compile(r"^[0-9a-f]{16}(-\d+)?$")


def house_shape(lon: float, lat: float) -> shapely.Geometry:
    """A house as a survey with footprints draws it (test_import_footprints.py: as points)."""
    half = 0.0005 if abs(lon - 106.8201) < 1e-9 else 0.00005
    return shapely.box(lon - half, lat - 0.00005, lon + half, lat + 0.00005)


def _tcvn3(text: str) -> str:
    """What a TCVN3 DBF holds, as the Latin-1 text pyogrio writes byte for byte."""
    return to_legacy(text, "tcvn3").decode("latin-1")


def survey_zip(folder: Path, rows: tuple = SURVEY, name: str = "nha_o",
               shape: Callable[[float, float], shapely.Geometry] = house_shape) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    to_utm = transformer(WGS84, CRS.from_wkt(PRJ_UTM48N_NO_TOWGS84))
    geoms = [shapely.transform(shape(*where),
                               lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])))
             for *_, where in rows]
    fields = {"TEN_CHU": [_tcvn3(r[0]) for r in rows], "DIA_CHI": [_tcvn3(r[1]) for r in rows],
              "LOAI_NHA": [_tcvn3(r[2]) for r in rows], "HO_NGHEO": [_tcvn3(r[3]) for r in rows]}
    shp = write_vector(folder / f"{name}.shp", geoms, fields, crs=None, encoding="latin1")
    shp.with_suffix(".cpg").unlink(missing_ok=True)
    shp.with_suffix(".prj").write_text(PRJ_UTM48N_NO_TOWGS84)
    return zip_files(folder / f"{name}.zip", shapefile_parts(shp))


def mapping_file(folder: Path, **more: Any) -> Path:
    """The officer's mapping: only the fields the file has, and its encoding."""
    body = {"fields": {"TEN_CHU": "household_head", "DIA_CHI": "address",
                       "HO_NGHEO": "is_poor"}, "encoding": "tcvn3", **more}
    path = folder / "nha_o.mapping.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return path


def houses(conn: psycopg.Connection) -> dict[str, tuple]:
    """household head -> (house_id, commune_code, address, is_poor, extra)."""
    rows = conn.execute("SELECT household_head, house_id, commune_code, address, is_poor, extra "
                        "FROM housing.houses").fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_housing_survey_derives_commune_and_house_id(run, state, imp_conn, communes,
                                                     tmp_path: Path) -> None:
    archive = survey_zip(tmp_path / "survey")
    mapping = mapping_file(tmp_path)
    before = state("housing.houses")
    with pytest.raises(ImportFailed) as err:  # one house outside every commune: refused
        run(archive, "housing.houses", mapping=mapping)
    message = str(err.value)
    assert "1 of 4 features" in message and "outside every boundary of admin.communes" in message
    assert f"feature {OUTSIDE} at 106.95" in message and "--max-rejected" in message
    assert state("housing.houses") == before

    report = run(archive, "housing.houses", mapping=mapping, max_rejected=0.25)
    assert report.status == "loaded" and report.rows_loaded == 3 and report.rows_rejected == 1
    assert report.source_encoding == "tcvn3" and report.source_crs.startswith("EPSG:3405")
    loaded = houses(imp_conn)
    assert set(loaded) == {"Nguyễn Văn Minh", "Trần Thị Bích", "Lê Văn Đức"}
    assert loaded["Nguyễn Văn Minh"][1] == "26068"
    assert loaded["Trần Thị Bích"][1] == "26041"
    assert loaded["Lê Văn Đức"][1] == "26041"  # across the boundary: where its point falls
    assert all(HASH_KEY.match(h[0]) for h in loaded.values())
    assert len({h[0] for h in loaded.values()}) == 3
    assert loaded["Trần Thị Bích"][2] == "Khu phố 3, phường Trấn Biên"
    assert [loaded[n][3] for n in ("Nguyễn Văn Minh", "Trần Thị Bích")] == [False, True]
    assert loaded["Trần Thị Bích"][4] == {"LOAI_NHA": "Nhà tạm"}  # unmapped: kept in extra

    body = report.as_dict()
    assert body["derived"]["commune_code"]["how"] == "commune_from_location"
    assert body["derived"]["commune_code"]["rows"] == 3
    assert body["derived"]["commune_code"]["missing"] == 1
    assert body["derived"]["house_id"]["how"] == "key_hash"
    assert body["derived"]["house_id"]["rows"] == 3
    outside = next(f for f in body["findings"] if f["rule"] == "derive.outside")
    assert outside["severity"] == "reject" and outside["feature_ids"] == [OUTSIDE]
    assert {"derive.commune_from_location", "derive.key_hash"} <= {
        f["rule"] for f in body["findings"] if f["severity"] == "info"}
    stored = imp_conn.execute("SELECT report FROM meta.imports WHERE id = %s",
                              (report.import_id,)).fetchone()[0]
    assert stored["derived"]["house_id"]["scheme"].startswith("16 hex digits")

    # the same file again: the same generated keys
    again = run(archive, "housing.houses", mapping=mapping, max_rejected=0.25)
    assert again.data_version == report.data_version + 1
    assert houses(imp_conn) == loaded
    # ... and so does a re-export in another order: the key hashes the house, not the row
    reordered = survey_zip(tmp_path / "reordered", SURVEY[::-1])
    run(reordered, "housing.houses", mapping=mapping, max_rejected=0.25)
    assert {n: h[0] for n, h in houses(imp_conn).items()} == {n: h[0] for n, h in loaded.items()}


def test_upsert_without_a_key_is_refused(run, state, imp_conn, communes,
                                         tmp_path: Path) -> None:
    archive = survey_zip(tmp_path / "survey", SURVEY[:2])
    mapping = mapping_file(tmp_path)
    run(archive, "housing.houses", mapping=mapping)
    before = state("housing.houses")
    with pytest.raises(InvalidInput) as err:
        run(archive, "housing.houses", mapping=mapping, mode="upsert")
    message = str(err.value)
    assert "nha_o.shp has no house_id, the key of housing.houses" in message
    assert "a generated key would match none" in message
    assert "--mode replace" in message and "house_id" in message
    assert state("housing.houses") == before
    status = imp_conn.execute("SELECT status FROM meta.imports WHERE layer_id = "
                              "'housing.houses' ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert status == "aborted"


def test_mapping_asks_for_a_commune_sequence(run, imp_conn, communes, tmp_path: Path) -> None:
    """derive: in the mapping chooses another scheme: commune + position in the file; an
    append goes on numbering after the live layer's highest."""
    mapping = mapping_file(tmp_path, derive={"house_id": "key_sequence"})
    run(survey_zip(tmp_path / "a", SURVEY[:3]), "housing.houses", mapping=mapping)
    assert {n: h[0] for n, h in houses(imp_conn).items()} == {
        "Nguyễn Văn Minh": "26068-00001", "Trần Thị Bích": "26041-00001",
        "Lê Văn Đức": "26041-00002"}
    newcomer = (("Phạm Thị Hoa", "Khu phố 4, phường Trấn Biên", "Kiên cố", "Không",
                 (106.85, 10.93)),)
    report = run(survey_zip(tmp_path / "b", newcomer, "nha_moi"), "housing.houses",
                 mapping=mapping, mode="append")
    assert report.rows_loaded == 1
    assert houses(imp_conn)["Phạm Thị Hoa"][0] == "26041-00003"


def test_mapping_derives_a_field_the_registry_does_not(run, imp_conn, communes,
                                                       tmp_path: Path) -> None:
    """land.parcels declares no derivation; a mapping may still ask for the commune."""
    geoms, fields = parcels(2)
    del fields["commune_code"]
    path = write_vector(tmp_path / "thua.gpkg", geoms, fields)
    with pytest.raises(ImportFailed, match="required field.s. commune_code"):
        run(path, "land.parcels")
    report = run(path, "land.parcels",
                 mapping={"derive": {"commune_code": "commune_from_location"}})
    assert report.rows_loaded == 2
    codes = {r[0] for r in imp_conn.execute("SELECT commune_code FROM land.parcels")}
    assert codes == {"26041"}  # the parcels lie just east of 106.82


@pytest.mark.parametrize(("derive", "message"), [
    ({"commune_code": "key_hash"}, "key_hash generates keys and 'commune_code' is not part of"),
    ({"household_size": "commune_from_location"}, "fills text fields and 'household_size'"),
    ({"household_head": None}, "housing.houses declares no derivation for 'household_head'"),
    ({"house_id": "guess"}, "unknown derivation 'guess'"),
    ({"address": "key_sequence"}, "derive.address and fields.DIA_CHI both fill 'address'"),
])
def test_wrong_derivations_in_a_mapping(run, communes, tmp_path: Path, derive: dict,
                                        message: str) -> None:
    fields = {"DIA_CHI": "address"}  # TEN_CHU stays unmapped: it goes to extra
    with pytest.raises(InvalidInput, match=re.escape(message)):
        run(survey_zip(tmp_path / "s", SURVEY[:1]), "housing.houses",
            mapping={"fields": fields, "encoding": "tcvn3", "derive": derive})


def test_derivation_without_communes_loaded(run, state, imp_conn, tmp_path: Path) -> None:
    imp_conn.execute("DELETE FROM admin.communes")
    before = state("housing.houses")
    with pytest.raises(ImportFailed, match="admin.communes holds no boundaries") as err:
        run(survey_zip(tmp_path / "s", SURVEY[:1]), "housing.houses",
            mapping=mapping_file(tmp_path))
    assert "import admin.communes first" in str(err.value)
    assert state("housing.houses") == before
    # a field that may stay empty is left empty, and the report says why
    stations = tmp_path / "tram.csv"
    stations.write_text("station_code,name,kind,lon,lat\nTV-1,Trạm Biên Hòa,muc_nuoc_song,"
                        "106.82,10.94\n", encoding="utf-8")
    report = run(stations, "iot.stations")
    assert report.rows_loaded == 1
    note = next(f for f in report.findings if f.rule == "derive.commune_from_location")
    assert note.severity == "warn" and "commune_code stays empty" in note.message

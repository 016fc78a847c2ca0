"""Old administrative units (issue 13, item 3): pre-July-2025 province, district and commune
codes and names become the current 34 provinces and 3,321 communes through the official
table of vietnamadminunits; a merged commune maps to its successor, a split one is refused
with its candidates — in a mapping file (admin_units) and with `iocgis admin convert`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from iocgis.errors import ImportFailed
from iocgis.importers.admin_units import table

from .importer_fixtures import parcels, write_vector

IOCGIS = str(Path(sys.executable).with_name("iocgis"))
BUU_LONG = "Phường Bửu Long, Thành phố Biên Hòa, Tỉnh Đồng Nai"  # 26011, merged into 26041
XUAN_TAM_SPLIT = "26359 Xã Xuân Đông or 26446 Xã Xuân Hòa (the official default)"


@pytest.mark.parametrize(("given", "status", "commune", "province"), [
    ("26011", "converted", "26041", "75"),  # Phường Bửu Long -> Phường Trấn Biên
    ("26041", "converted", "26041", "75"),  # old 26041 was Phường Trung Dũng: same successor
    ("26011.0", "unknown", None, None),  # not a code (the importer turns 26011.0 into 26011)
    (BUU_LONG, "converted", "26041", "75"),
    ("phuong buu long, tp bien hoa, dong nai", "converted", "26041", "75"),
    ("26449", "split", None, "75"),  # Xã Xuân Tâm, Huyện Xuân Lộc
    ("Xã Xuân Tâm, Huyện Xuân Lộc, Đồng Nai", "split", None, "75"),
    ("70", "province", None, "75"),  # Bình Phước joined Đồng Nai
    ("731", "province", None, "75"),  # Thành phố Biên Hòa: no districts any more
    ("Huyện Xuân Lộc, Tỉnh Đồng Nai", "province", None, "75"),
    ("318", "converted", "11948", "31"),  # island district Bạch Long Vĩ: a special zone now
    ("99999", "unknown", None, None),
    ("không phải địa chỉ", "unknown", None, None),
])
def test_codes_and_names(given: str, status: str, commune: str | None,
                         province: str | None) -> None:
    conversion = table().convert(given)
    assert conversion.status == status, conversion.describe()
    assert (conversion.commune.code if conversion.commune else None) == commune
    assert conversion.province_code == province


def test_split_commune_lists_its_candidates() -> None:
    conversion = table().convert("26449")
    assert [(c.code, c.name, c.default) for c in conversion.candidates] == [
        ("26359", "Xã Xuân Đông", False), ("26446", "Xã Xuân Hòa", True)]
    assert conversion.describe() == ("26449 Xã Xuân Tâm, Huyện Xuân Lộc, Tỉnh Đồng Nai was "
                                     f"split: {XUAN_TAM_SPLIT}")


def test_the_table_agrees_with_convert_address() -> None:
    """For every old commune of the new Đồng Nai that was not split, the package's own
    convert_address gives the same current commune (asked without a street: with one, it
    would geocode online)."""
    from vietnamadminunits import ParseMode, convert_address, parse_address

    units = table()
    compared = 0
    for code, unit in units._communes.items():
        if unit.province_key not in ("tinhdongnai", "tinhbinhphuoc"):
            continue
        conversion = units.convert(code)
        if conversion.status == "split":
            continue
        if parse_address(unit.name, mode=ParseMode.LEGACY, keep_street=True).street:
            continue  # the parser would take part of the name for a street (2 names)
        assert conversion.status == "converted"
        assert convert_address(unit.name).ward_code == conversion.commune.code, unit.name
        compared += 1
    assert compared >= 260


def _parcels_with_old_codes(path: Path, old: list) -> Path:
    geoms, fields = parcels(len(old))
    del fields["commune_code"]
    return write_vector(path, geoms, {"MA_XA_CU": old, **fields})


def test_old_commune_codes_land_with_current_ones(run, imp_conn: psycopg.Connection,
                                                   tmp_path: Path) -> None:
    path = _parcels_with_old_codes(tmp_path / "thua_cu.geojson", [26011, 26041, 26050])
    mapping = {"admin_units": {"from": "MA_XA_CU", "as": "pre2025"}}
    report = run(path, "land.parcels", mapping=mapping)
    assert report.rows_loaded == 3
    rows = imp_conn.execute("SELECT commune_code, extra->>'MA_XA_CU' FROM land.parcels "
                            "ORDER BY parcel_no").fetchall()
    current = table().convert("26050").commune.code  # Phường An Bình -> its successor
    assert rows == [("26041", "26011"), ("26041", "26041"), (current, "26050")]
    body = report.as_dict()
    converted = next(f for f in body["findings"] if f["rule"] == "admin_units.converted")
    assert converted["severity"] == "fix" and converted["count"] == 3
    assert body["derived"]["commune_code"] == {
        "how": "admin_units", "scheme": "the current unit of a pre-2025 code or name "
        "(vietnamadminunits' official table)", "rows": 3, "missing": 0, "source": "MA_XA_CU",
        "edition": "pre2025"}
    assert body["extra"]["admin_units"]["26011"].endswith("-> 26041 Phường Trấn Biên "
                                                          "(Tỉnh Đồng Nai)")


def test_old_names_in_several_fields(run, imp_conn: psycopg.Connection, tmp_path: Path) -> None:
    geoms, fields = parcels(2)
    del fields["commune_code"]
    path = write_vector(tmp_path / "ten_cu.gpkg", geoms, {
        "TEN_XA": ["Phường Bửu Long", "phường Quang Vinh"],
        "TEN_HUYEN": ["Thành phố Biên Hòa", "TP. Biên Hòa"], "TEN_TINH": ["Đồng Nai"] * 2,
        **fields})
    mapping = {"admin_units": {"from": ["TEN_XA", "TEN_HUYEN", "TEN_TINH"], "as": "pre2025"}}
    run(path, "land.parcels", mapping=mapping)
    codes = [r[0] for r in imp_conn.execute("SELECT commune_code FROM land.parcels "
                                            "ORDER BY parcel_no")]
    assert codes == ["26041", "26041"]


def test_split_commune_is_refused_with_candidates(run, state, tmp_path: Path) -> None:
    run(_parcels_with_old_codes(tmp_path / "tot.geojson", [26011]), "land.parcels",
        mapping={"admin_units": {"from": "MA_XA_CU", "as": "pre2025"}})
    before = state("land.parcels")
    path = _parcels_with_old_codes(tmp_path / "tach.geojson", [26011, 26449])
    with pytest.raises(ImportFailed) as err:
        run(path, "land.parcels", mapping={"admin_units": {"from": "MA_XA_CU", "as": "pre2025"}})
    message = str(err.value)
    assert "1 of 2 features of " in message and "tach.geojson were rejected" in message
    assert "the pre-2025 commune was split between several current communes" in message
    assert XUAN_TAM_SPLIT[:40] in message and "feature 2" in message
    assert state("land.parcels") == before


def _iocgis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IOCGIS, *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "200",
                               "HOME": str(Path.home())})


def test_cli_converts_an_address_a_code_and_a_file(tmp_path: Path) -> None:
    done = _iocgis("admin", "convert", BUU_LONG, "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert (body["status"], body["commune_code"], body["commune"]) == (
        "converted", "26041", "Phường Trấn Biên")
    assert body["old"] == {"level": "commune", "code": "26011", "name": BUU_LONG}
    shown = _iocgis("admin", "convert", "26011")
    assert shown.returncode == 0 and "26041 Phường Trấn Biên" in shown.stdout

    split = _iocgis("admin", "convert", "26449")
    assert split.returncode == 2
    assert "Xã Xuân Đông" in split.stdout and XUAN_TAM_SPLIT in " ".join(split.stderr.split())

    source = tmp_path / "ho_cu.csv"
    source.write_text("MA_HO,MA_XA_CU\nH1,26011\nH2,26449\nH3,26011\nH4,\n", encoding="utf-8")
    out = tmp_path / "ho_moi.csv"
    done = _iocgis("admin", "convert", str(source), "--field", "MA_XA_CU", "--out", str(out),
                   "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows"] == 4 and summary["by_status"] == {"converted": 2, "split": 1}
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "feature,given,status,commune_code,commune,province_code,province,candidates"
    assert lines[1] == "2,26011,converted,26041,Phường Trấn Biên,75,Tỉnh Đồng Nai,"
    assert lines[2].startswith("3,26449,split,,,75,Tỉnh Đồng Nai,26359 Xã Xuân Đông; 26446")
    assert lines[4] == "5,,empty,,,,,"

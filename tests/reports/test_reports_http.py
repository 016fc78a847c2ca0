"""Reports generated over HTTP as real accounts on the small data set: every number against
independent SQL, the PDF drawn to PNG and read back as text, the XLSX read by openpyxl, the
server-drawn map not blank, the access rules (personal data, communes, the operation report),
the record, downloads and an identical regeneration."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import psycopg
import pytest
from PIL import Image
from pypdf import PdfReader

from .helpers import pdf_pages, pdf_text, run_job, sheet_rows, workbook
from .reports_fixtures import COMMUNES, NAME, NEW_HOUSES, PERIOD, PHONE, PROVINCE, new_houses_file


def _files(client: httpx.Client, job: dict) -> dict[str, bytes]:
    assert job["status"] == "done", job
    out = {}
    for fmt in job["record"]["outputs"]:
        response = client.get(f"/reports/{job['record']['id']}.{fmt}")
        assert response.status_code == 200, response.text
        out[fmt] = response.content
    return out


@pytest.fixture(scope="module")
def province(clients: dict[str, httpx.Client]) -> dict:
    job = run_job(clients["analyst"], report="kinh_te_xa_hoi_quy", period=PERIOD)
    return {"job": job, **_files(clients["analyst"], job)}


@pytest.fixture(scope="module")
def sql(reports_db_url: str):  # noqa: ANN201
    with psycopg.connect(reports_db_url, autocommit=True) as conn:
        yield lambda q, *a: conn.execute(q, a).fetchall()


def test_indicator_numbers_equal_sql(province: dict, sql) -> None:  # noqa: ANN001
    book = workbook(province["xlsx"])
    rows = sheet_rows(book, "Các chỉ tiêu chủ yếu")
    expected = sql("SELECT i.code, i.target::float8, v.value::float8, p.value::float8, "
                   "y.value::float8 FROM kpi.indicators i "
                   "JOIN kpi.values v ON v.indicator_code = i.code AND v.admin_code = %s "
                   "AND v.period = %s "
                   "LEFT JOIN kpi.values p ON p.indicator_code = i.code AND p.admin_code = %s "
                   "AND p.period = '2025-Q2' "
                   "LEFT JOIN kpi.values y ON y.indicator_code = i.code AND y.admin_code = %s "
                   "AND y.period = '2024-Q3' ORDER BY i.sector, i.code",
                   PROVINCE, PERIOD, PROVINCE, PROVINCE)
    got = [(r[2], r[5], r[6], r[9], r[10]) for r in rows]
    assert got == [tuple(e) for e in expected]
    for r in rows:  # numbers as numbers, status from the direction
        assert all(isinstance(v, (int, float)) for v in (r[5], r[6], r[7], r[9], r[10]))
        assert r[7] == pytest.approx(r[6] - r[5])
    missing = sheet_rows(book, "Chỉ tiêu chưa đạt")
    expected_missing = sql(
        "SELECT v.admin_code, i.code, v.value::float8 FROM kpi.values v JOIN kpi.indicators i "
        "ON i.code = v.indicator_code WHERE v.period = %s AND ((i.direction = 'higher_better' "
        "AND v.value < i.target) OR (i.direction = 'lower_better' AND v.value > i.target)) "
        "ORDER BY i.sector, i.code, v.admin_code", PERIOD)
    assert [(r[0], r[2], r[6]) for r in missing] == [tuple(e) for e in expected_missing]
    assert all(r[8] == "not_met" for r in missing)
    by_commune = sheet_rows(book, "Tỷ lệ hộ nghèo theo xã")
    assert [(r[0], r[6]) for r in by_commune] == [tuple(e) for e in sql(
        "SELECT admin_code, value::float8 FROM kpi.values WHERE indicator_code = 'POOR_RATE' "
        "AND period = %s AND admin_code <> %s ORDER BY 1", PERIOD, PROVINCE)]


def test_totals_and_lists_equal_sql(province: dict, sql) -> None:  # noqa: ANN001
    book = workbook(province["xlsx"])
    houses = sheet_rows(book, "Nhà ở và hộ nghèo theo xã")
    assert [(r[0], r[2], r[3], r[4]) for r in houses] == [tuple(e) for e in sql(
        "SELECT commune_code, count(*), sum(household_size), count(*) FILTER (WHERE is_poor) "
        "FROM housing.houses GROUP BY 1 ORDER BY 1")]
    incidents = sheet_rows(book, "Sự cố trong kỳ")
    assert [r[0] for r in incidents] == [e[0] for e in sql(
        "SELECT incident_code FROM emergency.incidents WHERE reported_at >= '2025-07-01+07' "
        "AND reported_at < '2025-10-01+07' ORDER BY reported_at")]
    overdue = sheet_rows(book, "Phản ánh")
    assert sorted(r[0] for r in overdue) == sorted(e[0] for e in sql(
        "SELECT report_code FROM citizen.reports WHERE due_at >= '2025-07-01+07' AND due_at < "
        "'2025-10-01+07' AND (answered_at IS NULL OR answered_at > due_at)"))
    assert len(overdue) == len(COMMUNES)


def test_pdf_pages_text_and_map(province: dict, tmp_path: Path) -> None:
    text = pdf_text(province["pdf"], tmp_path)
    for heading in ("BÁO CÁO TÌNH HÌNH KINH TẾ – XÃ HỘI", "Quý III năm 2025", "Mục lục",
                    "Các chỉ tiêu chủ yếu toàn tỉnh", "Tỷ lệ hộ nghèo theo xã, phường",
                    "Nguồn dữ liệu và phiên bản", "Trấn Biên", "Chưa đạt"):
        assert heading in text, heading
    assert "Trang 1/" in text
    pages = pdf_pages(province["pdf"], tmp_path)
    assert len(pages) >= 3
    for page in pages:
        pixels = np.asarray(Image.open(page).convert("L"))
        assert (pixels < 200).mean() > 0.005, f"{page.name} is blank"
    images = [img for p in PdfReader(io.BytesIO(province["pdf"])).pages for img in p.images]
    assert len(images) >= 2  # the chart and the map
    sizes = [Image.open(io.BytesIO(img.data)).convert("RGB") for img in images]
    the_map = max(sizes, key=lambda i: i.width * i.height)
    assert the_map.width >= 900  # 170 mm at 150 dpi
    colours = np.unique(np.asarray(the_map.reduce(4)).reshape(-1, 3), axis=0)
    assert len(colours) > 20  # drawn, not one flat colour
    red = np.asarray(the_map)[..., 0].astype(int) - np.asarray(the_map)[..., 1]
    assert (red > 60).mean() > 0.05  # the communes missing the poverty target, in red


def test_record_download_and_regeneration(province: dict, clients, sql) -> None:  # noqa: ANN001
    record = province["job"]["record"]
    assert record["generated_by"].startswith("rpanalyst")
    assert set(record["versions"]) >= {"kpi.values", "kpi.indicators", "housing.houses",
                                       "emergency.incidents", "citizen.reports"}
    assert set(record["data_sha256"]) == {"chi_tieu_tinh", "chi_tieu_chua_dat", "ngheo_theo_xa",
                                          "bieu_do_ngheo", "ban_do_ngheo", "nha_o", "truong_hoc",
                                          "su_co", "phan_anh_qua_han"}
    import hashlib

    assert hashlib.sha256(province["pdf"]).hexdigest() == record["outputs"]["pdf"]["sha256"]
    listed = clients["analyst"].get("/reports").json()["reports"]
    assert record["id"] in [r["id"] for r in listed]
    assert clients["analyst_pii"].get(f"/reports/{record['id']}").status_code == 404
    assert clients["anonymous"].get(f"/reports/{record['id']}.pdf").status_code == 401
    assert clients["admin"].get(f"/reports/{record['id']}").status_code == 200
    again = clients["analyst"].post(f"/reports/{record['id']}/regenerate")
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["identical"], body
    assert body["outputs"]["pdf"]["now"] == record["outputs"]["pdf"]["sha256"]
    (row,) = sql("SELECT regenerates FROM reports.generated WHERE id = %s",
                 body["regenerated_as"])
    assert row[0] == record["id"]
    assert sql("SELECT count(*) FROM audit.events WHERE action = 'report.generate' AND "
               "target = %s", str(record["id"]))[0][0] == 1


def test_flood_report_personal_data_only_with_the_right(clients) -> None:  # noqa: ANN001
    for label, sees in (("analyst", False), ("analyst_pii", True)):
        job = run_job(clients[label], report="ngap_lut_xa", period=PERIOD, area="26041",
                      formats=["xlsx"])
        data = _files(clients[label], job)["xlsx"]
        book = workbook(data)
        cells = {str(v) for s in book.worksheets for r in s.iter_rows(values_only=True)
                 for v in r if v is not None}
        assert (PHONE in cells) is sees, label
        assert NAME not in cells  # the household head is never a column of a report
        incidents = sheet_rows(book, "Sự cố trong kỳ")
        assert [r[0] for r in incidents] == ["SC-26041"]
        alerts = sheet_rows(book, "Cảnh báo từ trạm")
        assert [(r[0], r[4]) for r in alerts] == [("TV-TEST", 2)]


def test_commune_limited_caller_sees_only_its_communes(clients, sql) -> None:  # noqa: ANN001
    job = run_job(clients["scoped"], report="kinh_te_xa_hoi_quy", period=PERIOD,
                  formats=["xlsx"])
    book = workbook(_files(clients["scoped"], job)["xlsx"])
    units = {r[0] for name in ("Các chỉ tiêu chủ yếu", "Chỉ tiêu chưa đạt", "Tỷ lệ hộ nghèo")
             for r in sheet_rows(book, name)}
    assert units == {"26041"}
    assert [r[0] for r in sheet_rows(book, "Nhà ở và hộ nghèo")] == ["26041"]
    assert [r[0] for r in sheet_rows(book, "Sự cố trong kỳ")] == ["SC-26041"]
    assert [r[0] for r in sheet_rows(book, "Phản ánh")] == ["PA-26041-1"]
    other = clients["scoped"].post("/reports/jobs", json={"report": "ngap_lut_xa",
                                                          "period": PERIOD, "area": "26068"})
    job = other.json()
    if other.status_code == 202:
        job = run_job(clients["scoped"], report="ngap_lut_xa", period=PERIOD, area="26068")
        assert job["status"] == "failed" and job["error"]["code"] == "Forbidden", job


def test_operation_report_is_for_administrators(clients) -> None:  # noqa: ANN001
    refused = clients["analyst"].post("/reports/jobs", json={"report": "van_hanh_ioc",
                                                             "period": "2026-H2"})
    assert refused.status_code == 403, refused.text
    job = run_job(clients["admin"], report="van_hanh_ioc", period="2026-H2", formats=["xlsx"])
    book = workbook(_files(clients["admin"], job)["xlsx"])
    usage = sheet_rows(book, "Khai thác dữ liệu")
    assert sum(r[3] for r in usage) > 0 and all(isinstance(r[3], int) for r in usage)
    freshness = {r[0]: r[6] for r in sheet_rows(book, "Độ cập nhật")}
    assert freshness["kpi.values"] == "never_imported"


@pytest.mark.parametrize("order, status, where", [
    ({"report": "no_such_report", "period": PERIOD}, 404, "report"),
    ({"report": "kinh_te_xa_hoi_quy", "period": "2025-Q5"}, 400, "period"),
    ({"report": "kinh_te_xa_hoi_quy", "period": "2025-07"}, 400, "period"),
    ({"report": "ngap_lut_xa", "period": PERIOD}, 400, "area"),
    ({"report": "ngap_lut_xa", "period": PERIOD, "area": "26041", "formats": ["docx"]}, 400,
     "formats"),
    ({"report": "ngap_lut_xa", "period": PERIOD, "colour": "red"}, 400, "colour"),
])
def test_bad_orders_say_what_and_where(clients, order: dict, status: int, where: str) -> None:  # noqa: ANN001
    response = clients["analyst"].post("/reports/jobs", json=order)
    assert response.status_code == status, response.text
    assert response.json()["where"] == where
    assert clients["anonymous"].post("/reports/jobs", json=order).status_code == 401


@pytest.fixture(scope="module")
def scoped_province(clients: dict[str, httpx.Client]) -> dict:
    job = run_job(clients["scoped"], report="kinh_te_xa_hoi_quy", period=PERIOD,
                  formats=["xlsx"])
    return {"job": job, **_files(clients["scoped"], job)}


def _scoped_rows(url: str, prefix: str, table: str, caller) -> list[tuple]:  # noqa: ANN001
    """``table``'s communes as the Reader reads them for ``caller`` (its group role and
    communes), and as the serving role outside any plan."""
    from iocgis.access import db_scope
    from iocgis.access.database import scope_sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(scope_sql(prefix, db_scope(caller), 30_000))
        rows = conn.execute(f"SELECT DISTINCT commune_code FROM {table} ORDER BY 1").fetchall()
        conn.execute("ROLLBACK")
        conn.execute(f"SET ROLE {prefix}api")
        outside = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return [*rows, ("outside a plan", outside)]


def test_regeneration_reads_the_recorded_versions(province: dict, scoped_province: dict,
                                                  clients, sql, reports_db_url: str,  # noqa: ANN001
                                                  reports_settings, accounts, tmp_path: Path
                                                  ) -> None:
    """A new version of housing.houses imported after the reports: their regeneration reads
    the version they recorded from the import history (identical SHA-256, numbers equal to
    SQL on the kept table), a commune-limited caller's still only its commune (the kept
    table under the live one's row security); rolled back, that version is gone: 410."""
    from iocgis.access import Caller
    from iocgis.importers.history import rollback
    from iocgis.importers.options import ImportOptions
    from iocgis.importers.pipeline import import_path
    from iocgis.layers import get_registry
    from iocgis.roles import dbroles

    record, scoped = province["job"]["record"], scoped_province["job"]["record"]
    version = record["versions"]["housing.houses"]
    assert scoped["versions"]["housing.houses"] == version
    loaded = import_path(new_houses_file(tmp_path), "housing.houses",
                         ImportOptions(mode="append", approval="auto"), url=reports_db_url,
                         settings=reports_settings)
    try:
        assert loaded.rows_loaded == len(NEW_HOUSES), loaded
        (kept,) = sql("SELECT previous_table FROM meta.imports WHERE id = %s", loaded.import_id)
        table = kept[0]
        by_commune = ("SELECT commune_code, count(*), sum(household_size), count(*) FILTER "
                      "(WHERE is_poor) FROM {} GROUP BY 1 ORDER BY 1")
        then = [tuple(r) for r in sql(by_commune.format(table))]
        assert then != [tuple(r) for r in sql(by_commune.format("housing.houses"))]
        assert [(r[0], r[2], r[3], r[4]) for r in sheet_rows(workbook(province["xlsx"]),
                                                           "Nhà ở và hộ nghèo")] == then
        officer = Caller(name="x", roles=frozenset({"gis_officer"}),
                         commune_codes=frozenset({"26041"}))
        security = reports_settings.security
        seen = [("26041",), ("outside a plan", 0)]
        assert _scoped_rows(reports_db_url, security.db_role_prefix, table, officer) == seen
        with psycopg.connect(reports_db_url, autocommit=True) as conn:  # the rules follow a sync
            dbroles.sync(conn, get_registry(), security)
        assert _scoped_rows(reports_db_url, security.db_role_prefix, table, officer) == seen

        for label, was in (("analyst", record), ("scoped", scoped)):
            again = clients[label].post(f"/reports/{was['id']}/regenerate")
            assert again.status_code == 200, again.text
            body = again.json()
            assert body["identical"] and not body["sections_changed"], body
            assert body["read_from_history"] == {"housing.houses": version}
            (row,) = sql("SELECT versions, data_sha256 FROM reports.generated WHERE id = %s",
                         body["regenerated_as"])
            assert row == (was["versions"], was["data_sha256"])
        xlsx = clients["scoped"].get(f"/reports/{body['regenerated_as']}.xlsx").content
        assert [(r[0], r[2]) for r in sheet_rows(workbook(xlsx), "Nhà ở và hộ nghèo")] == \
            [tuple(r[:2]) for r in then if r[0] == "26041"]
    finally:
        rollback("housing.houses", url=reports_db_url, settings=reports_settings)
    gone = clients["analyst"].post(f"/reports/{record['id']}/regenerate")
    assert gone.status_code == 410, gone.text
    assert gone.json()["where"] == "versions.housing.houses"
    assert f"data version {version}" in gone.json()["description"]

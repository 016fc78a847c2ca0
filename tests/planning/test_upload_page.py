"""The issue's "done when", in headless Chromium: a GIS officer signs in on /planning/upload,
creates the dossier of a detailed plan, uploads its DXF drawing, its PDF note and its decision,
imports the drawing's zones (approved by an administrator: four eyes), sets the decision and
approves the plan; the lookup of a parcel inside it then returns the zone, the limits and the
decision and prints the sheet, and search finds the note by an unaccented phrase."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page

from ..tiles.browser import chromium, new_page
from .conftest import halves
from .files import make_dxf, make_pdf

pytestmark = pytest.mark.browser
PLAN = "QHCT-PAGE-01"
PARCEL = "26041/501/1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def settle(page: Page, timeout: float = 60) -> None:
    """Wait until the page's actions are done (polled: the CSP forbids eval'd scripts)."""
    deadline = time.monotonic() + timeout
    time.sleep(0.1)
    while page.evaluate("() => window.planning.busy") > 0:
        assert time.monotonic() < deadline, "the page stayed busy"
        time.sleep(0.1)
    errors = page.evaluate("() => window.planning.errors")
    assert not errors, errors


def test_an_officer_uploads_a_detailed_plan_in_the_page(
        browser: Browser, planning_server, accounts, clients: dict[str, httpx.Client],  # noqa: ANN001
        tmp_path: Path, artifacts_dir: Path) -> None:
    west, east = halves(PLAN)
    drawing = make_dxf(tmp_path / "qhct_page_01.dxf", [
        {"zone_code": "PG-ODT-01", "land_use": "ODT", "rules": "MĐXD 70% - HSSDĐ 4,5 - 7 tầng",
         "geom": west},
        {"zone_code": "PG-TMD-01", "land_use": "TMD", "rules": "MĐXD 50% - HSSDĐ 8,0 - 20 tầng",
         "geom": east}])
    note = make_pdf(tmp_path / "thuyet_minh.pdf", "Thuyết minh đồ án", [
        "Quy hoạch chi tiết khu trung tâm hành chính mới phường Trấn Biên."])
    decision = make_pdf(tmp_path / "quyet_dinh.pdf", "QUYẾT ĐỊNH", [
        "Phê duyệt đồ án quy hoạch chi tiết tỷ lệ 1/500."])
    officer = accounts["gis_officer"]
    with new_page(browser) as page:
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
        page.goto(f"{planning_server.url}/planning/upload")
        page.wait_for_selector("#status:not(:empty)")
        assert page.evaluate("() => window.planning.ready")
        page.fill("#username", officer.name)
        page.fill("#password", officer.password)
        page.click("#signin-button")
        page.wait_for_selector("#work:not([hidden])")
        settle(page)

        page.fill("#project_code", PLAN)
        page.click("#create-button")
        settle(page)
        dossier = page.evaluate("() => window.planning.dossier")
        assert dossier["project_code"] == PLAN and dossier["status"] == "draft"
        for kind, path in (("drawing", drawing), ("note", note), ("decision", decision)):
            page.select_option("#document-kind", kind)
            page.set_input_files("#document-file", str(path))
            page.click("#upload-button")
            settle(page)
        rows = page.locator("#documents tbody tr")
        assert rows.count() == 3
        page.click("button.import-zones")
        settle(page, timeout=120)
        assert "chờ cán bộ phụ trách dữ liệu phê duyệt" in page.evaluate(
            "() => window.planning.message")
        pending = clients["admin"].get("/imports", params={"status": "pending",
                                                            "layer": "planning.zones"})
        import_id = next(i["import_id"] for i in pending.json()["imports"]
                         if i["submitted_by"] == officer.name)
        assert clients["admin"].post(f"/imports/{import_id}/approve").status_code == 200

        page.fill("#decision-number", "321/QĐ-UBND")
        page.fill("#decision-date", "2025-03-10")
        page.fill("#authority", "UBND tỉnh Đồng Nai")
        page.fill("#signer", "Chủ tịch Võ Văn Phi")
        page.select_option("#decision-document", label="quyet_dinh.pdf")
        page.click("#decision-button")
        settle(page)
        page.select_option("#new-status", "approved")
        page.fill("#status-note", "ban hành quyết định")
        page.click("#status-button")
        settle(page)
        assert page.evaluate("() => window.planning.dossier.status") == "approved"
        assert "321/QĐ-UBND" in page.inner_text("#decision-now")
        page.screenshot(path=str(artifacts_dir / "planning-upload-page.png"), full_page=True)
        assert not [m for m in messages if "Content Security Policy" in m], messages

    lookup = clients["analyst"].get("/planning/lookup", params={"parcel": PARCEL})
    assert lookup.status_code == 200, lookup.text
    plan = next(p for p in lookup.json()["plans"] if p["project_code"] == PLAN)
    zones = {z["zone_code"]: z for z in plan["zones"]}
    assert set(zones) == {"PG-ODT-01", "PG-TMD-01"}
    assert (zones["PG-ODT-01"]["far_max"], zones["PG-ODT-01"]["density_max_pct"],
            zones["PG-ODT-01"]["floors_max"]) == (4.5, 70.0, 7)
    assert plan["decision"]["number"] == "321/QĐ-UBND" and plan["decision"]["document"]
    sheet = clients["analyst"].get("/planning/lookup", params={"parcel": PARCEL, "f": "pdf"})
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(sheet.content)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "p")], check=True)
    pages = list(tmp_path.glob("p*.png"))
    assert len(pages) == 1
    image = np.asarray(Image.open(pages[0]).convert("RGB"))
    assert (image < 250).any(axis=2).mean() > 0.03  # the page is printed, not blank
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "THÔNG TIN QUY HOẠCH" in text and "PG-ODT-01" in text and "321/QĐ-UBND" in text
    found = clients["anonymous"].get("/planning/search", params={
        "q": "trung tam hanh chinh moi phuong tran bien"}).json()["hits"]
    assert found and found[0]["type"] == "document" and found[0]["project_code"] == PLAN

"""Done when: a report sent from the form on a phone-sized browser (the phone's position, a
photo) reaches the right commune's queue, is answered, rated through the one-time link and
shows on the public map without its reporter. Headless Chromium (Debian's, via Playwright);
screenshots in test-artifacts/."""

from __future__ import annotations

import pytest

from ..tiles.browser import CHROMIUM, FLAGS, wait_until
from .citizen_fixtures import IN_WARD, REPORTER, SECRETS, WARD, photo_with_gps
from .helpers import step

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


def test_phone_form_to_answer_rating_and_public_map(citizen_server, clients, artifacts_dir,
                                                    tmp_path) -> None:  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    photo = tmp_path / "den_duong.jpg"
    photo.write_bytes(photo_with_gps(*IN_WARD))
    lon, lat = IN_WARD
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            context = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                geolocation={"longitude": lon, "latitude": lat}, permissions=["geolocation"],
                locale="vi-VN")
            page = context.new_page()
            page.goto(citizen_server.url + "/citizen/report")
            wait_until(page, "() => window.citizen && window.citizen.ready")
            page.select_option("#category", "trat_tu_do_thi")
            page.fill("#text", "Lấn chiếm vỉa hè trước chợ, người đi bộ phải đi xuống lòng đường.")
            page.click("#locate")
            wait_until(page, "() => window.citizen.place !== null")
            page.set_input_files("#photos", str(photo))
            page.fill("#name", REPORTER["name"])
            page.fill("#phone", REPORTER["phone"])
            page.screenshot(path=str(artifacts_dir / "citizen_form_phone.png"), full_page=True)
            page.click("#send")
            wait_until(page, "() => window.citizen.receipt !== null")
            receipt = page.evaluate("() => window.citizen.receipt")
            page.screenshot(path=str(artifacts_dir / "citizen_receipt_phone.png"))
            assert receipt["commune_code"] == WARD and receipt["photos"] == 1
            assert page.is_visible("#receipt") and receipt["report_code"] in page.inner_text(
                "#receipt")
            code = receipt["report_code"]

            # the ward's queue has it; its officer handles it
            officer = clients["ward_officer"]
            queue = officer.get("/citizen/queue", params={"unit": f"ubnd_{WARD}"}).json()
            assert code in {r["report_code"] for r in queue["reports"]}
            file = officer.get(f"/citizen/cases/{code}").json()
            assert file["location_source"] == "device"
            assert file["photos"][0]["exif_lat"] == pytest.approx(lat, abs=1e-5)
            officer.post(f"/citizen/cases/{code}/moderation", json={
                "summary": "Lấn chiếm vỉa hè trước chợ.",
                "photos": {file["photos"][0]["public_id"]: True}})
            assert step(officer, code, to="dang_xu_ly").status_code == 200
            assert step(officer, code, to="da_tra_loi",
                        answer="Phường đã nhắc nhở và giải tỏa vỉa hè.").status_code == 200

            # the reporter rates the answer through the one-time link
            page.goto(receipt["tracking_url"])
            wait_until(page, "() => window.citizen && window.citizen.ready")
            assert page.is_visible("#rate")
            page.click("#stars button[data-rating='5']")
            wait_until(page, "() => window.citizen.report.status === 'da_dong'")
            page.screenshot(path=str(artifacts_dir / "citizen_rated_phone.png"))

            # the public map and list show it, generalised, without its reporter
            page.goto(citizen_server.url + "/citizen")
            wait_until(page, "() => window.citizen && window.citizen.ready", timeout=90)
            assert code in page.evaluate("() => window.citizen.codes")
            text = page.inner_text("body")
            assert "Phường đã nhắc nhở và giải tỏa vỉa hè." in text
            assert not [s for s in SECRETS if s in page.content()]
            page.screenshot(path=str(artifacts_dir / "citizen_public_phone.png"), full_page=True)
            context.close()
        finally:
            browser.close()
    public = clients["anonymous"].get(f"/open311/v2/requests/{code}.json").json()[0]
    assert public["status"] == "closed" and public["media_url"].endswith(".jpg")

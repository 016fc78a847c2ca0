"""The dashboard in headless Chromium: sign in through its form as an analyst, the
choropleth's statuses against the targets, the indicators missing their targets, a click on a
commune giving the group totals of the query API, 3D housing (the footprints extruded), English,
a report generated from the page; screenshots in test-artifacts/dashboard*.png."""

from __future__ import annotations

import psycopg
import pytest

from ..security.security_helpers import PASSWORD
from ..tiles.browser import chromium, colours, new_page, wait_until
from .reports_fixtures import COMMUNES, PERIOD

pytestmark = pytest.mark.browser


def test_dashboard(reports_server, accounts, reports_db_url, artifacts_dir) -> None:  # noqa: ANN001
    with psycopg.connect(reports_db_url, autocommit=True) as conn:
        expected = dict(conn.execute(
            "SELECT v.admin_code, CASE WHEN v.value >= i.target THEN 'met' ELSE 'not_met' END "
            "FROM kpi.values v JOIN kpi.indicators i ON i.code = v.indicator_code WHERE "
            "i.code = 'HEALTH_INSURANCE' AND v.period = %s AND v.admin_code <> '75'",
            (PERIOD,)).fetchall())
        missing = conn.execute(
            "SELECT count(*) FROM kpi.values v JOIN kpi.indicators i ON i.code = v.indicator_code"
            " WHERE v.period = %s AND ((i.direction = 'higher_better' AND v.value < i.target) OR"
            " (i.direction = 'lower_better' AND v.value > i.target))", (PERIOD,)).fetchone()[0]
        houses = conn.execute("SELECT count(*) FROM housing.houses WHERE commune_code = '26068'"
                              ).fetchone()[0]
    with chromium() as browser, new_page(browser) as page:
        page.set_viewport_size({"width": 1400, "height": 800})
        page.goto(f"{reports_server.url}/dashboard")
        assert page.inner_text("h1") == "Bảng điều hành UBND tỉnh"
        page.click("#sign-in-open")
        page.fill("#username", accounts["analyst"].name)
        page.fill("#password", PASSWORD)
        page.click("#sign-in-submit")
        wait_until(page, "() => window.iocgis.ready === true", timeout=150)  # loaded CI
        statuses = page.evaluate("() => window.iocgis.statuses")
        assert statuses == expected and set(statuses) == set(COMMUNES)
        assert page.evaluate("() => window.iocgis.missing") == missing
        assert page.evaluate("() => window.iocgis.alerts") == 1  # the station alert, still open
        west, south, east, north = COMMUNES["26068"][1]
        box = page.locator("#map").bounding_box()
        at = page.evaluate(f"() => window.iocgis.project({(west + east) / 2}, {(south + north) / 2})")
        page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
        wait_until(page, "() => window.iocgis.totals !== null")
        totals = page.evaluate("() => window.iocgis.totals")
        assert totals["query"]["admin"]["code"] == "26068"
        assert totals["layers"]["housing.houses"]["count"] == houses
        assert "Phường Tam Hiệp" in page.inner_text("#totals")
        page.screenshot(path=str(artifacts_dir / "dashboard.png"))
        # 3D housing: the housing theme's extrusions over the first commune's footprints
        west, south, east, north = COMMUNES["26041"][1]
        page.evaluate(f"() => window.iocgis.view({west + (east - west) * 0.3}, "
                      f"{(south + north) / 2}, 16)")
        page.check("#housing-3d")
        wait_until(page, "() => window.iocgis.housing3d !== undefined", timeout=120)
        housing = page.evaluate("() => window.iocgis.housing3d")
        (extruded,) = [id_ for id_ in housing["layers"] if ":extrusion:" in id_]
        assert housing["on"] and housing["pitch"] > 0, housing
        assert housing["drawn"][extruded] >= 1, housing  # footprints drawn as extrusions
        assert colours(page.screenshot(path=str(artifacts_dir / "dashboard_3d.png"))) > 20
        page.click("#lang")
        assert page.inner_text("h1") == "Provincial leaders' dashboard"
        assert page.inner_text("#missing-panel h2") == "Indicators missing their targets"
        page.select_option("#report-name", "ngap_lut_xa")
        page.fill("#report-period", PERIOD)
        page.fill("#report-area", "26068")
        page.click("#report-form button")
        wait_until(page, "() => window.iocgis.lastJob !== undefined", timeout=180)
        job = page.evaluate("() => window.iocgis.lastJob")
        assert job["status"] == "done", job
        assert job["record"]["area"] == "26068"
        page.screenshot(path=str(artifacts_dir / "dashboard_en.png"))

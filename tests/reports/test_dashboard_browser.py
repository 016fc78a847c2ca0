"""The dashboard in headless Chromium: sign in through its form as an analyst, the
choropleth's statuses against the targets, the indicators missing their targets, a click on a
commune giving the group totals of the query API and the previous period's value, a radius and
a drawn polygon giving theirs, 3D housing (the footprints extruded), English,
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
        before = conn.execute("SELECT value::float8 FROM kpi.values WHERE admin_code = '26068'"
                              " AND indicator_code = 'HEALTH_INSURANCE' AND period = '2025-Q2'"
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
        assert f"Kỳ trước {before:g}".replace(".", ",") in page.inner_text("#totals")
        # a radius around the same point: the houses within 1 km of where it landed
        page.select_option("#mode", "radius")
        page.evaluate("() => { window.iocgis.totals = null; }")
        page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
        wait_until(page, "() => window.iocgis.totals !== null")
        totals = page.evaluate("() => window.iocgis.totals")
        query = totals["query"]
        with psycopg.connect(reports_db_url, autocommit=True) as conn:
            near = conn.execute(
                "SELECT count(*) FROM housing.houses WHERE ST_DWithin(geom::geography,"
                " ST_MakePoint(%s, %s)::geography, %s)",
                (query["lon"], query["lat"], query["radius_m"])).fetchone()[0]
        assert query["radius_m"] == 1000 and near >= 2
        assert totals["layers"]["housing.houses"]["count"] == near
        # a polygon drawn inside the commune: all its houses
        page.select_option("#mode", "polygon")
        page.evaluate("() => { window.iocgis.totals = null; }")
        for fx, fy in ((0.05, 0.05), (0.95, 0.05), (0.95, 0.95), (0.05, 0.95)):
            corner = page.evaluate(f"() => window.iocgis.project({west + (east - west) * fx}, "
                                   f"{south + (north - south) * fy})")
            page.mouse.click(box["x"] + corner["x"], box["y"] + corner["y"])
        page.click("#finish-polygon")
        wait_until(page, "() => window.iocgis.totals !== null")
        assert page.evaluate("() => window.iocgis.totals")["layers"]["housing.houses"][
            "count"] == houses
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

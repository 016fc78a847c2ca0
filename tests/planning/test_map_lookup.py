"""The web map's planning panel in headless Chromium: an analyst signs in on /map (land
theme), clicks the parcel inside the approved detailed plan, and the panel shows its zones,
their limits, the decision and the link to the printed sheet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from ..tiles.browser import chromium, new_page, wait_until
from .conftest import LOOKUP_PARCEL, LOOKUP_PLAN, straddling_parcel

pytestmark = pytest.mark.browser
READY = "() => window.iocgis && window.iocgis.ready === true"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def test_clicking_a_parcel_opens_its_planning_lookup(
        browser: Browser, planning_server, accounts, approved_plan: dict,  # noqa: ANN001
        clients: dict[str, httpx.Client], artifacts_dir: Path) -> None:
    centre = straddling_parcel(LOOKUP_PLAN).centroid
    analyst = accounts["analyst"]
    with new_page(browser) as page:
        page.goto(f"{planning_server.url}/map?theme=land#18/{centre.y}/{centre.x}")
        wait_until(page, READY)
        page.fill("#username", analyst.name)
        page.fill("#password", analyst.password)
        page.click("#sign-in-submit")
        wait_until(page, "() => window.iocgis.auth.signedIn && window.iocgis.ready === true && "
                         "window.iocgis.map.getStyle().metadata['iocgis:theme'] === 'land'")
        wait_until(page, "() => window.iocgis.map.queryRenderedFeatures()"
                         ".some(f => f.sourceLayer === 'land.parcels')")
        box = page.locator("#map").bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        wait_until(page, "() => !!window.iocgis.planning")
        answer = page.evaluate("() => window.iocgis.planning")
        assert "error" not in answer, answer
        parcel = answer["place"]["parcel"]
        assert f"{parcel['commune_code']}/{parcel['sheet_no']}/{parcel['parcel_no']}" == \
            LOOKUP_PARCEL
        panel = page.locator("#planning")
        assert panel.is_visible()
        text = panel.inner_text()
        assert "LK-ODT-01" in text and "789/QĐ-UBND" in text and "Đất ở" in text, text
        assert "HSSDĐ" not in text and "3" in text  # the limits as values, not the label
        page.screenshot(path=str(artifacts_dir / "planning-map-panel.png"))
        sheet = panel.locator("a.planning-sheet").get_attribute("href")
        assert sheet and "f=pdf" in sheet and f"parcel_id={parcel['fid']}" in sheet
        pdf = clients["analyst"].get(sheet)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        page.locator("#planning .planning-close").click()
        assert not panel.is_visible()

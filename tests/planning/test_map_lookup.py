"""The web map's planning panel in headless Chromium: an analyst signs in on /map (land
theme), clicks the parcel inside the approved detailed plan, and the panel shows its zones,
their limits, the decision and the link to the printed sheet; "show the scan" overlays the
plan's georeferenced scan (its map tiles as a raster layer) and takes it off again. Which scans
the lookup offers follows the document's rule (an internal scan only to internal callers)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Response

from ..tiles.browser import chromium, new_page, wait_until
from .conftest import LOOKUP_PARCEL, LOOKUP_PLAN, halves, straddling_parcel, upload
from .files import SCAN_RED, make_geotiff

pytestmark = pytest.mark.browser
READY = "() => window.iocgis && window.iocgis.ready === true"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def scans(clients: dict[str, httpx.Client], approved_plan: dict,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Two scans of the approved plan: a public one over the clicked parcel, an internal one."""
    folder = tmp_path_factory.mktemp("map-scans")
    officer, dossier_id = clients["gis_officer"], approved_plan["dossier"]["id"]
    centre = straddling_parcel(LOOKUP_PLAN).centroid
    made = {}
    for label, sensitivity, at in (("public", "public", (centre.x, centre.y)),
                                   ("internal", "internal", (centre.x - 0.0008, centre.y))):
        tif = make_geotiff(folder / f"ban_do_quet_{label}.tif", at, side_m=120)
        response = upload(officer, dossier_id, tif, "drawing", sensitivity=sensitivity,
                          title=f"Bản đồ quét ({label})")
        assert response.status_code == 201, response.text
        made[label] = response.json()
    return made


def offered_scans(body: dict) -> set[int]:
    plan = next(p for p in body["plans"] if p["project_code"] == LOOKUP_PLAN)
    return {s["id"] for s in plan["dossier"]["scans"]}


def test_the_lookup_offers_the_scans_the_caller_may_read(
        clients: dict[str, httpx.Client], scans: dict[str, dict]) -> None:
    public, internal = scans["public"]["id"], scans["internal"]["id"]
    analyst = clients["analyst"].get("/planning/lookup", params={"parcel": LOOKUP_PARCEL})
    assert analyst.status_code == 200, analyst.text
    assert offered_scans(analyst.json()) == {public, internal}
    plan = next(p for p in analyst.json()["plans"] if p["project_code"] == LOOKUP_PLAN)
    listed = next(s for s in plan["dossier"]["scans"] if s["id"] == public)
    assert listed["tilejson"] == f"/planning/documents/{public}/tiles.json"
    west = halves(LOOKUP_PLAN)[0].representative_point()
    anonymous = clients["anonymous"]
    seen = anonymous.get("/planning/lookup", params={"point": f"{west.x},{west.y}"})
    assert seen.status_code == 200, seen.text
    assert offered_scans(seen.json()) == {public}  # the internal scan is not offered ...
    assert anonymous.get(f"/planning/documents/{internal}/tiles.json").status_code == 404
    assert anonymous.get(f"/planning/documents/{public}/tiles.json").status_code == 200


def reddish(png: bytes) -> int:
    """Pixels of the scan's red sheet (drawn at 80 % over the map)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r > 140) & (r - g > 80) & (r - b > 80)).sum())


def test_clicking_a_parcel_opens_its_planning_lookup(
        browser: Browser, planning_server, accounts, approved_plan: dict,  # noqa: ANN001
        clients: dict[str, httpx.Client], artifacts_dir: Path, scans: dict[str, dict]) -> None:
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
        scan_id = scans["public"]["id"]
        layer = f"planning-scan-{scan_id}"
        button = panel.locator(f'button.planning-scan[data-document="{scan_id}"]')
        assert panel.locator("button.planning-scan").count() == 2  # the analyst reads both
        assert button.get_attribute("aria-pressed") == "false"
        before = page.screenshot()
        tiles: list[Response] = []
        page.on("response", lambda r: tiles.append(r)
                if f"/planning/documents/{scan_id}/tiles/" in r.url else None)
        button.click()
        wait_until(page, f"() => !!window.iocgis.map.getLayer('{layer}') && "
                         f"window.iocgis.map.isSourceLoaded('{layer}') && "
                         "window.iocgis.map.areTilesLoaded()")
        assert button.get_attribute("aria-pressed") == "true"
        assert "Ẩn bản đồ quét" in button.inner_text()
        assert page.evaluate(f"() => window.iocgis.map.getLayer('{layer}').type") == "raster"
        assert tiles and all(r.status == 200 for r in tiles), [(r.url, r.status) for r in tiles]
        for tile in tiles:  # every tile drawn holds part of the sheet
            image = np.asarray(Image.open(io.BytesIO(tile.body())).convert("RGBA"))
            assert (image[..., 3] > 0).any(), tile.url
            assert (np.abs(image[..., :3].astype(int) - SCAN_RED) < 8).all(axis=2).any(), tile.url
        after = page.screenshot(path=str(artifacts_dir / "planning-map-scan.png"))
        assert reddish(after) > reddish(before) + 20_000  # the 120 m sheet is ~400 px across
        button.click()  # off again
        wait_until(page, f"() => !window.iocgis.map.getLayer('{layer}') && "
                         f"!window.iocgis.map.getSource('{layer}')")
        assert button.get_attribute("aria-pressed") == "false"
        button.click()  # on, then the panel closed: no overlay stays behind
        wait_until(page, f"() => !!window.iocgis.map.getLayer('{layer}')")
        page.locator("#planning .planning-close").click()
        assert not panel.is_visible()
        assert page.evaluate(f"() => !window.iocgis.map.getLayer('{layer}')")

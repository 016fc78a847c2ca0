"""The /map page in headless Chromium (Debian's, driven by Playwright): MapLibre draws the base
map and the themes from local resources only, Vietnamese labels, a click shows a feature."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from .browser import CHROMIUM, FLAGS, chromium, colours, new_page, wait_until

__all__ = ["CHROMIUM", "FLAGS"]  # tests/api/test_html_offline.py drives Chromium the same way
pytestmark = pytest.mark.browser

INCIDENT = (106.86, 10.94)  # "Cháy kho hàng ở Long Bình" in the fixtures


@pytest.fixture(scope="module")
def browser_page():
    with chromium() as browser, new_page(browser) as page:
        yield page


def test_the_map_draws_themes_with_vietnamese_labels_and_shows_a_clicked_feature(
        browser_page: Page, tiles_server, artifacts_dir: Path) -> None:
    page = browser_page
    requests: list[str] = []
    glyphs: dict[str, int] = {}
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: glyphs.__setitem__(r.url.rsplit("/", 1)[-1], r.status)
            if "/styles/glyphs/" in r.url else None)
    page.goto(f"{tiles_server.url}/map?theme=emergency#13/10.945/106.845")
    wait_until(page, "() => window.iocgis && window.iocgis.ready === true")
    shot = page.screenshot(path=str(artifacts_dir / "map_emergency.png"))
    assert colours(shot) > 30, "the map canvas looks blank"
    # Vietnamese labels need the Latin Extended Additional glyphs (ạ, ả, ấ...).
    assert glyphs.get("7680-7935.pbf") == 200 and glyphs.get("0-255.pbf") == 200
    rendered = page.evaluate("() => window.iocgis.map.queryRenderedFeatures()"
                             ".map(f => f.sourceLayer)")
    assert {"emergency.incidents", "admin.communes", "base.roads"} <= set(rendered)

    x, y = page.evaluate(f"() => {{ const p = window.iocgis.map.project({list(INCIDENT)});"
                         " return [p.x, p.y]; }")
    page.mouse.click(x, y)
    wait_until(page, "() => !document.getElementById('info').hidden", timeout=10)
    panel = page.inner_text("#info")
    assert "Sự cố, tình huống khẩn cấp" in panel  # the layer's Vietnamese title
    assert "Cháy kho hàng ở Long Bình" in panel and "Cháy, nổ" in panel
    assert "0909123456" not in panel  # the reporter's phone never reaches the browser
    page.screenshot(path=str(artifacts_dir / "map_emergency_click.png"))

    page.select_option("#theme", "planning")
    wait_until(page, "() => window.iocgis.ready === true"
                     " && window.iocgis.map.getStyle().name === 'Quy hoạch'")
    shot = page.screenshot(path=str(artifacts_dir / "map_planning.png"))
    assert colours(shot) > 30
    themes = page.eval_on_selector_all("#theme > option", "options => options.map(o => o.value)")
    assert "housing" not in themes and "land" not in themes  # internal: not for the public
    assert all(url.startswith((tiles_server.url, "data:", "blob:"))
               for url in requests), [u for u in requests if not u.startswith(tiles_server.url)]

"""pygeoapi's HTML pages work on the IOC's closed network: every script, style sheet and image
they load comes from this server (api/ogc/templates override the pages that load from CDNs)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from . import ogc_fixtures

SCHOOLS = "infra.schools"
# What each kind of asset must be served as.
MEDIA = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
         ".png": "image/png", ".ico": "image/"}
MODULE_IMPORT = re.compile(r"""\bfrom\s+['"]([^'"]+)['"]""")
CSS_URL = re.compile(r"""url\(\s*['"]?(?!data:)([^'")]+)['"]?\s*\)""")


class _Assets(HTMLParser):
    """The URLs a browser fetches to draw the page: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.html_lang: str | None = None
        self.charset: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "meta" and "charset" in a:
            self.charset = a["charset"]
        elif tag in ("script", "img") and a.get("src"):
            self.urls.append(a["src"])  # type: ignore[arg-type]
        elif tag == "link" and a.get("href"):
            self.urls.append(a["href"])  # type: ignore[arg-type]


def _pages(ogc: httpx.Client) -> list[str]:
    item_id = ogc.get(f"/collections/{SCHOOLS}/items", params={"limit": 1}).json()["features"][0]["id"]
    tiled = next(c["id"] for c in ogc.get("/collections").json()["collections"]
                 if any(link["rel"].endswith("tilesets-vector") for link in c["links"]))
    return ["/", "/collections", f"/collections/{SCHOOLS}", f"/collections/{SCHOOLS}/items",
            f"/collections/{SCHOOLS}/items/{item_id}", f"/collections/{tiled}/tiles"]


@pytest.fixture(scope="module")
def pages(ogc: httpx.Client) -> dict[str, str]:
    out = {}
    for path in _pages(ogc):
        response = ogc.get(path, params={"f": "html"})
        assert response.status_code == 200, (path, response.text[:300])
        assert response.headers["content-type"] == "text/html; charset=utf-8", path
        out[path] = response.text
    return out


def _assets(page: str) -> _Assets:
    parser = _Assets()
    parser.feed(page)
    return parser


def test_pages_load_nothing_from_outside(pages: dict[str, str], ogc: httpx.Client) -> None:
    own = urlsplit(str(ogc.base_url)).netloc
    for path, page in pages.items():
        urls = _assets(page).urls + MODULE_IMPORT.findall(page)
        outside = [u for u in urls if urlsplit(urljoin(str(ogc.base_url), u)).netloc != own]
        assert outside == [], f"{path} loads {outside}"
        # nor as a map base layer written in a script
        assert "tile.openstreetmap.org" not in page and "unpkg.com" not in page, path


def test_pages_declare_utf8_and_a_language(pages: dict[str, str]) -> None:
    for path, page in pages.items():
        parsed = _assets(page)
        assert parsed.charset == "utf-8", path
        assert parsed.html_lang in ("vi", "en"), (path, parsed.html_lang)
    assert _assets(pages["/"]).html_lang == "vi"  # the first configured language


def test_every_asset_answers_with_its_type(pages: dict[str, str], ogc: httpx.Client) -> None:
    base = str(ogc.base_url)
    checked: set[str] = set()
    todo = {urljoin(base + path, u) for path, page in pages.items()
            for u in _assets(page).urls + MODULE_IMPORT.findall(page)}
    todo = {u for u in todo if "/static/" in u or "/map/assets/" in u}
    assert any(u.endswith("/leaflet.js") for u in todo)
    assert any(u.endswith("/bootstrap.min.css") for u in todo)
    assert any(u.endswith("/maplibre-gl.mjs") for u in todo)  # the tiles page
    while todo:
        url = todo.pop()
        checked.add(url)
        response = ogc.get(url)
        assert response.status_code == 200, url
        suffix = next((s for s in MEDIA if urlsplit(url).path.endswith(s)), None)
        assert suffix is not None, f"unexpected asset {url}"
        media = response.headers["content-type"]
        assert media.startswith(MEDIA[suffix]), (url, media)
        if suffix == ".css":  # images a style sheet pulls in (Leaflet's marker and layer icons)
            for ref in CSS_URL.findall(response.text):
                target = urljoin(url, ref)
                assert urlsplit(target).netloc == urlsplit(base).netloc, (url, ref)
                if target not in checked:
                    todo.add(target)
    assert any(u.endswith("/images/marker-icon.png") for u in checked)


def test_items_page_has_vietnamese_text_unescaped(pages: dict[str, str]) -> None:
    page = pages[f"/collections/{SCHOOLS}/items"]
    assert "Trường THCS Nguyễn Du" in page
    assert "&#" not in ogc_fixtures.SCHOOL_NAME  # sanity: the fixture itself is plain text
    assert "Tr&#" not in page and "\\u1" not in page.split("<script", 1)[0]


def test_unknown_asset_is_404_not_a_file_read(ogc: httpx.Client) -> None:
    for path in ("/map/assets/../../pyproject.toml", "/map/assets/images/../leaflet-src.js",
                 "/map/assets/images/nope.png"):
        assert ogc.get(path).status_code == 404, path


@pytest.mark.browser
def test_items_page_draws_features_in_chromium_with_no_failed_request(
        ogc: httpx.Client, artifacts_dir) -> None:
    from playwright.sync_api import sync_playwright

    from ..tiles.test_map_page import CHROMIUM, FLAGS

    own = urlsplit(str(ogc.base_url)).netloc
    url = f"{ogc.base_url}/collections/{SCHOOLS}/items?f=html"
    failed: list[str] = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        # A Vietnamese browser: pygeoapi answers in the language the browser asks for.
        page = browser.new_page(viewport={"width": 1024, "height": 900}, locale="vi-VN")
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.on("request", lambda r: outside.append(r.url)
                if urlsplit(r.url).netloc not in (own, "") and not r.url.startswith("data:") else None)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url, wait_until="networkidle")
        # Leaflet draws each school as a marker icon served from /map/assets/images
        markers = page.locator("#items-map img.leaflet-marker-icon")
        assert markers.count() >= 1
        box, frame = markers.first.bounding_box(), page.locator("#items-map").bounding_box()
        assert box and frame and frame["x"] <= box["x"] <= frame["x"] + frame["width"]  # on screen
        assert frame["y"] <= box["y"] <= frame["y"] + frame["height"]
        assert page.evaluate("() => document.documentElement.lang") == "vi"
        assert "Trường học" in page.locator("h1").inner_text()
        font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
        assert font.startswith("system-ui")  # Bootstrap applied
        page.screenshot(path=str(artifacts_dir / "ogc_items_page.png"))
        browser.close()
    assert errors == [] and failed == [] and outside == [], (errors, failed, outside)

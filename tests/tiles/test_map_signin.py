"""The /map page signs in, in headless Chromium: anonymous callers are told which themes need
an account (and why ``?theme=housing`` shows the base map); an analyst signs in through the
form and sees housing in 3-D, every request carrying the bearer token; TOTP when required."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page

from iocgis.settings import Settings

from ..security.security_helpers import Account, _create, totp_now
from .browser import chromium, colours, new_page, wait_until

pytestmark = pytest.mark.browser

HOUSES = "#17/10.9501/106.825"  # the fixtures' row of 20 houses
SUBSTATION = "#14/10.95/106.87"  # "Trạm biến áp Long Bình" (restricted)
IS_READY = "window.iocgis && window.iocgis.ready === true"
THEME_NOW = "((window.iocgis.map.getStyle() || {}).metadata || {})['iocgis:theme']"
READY, THEME = f"() => {IS_READY}", f"() => {THEME_NOW}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as fresh:
        yield fresh


def account(tiles_db_url: str, tiles_settings: Settings, role: str, *,
            totp: bool = False) -> Account:
    """An account in the tiles database (made in a thread of its own: Playwright's event loop
    runs in this one)."""
    name = f"map{role.replace('_', '')}{os.getpid()}{'t' if totp else ''}"
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, _create(tiles_db_url, tiles_settings, name, [role],
                                                  totp=totp)).result()


def offered(page: Page) -> list[str]:
    return page.eval_on_selector_all("#theme > option", "os => os.map(o => o.value)")


def locked(page: Page) -> dict[str, str]:
    return dict(page.eval_on_selector_all("#theme optgroup option",
                                          "os => os.map(o => [o.value, o.dataset.needs])"))


def rendered_layers(page: Page) -> set[str]:
    return set(page.evaluate("() => window.iocgis.map.queryRenderedFeatures()"
                             ".map(f => f.sourceLayer)"))


def source_layers(page: Page) -> set[str]:
    """The layers the sources' TileJSON lists (``vector_layers``)."""
    return set(page.evaluate("() => { const map = window.iocgis.map; return Object.keys("
                             "map.getStyle().sources).flatMap(id => map.getSource(id)"
                             ".vectorLayerIds || []); }"))


def ready_as(page: Page, theme: str, *, signed_in: bool) -> None:
    flag = "" if signed_in else "!"
    wait_until(page, f"() => {flag}window.iocgis.auth.signedIn && {IS_READY}"
                     f" && {THEME_NOW} === '{theme}'")


def test_anonymous_callers_are_told_which_themes_need_an_account(
        page: Page, tiles_server, artifacts_dir: Path) -> None:
    authorized: list[str] = []
    console: list[str] = []
    page.on("request", lambda r: authorized.append(r.url)
            if "authorization" in r.headers else None)
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    response = page.goto(f"{tiles_server.url}/map?theme=housing{HOUSES}")
    assert response is not None
    script_src = next(part for part in response.headers["content-security-policy"].split(";")
                      if part.strip().startswith("script-src"))
    assert script_src.split() == ["script-src", "'self'"]  # no inline script, no eval
    wait_until(page, READY)
    assert page.evaluate(THEME) == "basemap"
    assert "housing" not in offered(page) and "basemap" in offered(page)
    assert locked(page) == {"housing": "sign_in", "land": "sign_in"}
    assert "Cần đăng nhập" in page.eval_on_selector("#theme optgroup", "g => g.label")
    # ?theme=housing says why the base map is shown, in Vietnamese and English, and offers
    # the sign-in form at once.
    assert page.is_visible("#notice")
    notice = page.inner_text("#notice")
    assert "Chủ đề «Nhà ở (3D)» cần đăng nhập" in notice and "needs an account" in notice
    assert "Đang hiển thị «Bản đồ nền»" in notice
    assert page.is_visible("#sign-in") and not page.is_visible("#totp")
    page.screenshot(path=str(artifacts_dir / "map_anonymous_housing_refused.png"))
    assert not authorized  # nothing to send before signing in
    assert not [m for m in console if "Content Security Policy" in m], console

    # Choosing a locked theme in the list says the same and keeps the map as it is.
    page.click("#sign-in-cancel")
    page.select_option("#theme", "land")
    assert "Chủ đề «Đất đai» cần đăng nhập" in page.inner_text("#notice")
    assert page.eval_on_selector("#theme", "s => s.value") == "basemap"
    assert page.is_visible("#sign-in")

    page.goto(f"{tiles_server.url}/map?theme=nothing")
    wait_until(page, READY)
    assert "Không có chủ đề «nothing»" in page.inner_text("#notice")
    assert page.evaluate(THEME) == "basemap" and not page.is_visible("#sign-in")


def test_an_analyst_signs_in_through_the_form_and_sees_housing_in_3d(
        page: Page, tiles_server, tiles_db_url: str, tiles_settings: Settings,
        artifacts_dir: Path) -> None:
    analyst = account(tiles_db_url, tiles_settings, "analyst")
    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda r: sent.append((r.url, r.headers.get("authorization"))))
    page.goto(f"{tiles_server.url}/map?theme=housing{HOUSES}")
    wait_until(page, READY)
    page.fill("#username", analyst.name)
    page.fill("#password", analyst.password)
    before = len(sent)
    page.click("#sign-in-submit")
    ready_as(page, "housing", signed_in=True)

    assert page.inner_text("#who") == analyst.name and not page.is_visible("#sign-in")
    assert not page.is_visible("#notice")  # the theme asked for is shown now
    assert {"housing", "land"} <= set(offered(page)) and locked(page) == {}
    style = page.evaluate("() => window.iocgis.map.getStyle()")
    extrusions = [la for la in style["layers"] if la["type"] == "fill-extrusion"]
    assert [la["source-layer"] for la in extrusions] == ["housing.houses"]
    assert page.evaluate("() => window.iocgis.map.getPitch()") == pytest.approx(50)
    houses = page.evaluate("() => window.iocgis.map.queryRenderedFeatures()"
                           ".filter(f => f.sourceLayer === 'housing.houses').length")
    assert houses >= 10, houses
    shot = page.screenshot(path=str(artifacts_dir / "map_housing_signed_in.png"))
    assert colours(shot) > 30, "the map canvas looks blank"

    # Every style, TileJSON and tile request since signing in carried the bearer token.
    own = [(url, auth) for url, auth in sent[before:]
           if "/tiles/" in url or ("/styles/" in url and url.endswith(".json"))]
    assert any("/tiles/housing/" in url for url, _ in own)
    assert any(url.endswith("/tiles/housing.json") for url, _ in own)
    assert all(auth and auth.startswith("Bearer ") for _, auth in own), own
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    first = own[-1][1]

    # A refresh gives a new access token, which the next tiles carry.
    page.evaluate("() => window.iocgis.auth.refresh()")
    before = len(sent)
    page.evaluate("() => window.iocgis.map.jumpTo({zoom: 16})")
    wait_until(page, READY)
    tiles = [auth for url, auth in sent[before:] if "/tiles/housing/" in url]
    assert tiles and all(auth and auth != first for auth in tiles)
    token = tiles[-1].removeprefix("Bearer ")

    # Signing out ends the session on the server and shows the page as anonymous again.
    page.click("#sign-out")
    ready_as(page, "basemap", signed_in=False)
    assert "housing" not in offered(page) and locked(page)["housing"] == "sign_in"
    assert "cần đăng nhập" in page.inner_text("#notice")
    assert page.evaluate("() => window.iocgis.map.getPitch()") == 0
    me = httpx.get(f"{tiles_server.url}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_a_second_factor_is_asked_for_when_the_server_requires_it(
        page: Page, tiles_server, tiles_db_url: str, tiles_settings: Settings,
        artifacts_dir: Path) -> None:
    admin = account(tiles_db_url, tiles_settings, "admin", totp=True)
    assert admin.totp_secret
    page.goto(f"{tiles_server.url}/map{SUBSTATION}")
    wait_until(page, READY)
    page.click("#sign-in-open")
    page.fill("#username", admin.name)
    page.fill("#password", "Sai-mật-khẩu-2026!")
    page.click("#sign-in-submit")
    wait_until(page, "() => !document.getElementById('sign-in-error').hidden")
    assert "Sai tên tài khoản, mật khẩu" in page.inner_text("#sign-in-error")
    assert not page.is_visible("#totp")

    page.fill("#password", admin.password)
    page.click("#sign-in-submit")
    wait_until(page, "() => !document.getElementById('totp-row').hidden")
    assert "Cần mã xác thực một lần (TOTP)" in page.inner_text("#sign-in-error")
    page.screenshot(path=str(artifacts_dir / "map_sign_in_totp.png"))
    assert not page.evaluate("() => window.iocgis.auth.signedIn")
    page.fill("#totp", totp_now(admin.totp_secret))
    page.click("#sign-in-submit")
    ready_as(page, "basemap", signed_in=True)
    # the theme list is asked for again once signed in: the admin's themes arrive after it
    wait_until(page, "() => ['housing', 'land', 'infrastructure'].every(t => "
                     "[...document.querySelectorAll('#theme > option')].some(o => o.value === t))")
    assert {"housing", "land", "infrastructure"} <= set(offered(page)) and locked(page) == {}
    assert page.evaluate("() => window.iocgis.auth.account") == admin.name

    # A restricted layer drawn for the admin is gone once signed out, from the drawing and from
    # the TileJSON: the same URLs are asked for again as anonymous, not taken from the browser
    # cache as they were answered for the admin.
    page.select_option("#theme", "infrastructure")
    ready_as(page, "infrastructure", signed_in=True)
    assert "infra.substations" in rendered_layers(page)
    assert "infra.substations" in source_layers(page)
    page.click("#sign-out")
    ready_as(page, "infrastructure", signed_in=False)
    assert "infra.substations" not in rendered_layers(page)
    assert "infra.substations" not in source_layers(page)
    assert "admin.communes" in rendered_layers(page)


def test_styles_list_the_themes_that_need_an_account(
        tiles_http: httpx.Client, tiles_db_url: str, tiles_settings: Settings) -> None:
    anonymous = tiles_http.get("/styles")
    assert "Authorization" in anonymous.headers["vary"]  # one caller's list is not another's
    body = anonymous.json()
    assert "housing" not in {s["name"] for s in body["styles"]}
    assert {t["name"]: t["needs"] for t in body["unavailable"]} == {"housing": "sign_in",
                                                                    "land": "sign_in"}
    housing = next(t for t in body["unavailable"] if t["name"] == "housing")
    assert housing["title"] == {"vi": "Nhà ở (3D)", "en": "Housing (3D)"} and "url" not in housing
    viewer = account(tiles_db_url, tiles_settings, "viewer")
    token = tiles_http.post("/auth/token", data={"username": viewer.name,
                                                 "password": viewer.password}).json()
    signed_in = tiles_http.get("/styles", headers={
        "Authorization": f"Bearer {token['access_token']}"}).json()
    assert {"housing", "land"} <= {s["name"] for s in signed_in["styles"]}
    assert signed_in["unavailable"] == []

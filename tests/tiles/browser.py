"""Headless Chromium (Debian's, driven by Playwright) for the map page tests."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Flags that give headless Chromium software WebGL2 (SwiftShader) on these machines.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
         "--use-angle=swiftshader", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1024, "height": 700}


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own: no cache, storage or tokens from another test."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    try:
        yield context.new_page()
    finally:
        context.close()


def wait_until(page: Page, script: str, timeout: float = 60) -> None:
    """Poll a page expression (the page's CSP forbids eval, so no wait_for_function)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        errors = page.evaluate("() => window.iocgis ? window.iocgis.errors : []")
        assert not errors, errors
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        time.sleep(0.1)


def colours(png: bytes) -> int:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB").reduce(4)).reshape(-1, 3)
    return len(np.unique(pixels, axis=0))

"""Maps rendered on the server: MapLibre GL JS in headless Chromium (Debian's, driven by
Playwright) draws the platform's own style and tiles to PNG at print resolution.

One function, ``MapRenderer.render``, with a time limit and a small pool of pages. The page
asks for its style, TileJSON, tiles, glyphs and sprites at a made-up origin; the renderer
answers them in-process as the report's caller (``styles.maplibre.style_json``, the tile
renderer with its cache and access rules), so no credential leaves the process and no HTTP
server is needed (the CLI renders too). Each map's resources sit under a path of their own,
so nothing one caller saw can be reused for another.

MapLibre Native (``@maplibre/maplibre-gl-native``) would skip the browser, but it cannot be
installed here (its prebuilt binary is downloaded at install time); this class is the seam.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import math
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iocgis.access import Caller, plan_for
from iocgis.errors import IocgisError, TemporarilyUnavailable
from iocgis.layers import Registry
from iocgis.settings import PROJECT_ROOT

ORIGIN = "http://iocgis.render"
WEB_DIR = Path(__file__).resolve().parent / "web"
MAPLIBRE_DIST = PROJECT_ROOT / "node_modules" / "maplibre-gl" / "dist"
CHROMIUM = "/usr/bin/chromium"
# Software WebGL2 (SwiftShader) in headless Chromium: ../shared/notes/webmap.md.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
         "--use-angle=swiftshader", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ASSETS = {"maplibre-gl.mjs": (MAPLIBRE_DIST, "text/javascript"),
          "maplibre-gl-worker.mjs": (MAPLIBRE_DIST, "text/javascript"),
          "maplibre-gl.css": (MAPLIBRE_DIST, "text/css"),
          "render.js": (WEB_DIR, "text/javascript")}
TILE_RE = re.compile(r"^tiles/([^/]+)/(\d+)/(\d+)/(\d+)\.(mvt|pbf)$")


@dataclass(frozen=True)
class MapSpec:
    theme: str
    bounds: tuple[float, float, float, float]  # west, south, east, north (EPSG:4326)
    width_mm: float = 170
    height_mm: float = 110
    dpi: int = 150
    overlay: dict[str, Any] | None = None  # GeoJSON with a "colour" property per feature

    @property
    def pixels(self) -> tuple[int, int, float]:
        """CSS pixels (96 per inch) and the pixel ratio giving ``dpi``."""
        ratio = self.dpi / 96
        return (math.ceil(self.width_mm / 25.4 * 96), math.ceil(self.height_mm / 25.4 * 96),
                ratio)


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str


class CallerResources:
    """The map's requests answered as one caller: style, TileJSON, tiles, glyphs, sprites.
    ``registry``: the report's (a regeneration's reads some layers from kept older versions;
    their tiles are drawn from those tables, uncached)."""

    def __init__(self, state: Any, caller: Caller, registry: Registry | None = None) -> None:
        self.state = state
        self.caller = caller
        self.registry = registry or state.registry
        self.tiles_read: set[str] = set()

    async def _tile(self, renderer: Any, name: str, address: Any) -> bytes:
        tileset = renderer.tilesets.for_caller(name, self.caller, note_reads=False)
        self.tiles_read.update(layer.id for layer in tileset.visible_to(self.caller))
        layers = tileset.layers_at(self.caller, address.z)
        if not any(self.registry.get(layer.id).kept for layer in layers):
            rendered = await renderer.tile(name, address, self.caller)
            return gzip.decompress(rendered.gzipped) if not rendered.empty else b""
        renderer.note_restricted_reads(tileset, self.caller, address.z)
        plans = tuple(plan_for(self.caller, layer.id, self.registry).with_fields(())
                      for layer in layers)
        return bytes(await renderer.render_mvt(plans, address))

    async def answer(self, base: str, path: str) -> Answer:
        from iocgis.styles.definitions import get_themes
        from iocgis.styles.glyphs import glyph_range
        from iocgis.styles.maplibre import style_json
        from iocgis.styles.sprites import sprite
        from iocgis.tiles.grid import parse_address
        from iocgis.tiles.service import renderer_for
        from iocgis.tiles.tilejson import tilejson

        renderer = renderer_for(self.state)
        try:
            if path.startswith("styles/glyphs/"):
                _, _, fontstack, name = path.split("/", 3)
                from urllib.parse import unquote

                data = glyph_range(unquote(fontstack), name.removesuffix(".pbf"))
                return Answer(200, data, "application/x-protobuf")
            if path.startswith("styles/sprites/"):
                ratio = 2 if "@2x" in path else 1
                index, png = sprite(ratio)
                return (Answer(200, index, "application/json") if path.endswith(".json")
                        else Answer(200, png, "image/png"))
            if path.startswith("styles/") and path.endswith(".json"):
                import json

                doc = style_json(get_themes(), path[len("styles/"):-5], self.caller, base)
                return Answer(200, json.dumps(doc).encode(), "application/json")
            match = TILE_RE.match(path.split("?")[0])
            if match:
                name, z, x, y, _ = match.groups()
                body = await self._tile(renderer, name, parse_address(z, x, y))
                return Answer(200, body, "application/vnd.mapbox-vector-tile")
            if path.startswith("tiles/") and path.endswith(".json"):
                import json

                tileset = renderer.tilesets.for_caller(path[len("tiles/"):-5], self.caller)
                doc = await tilejson(renderer, tileset, self.caller, base)
                return Answer(200, json.dumps(doc).encode(), "application/json")
        except IocgisError as exc:
            return Answer(exc.http_status, exc.message.encode(), "text/plain")
        return Answer(404, b"not found", "text/plain")


class MapRenderer:
    """A small pool of Chromium pages drawing maps; ``render`` waits for a free page."""

    def __init__(self, pages: int = 2, timeout_s: float = 60) -> None:
        self.size = pages
        self.timeout_s = timeout_s
        self._pages: asyncio.Queue[Any] = asyncio.Queue()
        self._current: dict[int, tuple[str, CallerResources]] = {}
        self._lock = asyncio.Lock()
        self._playwright: Any = None
        self._browser: Any = None

    async def _start(self) -> None:
        async with self._lock:
            if self._browser is not None:
                return
            from playwright.async_api import async_playwright

            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=CHROMIUM, args=FLAGS, headless=True)
            for _ in range(self.size):
                await self._pages.put(await self._new_page())

    async def _new_page(self) -> Any:
        context = await self._browser.new_context(viewport={"width": 1600, "height": 1200},
                                                  device_scale_factor=1)
        page = await context.new_page()
        await context.route(f"{ORIGIN}/**", lambda route: self._route(page, route))
        await page.goto(f"{ORIGIN}/render.html")
        await page.wait_for_function("window.iocgisReady === true")
        return page

    async def _route(self, page: Any, route: Any) -> None:
        path = route.request.url[len(ORIGIN) + 1:]
        asset = path.split("?", 1)[0][len("assets/"):]
        if path == "render.html":
            answer = Answer(200, (WEB_DIR / "render.html").read_bytes(), "text/html")
        elif path.startswith("assets/") and asset in ASSETS:
            folder, media = ASSETS[asset]
            answer = Answer(200, (folder / asset).read_bytes(), media)
        else:
            found = self._current.get(id(page))
            match = re.match(r"^r/([0-9a-f]{32})/(.*)$", path)
            if found is None or match is None or match[1] != found[0]:
                answer = Answer(404, b"not this map's", "text/plain")
            else:
                answer = await found[1].answer(f"{ORIGIN}/r/{found[0]}", match[2])
        await route.fulfill(status=answer.status, body=answer.body,
                            content_type=answer.content_type,
                            headers={"Cache-Control": "no-store"})

    async def render(self, spec: MapSpec, resources: CallerResources) -> bytes:
        """The PNG of ``spec`` drawn as ``resources``' caller, or TemporarilyUnavailable when it
        takes longer than the time limit (the page is replaced)."""
        await self._start()
        page = await self._pages.get()
        nonce = uuid.uuid4().hex
        self._current[id(page)] = (nonce, resources)
        width, height, ratio = spec.pixels
        draw = {"style": f"{ORIGIN}/r/{nonce}/styles/{spec.theme}.json",
                "bounds": [[spec.bounds[0], spec.bounds[1]], [spec.bounds[2], spec.bounds[3]]],
                "width": width, "height": height, "pixelRatio": ratio, "overlay": spec.overlay}
        try:
            result = await asyncio.wait_for(page.evaluate("s => window.iocgisDraw(s)", draw),
                                            self.timeout_s)
        except TimeoutError:
            self._current.pop(id(page), None)
            await page.context.close()
            await self._pages.put(await self._new_page())
            raise TemporarilyUnavailable(
                f"the map took longer than {self.timeout_s:g} s to draw", where="map",
                hint="a smaller map or a lower dpi; or retry when the server is less busy"
            ) from None
        self._current.pop(id(page), None)
        await self._pages.put(page)
        return base64.b64decode(result["png"].split(",", 1)[1])

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
            await self._playwright.stop()
            self._browser = None

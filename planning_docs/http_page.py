"""``GET /planning/upload``: the GIS officers' page (create a dossier, attach files, import a
drawing's zones, set the decision, move the status), and its script and style sheet.

The page runs no inline script (its CSP says ``script-src 'self'``); it signs in with the map
page's session module (``/map/assets/session.js``: the password flow, tokens in memory) and
calls the dossier API as the signed-in officer. Code lists come from the registry, written
into the page by the server.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from iocgis.api.kit.pages import page_file
from iocgis.planning_docs import codes, rules

WEB_DIR = Path(__file__).parent / "web"
# upload.*: the officers' page; lookup_panel.js: the map page's planning panel (/map imports it)
ASSETS = {"upload.js": "text/javascript", "upload.css": "text/css",
          "lookup_panel.js": "text/javascript"}
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
            "object-src 'none'")


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(WEB_DIR),
                             autoescape=jinja2.select_autoescape(["html"]))
    return env.get_template("upload.html")


async def upload_page(request: Request) -> Response:
    registry = request.app.state.iocgis.registry
    html = _template().render(
        kinds=[(c, v.vi) for c, v in codes.domain(registry, codes.PROJECTS, "kind").items()],
        scales=[(c, v.vi) for c, v in codes.domain(registry, codes.PROJECTS, "scale").items()],
        document_kinds=[(k, v["vi"]) for k, v in rules.DOCUMENT_TITLES.items()],
        statuses=[(k, v["vi"]) for k, v in rules.STATUS_TITLES.items() if k != "adjusted"])
    return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP,
                                       "Cache-Control": "no-cache"})


async def page_asset(request: Request) -> Response:
    return page_file(request, WEB_DIR, ASSETS, "planning page asset")

"""The project's own HTML pages and their files: one way to serve them (CSP, caching, an
allow-list of file names), for the map, review, citizen, reports and planning pages."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse

from iocgis.errors import NotFound

# A page drawing a MapLibre map: only this application's files (MapLibre from /map/assets, its
# workers from blob:), no inline script.
MAP_PAGE_CSP = ("default-src 'self'; script-src 'self'; worker-src 'self' blob:; "
                "child-src 'self' blob:; img-src 'self' data: blob:; style-src 'self' "
                "'unsafe-inline'; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "
                "base-uri 'self'; form-action 'self'; object-src 'none'")


def html_page(path: Path, csp: str = MAP_PAGE_CSP,
              headers: Mapping[str, str] | None = None) -> FileResponse:
    """A static page, asked again on every visit (``no-cache``: a new release shows at once)."""
    return FileResponse(path, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": csp, "Cache-Control": "no-cache",
                                 **(headers or {})})


def page_file(request: Request, folder: Path, files: Mapping[str, str], where: str,
              cache_control: str = "no-cache") -> FileResponse:
    """``request``'s ``{file}`` from ``folder`` when ``files`` (name -> media type) lists it;
    any other name is a 404 (no path from the request reaches the file system)."""
    name = str(request.path_params["file"])
    if name not in files:
        raise NotFound(f"unknown asset {name[:60]!r}", where=where)
    return FileResponse(folder / name, media_type=files[name],
                        headers={"Cache-Control": cache_control})

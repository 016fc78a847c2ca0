"""The public base URL of the server, for links in answers (OGC, TileJSON, styles, pages)."""

from __future__ import annotations

import re

from starlette.requests import Request

# host[:port]: a name or an IPv4/IPv6 address; anything else is never echoed into links
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


def public_base_url(request: Request) -> str:
    """``IOCGIS_PUBLIC_URL`` when set (behind a reverse proxy), else the request's scheme,
    Host and root path; a malformed Host falls back to the configured host and port."""
    settings = request.app.state.iocgis.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = request.headers.get("host", "")
    if not _HOST_RE.match(host):
        host = f"{settings.host}:{settings.port}"
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{request.url.scheme}://{host}{root}"

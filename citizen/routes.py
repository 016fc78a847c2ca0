"""The citizen routes, mounted by ``api/app.py``: Open311, the public pages and statistics, the
officers' queue and actions."""

from __future__ import annotations

from starlette.routing import BaseRoute

from iocgis.citizen import officer, open311, public


def routes() -> list[BaseRoute]:
    return [*open311.routes(), *public.routes(), *officer.routes()]

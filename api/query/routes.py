"""The query API's routes; mounted by ``api/app.py`` through ``ROUTE_MODULES``.

Building the routes loads and checks the scenario presets and the indicator layers, so a
wrong preset file stops the server at start-up, not at the first request.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from iocgis.api.query import choropleth, handlers, kpi, rasters, scenarios
from iocgis.api.query import sql as query_sql
from iocgis.api.query.presets import get_presets
from iocgis.layers import get_registry


def routes() -> list[BaseRoute]:
    registry = get_registry()
    get_presets()
    kpi.check_registry(registry)
    query_sql.check_registry(registry)
    return [
        Route("/query/point", handlers.query_point, methods=["GET"]),
        Route("/query/radius", handlers.query_radius, methods=["GET"]),
        Route("/query/region", handlers.query_region, methods=["POST"]),
        Route("/query/admin", choropleth.query_admin_table, methods=["GET"]),
        Route("/query/admin/{code}", handlers.query_admin_unit, methods=["GET"]),
        Route("/query/kpi", kpi.query_kpi, methods=["GET"]),
        Route("/query/kpi/alerts", kpi.query_kpi_alerts, methods=["GET"]),
        Route("/query/rasters", rasters.rasters_index, methods=["GET"]),
        Route("/query/rasters/{name}/value", rasters.raster_value, methods=["GET"]),
        Route("/query/rasters/{name}/zonal", rasters.raster_zonal, methods=["GET", "POST"]),
        Route("/scenarios", scenarios.scenarios_index, methods=["GET"]),
        Route("/scenarios/{name}", scenarios.run_scenario, methods=["GET"]),
    ]

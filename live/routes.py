"""The live routes (mounted by ``iocgis.api.app``): ingestion, reading, push, the emergency
loop, and the SensorThings subset."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from iocgis.api.ogc.routes import OWN_COLLECTIONS
from iocgis.live import edr, events, flood, http_ingest, incidents, reads, sta


def routes() -> list[BaseRoute]:
    OWN_COLLECTIONS[edr.COLLECTION] = edr.listed  # listed in /collections (OGC API - EDR)
    return [
        Route("/live/observations", http_ingest.post_batch, methods=["POST"]),
        Route("/live/latest", reads.latest),
        Route("/live/freshness", reads.freshness),
        Route("/live/alerts", reads.alerts),
        Route("/live/alerts/{id}/ack", reads.acknowledge, methods=["POST"]),
        Route("/live/rejections", reads.rejections),
        Route("/live/events", events.events),
        Route("/live/flood", flood.flood),
        Route("/live/incidents", incidents.create, methods=["POST"]),
        Route("/live/incidents/{code}", incidents.show),
        Route("/live/incidents/{code}/steps", incidents.step, methods=["POST"]),
        *sta.routes(),
        *edr.routes(),
    ]

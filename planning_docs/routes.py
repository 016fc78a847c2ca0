"""The planning dossier routes; mounted by ``api/app.py`` through ``ROUTE_MODULES``.

Reads are under ``/planning/`` (lookup, search, dossiers, documents and their scans' map tiles,
the officers' page);
changes under ``/planning/manage/`` (the import right), and uploads under ``/uploads/`` so the
larger upload body limit applies to them (``IOCGIS_SECURITY_UPLOAD_PATHS``).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from iocgis.planning_docs import (
    http_documents,
    http_dossiers,
    http_lookup,
    http_page,
    http_scans,
    search,
)


def routes() -> list[BaseRoute]:
    return [
        Route("/planning/lookup", http_lookup.lookup_at, methods=["GET"]),
        Route("/planning/lookup", http_lookup.lookup_region, methods=["POST"]),
        Route("/planning/search", search.search, methods=["GET"]),
        Route("/planning/dossiers", http_dossiers.list_dossiers, methods=["GET"]),
        Route("/planning/manage/dossiers", http_dossiers.create_dossier, methods=["POST"]),
        Route("/planning/dossiers/{id}", http_dossiers.get_dossier, methods=["GET"]),
        Route("/planning/manage/dossiers/{id}/decision", http_dossiers.set_decision,
              methods=["PUT"]),
        Route("/planning/manage/dossiers/{id}/status", http_dossiers.set_status,
              methods=["POST"]),
        Route("/uploads/planning/dossiers/{id}/documents", http_documents.upload_document,
              methods=["POST"]),
        Route("/planning/documents/{id}", http_documents.download_document, methods=["GET"]),
        Route("/planning/documents/{id}/tiles.json", http_scans.tilejson, methods=["GET"]),
        Route("/planning/documents/{id}/tiles/{z}/{x}/{y}.png", http_scans.xyz_tile,
              methods=["GET"]),
        Route("/planning/documents/{id}/map/tiles", http_scans.ogc_tilesets, methods=["GET"]),
        Route("/planning/documents/{id}/map/tiles/{tms}", http_scans.ogc_tileset,
              methods=["GET"]),
        Route("/planning/documents/{id}/map/tiles/{tms}/{z}/{row}/{col}", http_scans.ogc_tile,
              methods=["GET"]),
        Route("/planning/manage/documents/{id}/import", http_documents.import_zones,
              methods=["POST"]),
        Route("/planning/upload", http_page.upload_page, methods=["GET"]),
        Route("/planning/web/{file}", http_page.page_asset, methods=["GET"]),
    ]

"""Per-request facts the adapter hands to the providers (pygeoapi's core calls them without).

The adapter checks the request before pygeoapi runs and puts the result here; the providers
read it in pygeoapi's worker thread (Starlette copies the context into the thread).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from iocgis.api.ogc.crs import CRS84, OgcCrs
from iocgis.api.ogc.params import ItemsQuery

# Links are written against this placeholder; the adapter swaps in the URL the client used.
BASE_URL_TOKEN = "http://iocgis-base-url.invalid"


@dataclass(frozen=True)
class OgcRequest:
    collection_id: str
    items: ItemsQuery | None = None
    item_crs: OgcCrs = CRS84


CURRENT_REQUEST: ContextVar[OgcRequest | None] = ContextVar("iocgis_ogc_request", default=None)


def request_for(collection_id: str) -> OgcRequest | None:
    current = CURRENT_REQUEST.get()
    return current if current is not None and current.collection_id == collection_id else None

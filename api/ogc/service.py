"""The pygeoapi API objects of the running server: one per sensitivity level and host name.

At start-up, and whenever the layer catalog's fingerprint changes (an import, a rollback, a
migration), ``refresh`` calls ``rebuild``, the one function that generates the configuration
and OpenAPI document of each level from the registry and the live extents (written to
``<cache>/pygeoapi/`` for inspection). A request is served by the ``API`` object of its
caller's highest sensitivity, so pygeoapi never lists a collection the caller may not see, and
of the base URL the client reached (``iocgis.api.kit.urls.public_base_url``): pygeoapi writes
links from its configuration's ``server.url``, so each base URL gets its own configuration and
``API`` object, made on first use and kept (a few per server; with ``IOCGIS_PUBLIC_URL`` set,
one).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pygeoapi
import yaml
from psycopg_pool import AsyncConnectionPool
from pygeoapi.api import API
from starlette.concurrency import run_in_threadpool

from iocgis.access import CURRENT_CALLER, Caller, level_caller
from iocgis.api.ogc import pygeoapi_seams
from iocgis.api.ogc.config import LEVELS, pygeoapi_config
from iocgis.api.ogc.facts import (
    FINGERPRINT_SQL,
    LayerFacts,
    read_facts,
    read_fingerprint,
    registry_fingerprint,
)
from iocgis.api.ogc.openapi import openapi_document, with_base_url
from iocgis.api.ogc.pool import close_pool, get_pool, open_pool
from iocgis.api.query.openapi import merge_into as merge_query_openapi
from iocgis.api.security.openapi import merge_into as merge_security_openapi
from iocgis.layers import Registry
from iocgis.live.edr_openapi import merge_into as merge_edr_openapi
from iocgis.settings import Settings

log = logging.getLogger("iocgis.api.ogc")
# pygeoapi's HTML templates that this project overrides (the rest come from pygeoapi): every
# asset from this application, nothing from the internet (the IOC network is closed).
TEMPLATES = {"path": str(Path(__file__).resolve().parent / "templates"),
             "static": str(Path(pygeoapi.__file__).parent / "static")}
# Base URLs kept per generation (beyond: the least recently used one is dropped and made
# again when asked; a Host header is the client's to choose).
MAX_BASE_URLS = 8


@dataclass
class Generation:
    """The documents generated from one catalog fingerprint, and their API objects."""

    fingerprint: str
    facts: dict[str, LayerFacts]
    base_url: str  # the one the documents were generated for
    documents: dict[str, dict[str, Any]]  # OpenAPI per level
    built_at: float
    apis: OrderedDict[tuple[str, str], API] = field(default_factory=OrderedDict)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)  # several workers may write the same file: last one wins, never torn


class OgcService:
    """Builds and refreshes the per-level pygeoapi API objects."""

    def __init__(self, settings: Settings, registry: Registry, database_url: str, *,
                 refresh_seconds: float = 5.0) -> None:
        self.settings = settings
        self.registry = registry
        self.database_url = database_url
        self.refresh_seconds = refresh_seconds
        self.output_dir = settings.cache_dir / "pygeoapi"
        self.pool_key = ""
        self.generation: Generation | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self._apis_lock = threading.Lock()

    @property
    def default_base_url(self) -> str:
        """The URL the written documents name: the public one, else the bound address."""
        return (self.settings.public_url or
                f"http://{self.settings.host}:{self.settings.port}").rstrip("/")

    # --- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        pygeoapi_seams.warn_on_other_version()
        pygeoapi_seams.quiet_logs()
        self.pool_key = open_pool(self.database_url,
                                  role_prefix=self.settings.security.db_role_prefix)
        self.refresh()

    def close(self) -> None:
        if self.pool_key:
            close_pool(self.pool_key)
            self.pool_key = ""

    def refresh(self) -> Generation:
        """The current generation: rebuilt when the catalog's fingerprint changed (the one
        place that calls ``rebuild``)."""
        with get_pool(self.pool_key).connection() as conn:
            fingerprint = self._fingerprint(conn)
            if self.generation is None or self.generation.fingerprint != fingerprint:
                self.generation = self.rebuild(conn, fingerprint)
        return self.generation

    def rebuild(self, conn: psycopg.Connection, fingerprint: str) -> Generation:
        """Configuration and OpenAPI document of every level, from the registry and the facts."""
        started = time.perf_counter()
        facts = read_facts(conn, self.registry, self.settings.security.db_role_prefix)
        base_url = self.default_base_url
        documents = {}
        for level in LEVELS:
            config = self._config(facts, level, base_url)
            # pygeoapi reads each provider's fields: as a caller of this level (no personal
            # data), or the layers above public would be left out of the document.
            token = CURRENT_CALLER.set(level_caller(level, f"openapi-{level}"))
            try:
                described = openapi_document(config)
            finally:
                CURRENT_CALLER.reset(token)
            # The query API's routes (iocgis.api.query), the login and account routes
            # (iocgis.security) and the EDR time series (iocgis.live.edr) join the served
            # document per level.
            document = merge_edr_openapi(merge_security_openapi(
                merge_query_openapi(described, level, self.registry)), level, self.registry)
            self._write(level, config, document)
            documents[level] = document
        generation = Generation(fingerprint, facts, base_url, documents, time.time())
        log.info("OGC API configuration generated in %.2f s (fingerprint %s)",
                 time.perf_counter() - started, fingerprint[:8])
        return generation

    def _config(self, facts: dict[str, LayerFacts], level: str, base_url: str) -> dict[str, Any]:
        return pygeoapi_config(self.registry, facts, level=level, pool=self.pool_key,
                               base_url=base_url, templates=TEMPLATES)

    def _fingerprint(self, conn: psycopg.Connection) -> str:
        return registry_fingerprint(self.registry) + ":" + read_fingerprint(conn)

    def _write(self, level: str, config: dict[str, Any], document: dict[str, Any]) -> None:
        header = ("# Generated by iocgis from layers/*.yaml and meta.layers at start-up and on "
                  "every data change.\n# Do not edit: edit the layer registry instead.\n")
        _write_atomically(self.output_dir / f"{level}.config.yml",
                          header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False))
        _write_atomically(self.output_dir / f"{level}.openapi.json",
                          json.dumps(document, ensure_ascii=False, indent=1, default=str))

    # --- per request ----------------------------------------------------------------------
    def mark_stale(self) -> None:
        """The catalog changed (NOTIFY iocgis_catalog, ``iocgis.changes``): check it on the
        next request instead of after the poll."""
        self._checked_at = float("-inf")

    async def ensure_fresh(self, pool: AsyncConnectionPool) -> None:
        """Regenerate when the catalog changed; checked at most every ``refresh_seconds``."""
        if time.monotonic() - self._checked_at < self.refresh_seconds:
            return
        async with self._lock:
            if time.monotonic() - self._checked_at < self.refresh_seconds:
                return
            async with pool.connection() as conn:
                cur = await conn.execute(FINGERPRINT_SQL)
                row = await cur.fetchone()
            current = registry_fingerprint(self.registry) + ":" + (str(row[0]) if row else "")
            if self.generation is None or current != self.generation.fingerprint:
                await run_in_threadpool(self.refresh)
            self._checked_at = time.monotonic()

    def has_api(self, caller: Caller, base_url: str | None = None) -> bool:
        generation = self.generation
        return generation is not None and \
            (caller.level, (base_url or generation.base_url).rstrip("/")) in generation.apis

    def api_for(self, caller: Caller, base_url: str | None = None) -> API:
        """The API object serving ``caller`` at ``base_url`` (default: the written one)."""
        generation = self.generation
        assert generation is not None, "OgcService.open() was not called"
        key = (caller.level, (base_url or generation.base_url).rstrip("/"))
        with self._apis_lock:
            api = generation.apis.get(key)
            if api is not None:
                generation.apis.move_to_end(key)
                return api
        config = self._config(generation.facts, key[0], key[1])
        document = generation.documents[key[0]]
        if key[1] != generation.base_url:
            document = with_base_url(document, config)
        api = API(config, document)
        with self._apis_lock:
            generation.apis[key] = api
            while len(generation.apis) > MAX_BASE_URLS * len(LEVELS):
                generation.apis.popitem(last=False)
        return api

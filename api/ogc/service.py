"""The pygeoapi API objects of the running server: one per sensitivity level, kept current.

At start-up (and whenever the layer catalog's fingerprint changes: an import, a rollback, a
migration) the configuration and OpenAPI document of each level are generated from the registry
and the live extents, written to ``<cache>/pygeoapi/`` for inspection, and turned into pygeoapi
``API`` objects. A request is served by the object matching its caller's highest sensitivity, so
pygeoapi never lists a collection the caller may not see.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pygeoapi
import yaml
from psycopg_pool import AsyncConnectionPool
from pygeoapi.api import API
from starlette.concurrency import run_in_threadpool

from iocgis.access import level_caller
from iocgis.access import CURRENT_CALLER, Caller
from iocgis.api.ogc import json_output
from iocgis.api.ogc.config import LEVELS, pygeoapi_config
from iocgis.api.ogc.facts import FINGERPRINT_SQL, read_facts, read_fingerprint, registry_fingerprint
from iocgis.api.ogc.openapi import openapi_document
from iocgis.api.ogc.pool import close_pool, get_pool, open_pool
from iocgis.api.query.openapi import merge_into as merge_query_openapi
from iocgis.security.openapi import merge_into as merge_security_openapi
from iocgis.layers import Registry
from iocgis.settings import Settings

log = logging.getLogger("iocgis.api.ogc")
# pygeoapi's HTML templates that this project overrides (the rest come from pygeoapi): every
# asset from this application, nothing from the internet (the IOC network is closed).
TEMPLATES = {"path": str(Path(__file__).resolve().parent / "templates"),
             "static": str(Path(pygeoapi.__file__).parent / "static")}


class _NoAnsweredErrors(logging.Filter):
    """pygeoapi logs every 4xx it answers (with a traceback); the answer is the record here."""

    def filter(self, record: logging.LogRecord) -> bool:
        # also its warning for every request without offset ("int() argument must be ...")
        return record.funcName not in ("get_exception", "get_format_exception") and not record.getMessage().startswith("int()")


@dataclass(frozen=True)
class Generation:
    """One generated set of API objects and the catalog fingerprint it was built from."""

    fingerprint: str
    apis: dict[str, API]
    built_at: float


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

    # --- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        json_output.install()
        for name in ("pygeoapi.api", "pygeoapi.api.itemtypes"):
            logger = logging.getLogger(name)
            if not any(isinstance(f, _NoAnsweredErrors) for f in logger.filters):
                logger.addFilter(_NoAnsweredErrors())
        # its HTML rendering tries every config key as a language and warns about each one
        logging.getLogger("pygeoapi.l10n").setLevel(logging.ERROR)
        self.pool_key = open_pool(self.database_url,
                                  role_prefix=self.settings.security.db_role_prefix)
        self.rebuild()

    def close(self) -> None:
        if self.pool_key:
            close_pool(self.pool_key)
            self.pool_key = ""

    def rebuild(self) -> Generation:
        started = time.perf_counter()
        with get_pool(self.pool_key).connection() as conn:
            fingerprint = self._fingerprint(conn)
            facts = read_facts(conn, self.registry, self.settings.security.db_role_prefix)
        apis = {}
        for level in LEVELS:
            config = pygeoapi_config(self.registry, facts, level=level, pool=self.pool_key,
                                     templates=TEMPLATES)
            # pygeoapi reads each provider's fields: as a caller of this level (no personal
            # data), or the layers above public would be left out of the document.
            token = CURRENT_CALLER.set(level_caller(level, f"openapi-{level}"))
            try:
                described = openapi_document(config)
            finally:
                CURRENT_CALLER.reset(token)
            # The query API's routes (iocgis.api.query) and the login and account routes
            # (iocgis.security) join the served document per level.
            document = merge_security_openapi(
                merge_query_openapi(described, level, self.registry))
            self._write(level, config, document)
            apis[level] = API(config, document)
        self.generation = Generation(fingerprint, apis, time.time())
        log.info("OGC API configuration generated in %.2f s (fingerprint %s)",
                 time.perf_counter() - started, fingerprint[:8])
        return self.generation

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
                await run_in_threadpool(self.rebuild)
            self._checked_at = time.monotonic()

    def api_for(self, caller: Caller) -> API:
        assert self.generation is not None, "OgcService.open() was not called"
        return self.generation.apis[caller.level]

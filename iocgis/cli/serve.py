"""``iocgis serve``: run the ASGI application under uvicorn's process manager.

``IOCGIS_WORKERS`` (or ``--workers``; 0, the default: one per CPU core) worker processes share
one listening socket; uvicorn's manager restarts a worker that dies and stops them all on
SIGTERM/SIGINT. What the workers share lives in Redis (``REDIS_URL``, else the project-local
one, started here when several workers need it) and PostgreSQL (sessions, audit, NOTIFY).
"""

from __future__ import annotations

import os

import typer

from iocgis.settings import get_settings


def worker_count(requested: int) -> int:
    return requested or os.cpu_count() or 1


def serve(host: str = typer.Option(None, help="address to bind (default 127.0.0.1)"),
          port: int = typer.Option(None, help="port (default 8000)"),
          workers: int = typer.Option(None, help="worker processes (default IOCGIS_WORKERS, "
                                                 "0: one per core)")) -> None:
    """Serve the OGC APIs, tiles, queries and imports over HTTP."""
    import uvicorn

    from iocgis import redis_local

    settings = get_settings()
    count = worker_count(settings.workers if workers is None else workers)
    shared = redis_local.url(settings)
    if not shared and count > 1:
        redis_local.start(settings)
        shared = redis_local.url(settings)
    if shared:
        os.environ["REDIS_URL"] = shared  # the workers build their settings from it
        print(f"{count} worker(s); shared state in Redis "
              f"({'REDIS_URL' if settings.redis_url else 'the local one'})")
    else:
        print("1 worker; rate limits in this process, API keys checked in PostgreSQL (no Redis)")
    uvicorn.run("iocgis.api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=count, proxy_headers=False,
                log_level="info", timeout_graceful_shutdown=10,
                timeout_worker_healthcheck=settings.worker_healthcheck_s)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

"""``iocgis serve``: run the ASGI application with uvicorn."""

from __future__ import annotations

import typer

from iocgis.settings import get_settings


def serve(host: str = typer.Option(None, help="address to bind (default 127.0.0.1)"),
          port: int = typer.Option(None, help="port (default 8000)"),
          workers: int = typer.Option(1, help="worker processes")) -> None:
    """Serve the OGC APIs, tiles, queries and imports over HTTP."""
    import uvicorn

    settings = get_settings()
    uvicorn.run("iocgis.api.app:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers, proxy_headers=False,
                log_level="info")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

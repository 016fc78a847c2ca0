"""The peer of ``bench/tiles_cached_bench.py``: a bare ASGI app serving, from memory, the very
bytes (gzipped) and the content headers our server sent for each tile. No routing framework,
no authentication, no access plan, no cache lookup: the floor of serving a cached tile with
uvicorn. It reads ``BARE_TILES`` (a pickle of {path: (status, body)}) at start."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

TILES: dict[str, tuple[int, bytes]] = pickle.loads(Path(os.environ["BARE_TILES"]).read_bytes())
HEADERS = [(b"content-type", b"application/vnd.mapbox-vector-tile"),
           (b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]


async def app(scope, receive, send) -> None:  # noqa: ANN001 - the ASGI interface
    if scope["type"] != "http":
        return
    status, body = TILES.get(scope["path"], (404, b""))
    headers = [*HEADERS, (b"content-length", str(len(body)).encode())] if body else \
        [(b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

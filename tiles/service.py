"""The renderer of each application, found again from pygeoapi's synchronous providers.

The HTTP routes use the renderer of their ``AppState`` (its pool, its cache), created on first
use. pygeoapi calls providers in worker threads; the provider hands its coroutine back to the
application's event loop and looks the renderer up there, by database URL, so both paths share
one pool, one statement cache and one tile cache. Outside a server (a script, another WSGI
host) the provider runs a private event loop in a background thread instead.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from iocgis.db import database_url
from iocgis.pools import async_pool
from iocgis.settings import get_settings
from iocgis.tiles.render import TileRenderer

# By id(): AppState is an unhashable dataclass; a finalizer forgets a collected state.
_BY_STATE: dict[int, TileRenderer] = {}
# Per event loop: database URL -> renderer (the application's, or one made for a provider).
_ON_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, TileRenderer]] = \
    weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def renderer_for(state: Any) -> TileRenderer:
    """The renderer of an ``iocgis.api.state.AppState`` (created once, on first use)."""
    renderer = _BY_STATE.get(id(state))
    if renderer is None:
        with _LOCK:
            renderer = _BY_STATE.get(id(state))
            if renderer is None:
                renderer = TileRenderer(state.settings, state.pool, state.settings.tiles)
                _BY_STATE[id(state)] = renderer
                weakref.finalize(state, _BY_STATE.pop, id(state), None)
    try:
        _ON_LOOP.setdefault(asyncio.get_running_loop(), {}).setdefault(state.serving_url, renderer)
    except RuntimeError:
        pass
    return renderer


async def renderer_here(url: str | None = None) -> TileRenderer:
    """The renderer for ``url`` on the running loop: the application's when it has one,
    else one made now with its own pool. Without a URL: the loop's application renderer, or
    one for the process settings' database."""
    table = _ON_LOOP.setdefault(asyncio.get_running_loop(), {})
    if url is None:
        if table:
            return next(iter(table.values()))
        url = database_url(get_settings())
    renderer = table.get(url)
    if renderer is None:
        pool = async_pool(url, max_size=8, name="iocgis-tiles")
        await pool.open(wait=True, timeout=30)
        settings = get_settings()
        renderer = table.setdefault(url, TileRenderer(settings, pool, settings.tiles))
        if renderer.pool is not pool:  # another coroutine made one meanwhile
            await pool.close()
    return renderer


class _BackgroundLoop:
    """An event loop in a daemon thread, for synchronous callers outside any server."""

    _instance: _BackgroundLoop | None = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="iocgis-tiles", daemon=True).start()

    @classmethod
    def get(cls) -> _BackgroundLoop:
        with _LOCK:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance


def run_sync[T](fn: Callable[[], Awaitable[T]], timeout: float = 120) -> T:
    """Run ``fn()`` from a worker thread on the application's loop (or a private one)."""
    try:  # a thread started by Starlette's run_in_threadpool (anyio) can call back
        from anyio.from_thread import run as anyio_run

        return anyio_run(fn)
    except RuntimeError:
        pass
    try:  # pygeoapi's own Starlette adapter sets the app's loop as the thread's loop
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loop = asyncio.get_event_loop_policy().get_event_loop()
        if loop.is_running() and not _in_loop_thread(loop):
            return asyncio.run_coroutine_threadsafe(_call(fn), loop).result(timeout)
    except RuntimeError:
        pass
    background = _BackgroundLoop.get()
    return asyncio.run_coroutine_threadsafe(_call(fn), background.loop).result(timeout)


async def _call[T](fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False

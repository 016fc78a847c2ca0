"""One renderer per application (its pool, its cache), found again by pygeoapi's provider.

The HTTP routes create the renderer of their ``AppState`` on first use. pygeoapi calls its
providers in worker threads with the application's event loop set as the thread's loop; the
provider finds the application's renderer through that loop and renders on it, so both paths
share one pool, one statement cache and one tile cache.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any

from iocgis.tiles.render import TileRenderer
from iocgis.tiles.settings import TileSettings

# By id(): AppState is an unhashable dataclass; a finalizer forgets a collected state.
_BY_STATE: dict[int, TileRenderer] = {}
_BY_LOOP: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, TileRenderer]" = \
    weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def renderer_for(state: Any) -> TileRenderer:
    """The renderer of an ``iocgis.api.state.AppState`` (created once, on first use)."""
    renderer = _BY_STATE.get(id(state))
    if renderer is None:
        with _LOCK:
            renderer = _BY_STATE.get(id(state))
            if renderer is None:
                renderer = TileRenderer(state.settings, state.pool, TileSettings())
                _BY_STATE[id(state)] = renderer
                weakref.finalize(state, _BY_STATE.pop, id(state), None)
    try:
        _BY_LOOP[asyncio.get_running_loop()] = renderer
    except RuntimeError:
        pass
    return renderer


def attach(state: Any, loop: asyncio.AbstractEventLoop | None = None) -> TileRenderer:
    """Create the application's renderer now and make it the one pygeoapi's provider uses
    on ``loop`` (call it at start-up when pygeoapi may be asked for tiles before /tiles)."""
    renderer = renderer_for(state)
    _BY_LOOP[loop or asyncio.get_running_loop()] = renderer
    return renderer


def renderer_on(loop: asyncio.AbstractEventLoop) -> TileRenderer | None:
    return _BY_LOOP.get(loop)

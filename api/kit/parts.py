"""A capability's part of the application (its context, service or job runner): built from the
app's state on the first request that needs it, then kept on ``app.state`` under its name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request


def app_part[T](request: Request, name: str, build: Callable[[Any], T]) -> T:
    """``app.state.<name>``, made by ``build(app.state.iocgis)`` (an ``AppState``) when missing.
    A part that holds resources is closed by the app's lifespan (``api/app.py``)."""
    app_state = request.app.state
    part = getattr(app_state, name, None)
    if part is None:
        part = build(app_state.iocgis)
        setattr(app_state, name, part)
    return part

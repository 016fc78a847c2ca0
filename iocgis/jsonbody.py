"""JSON request bodies, parsed with a nesting limit: every HTTP surface reads its bodies here.

Python's parser recurses once per level: a body of a few kilobytes of ``[[[[...`` raises
``RecursionError``, which would otherwise reach the client as a 500.
"""

from __future__ import annotations

import json
from typing import Any

from iocgis.errors import InvalidInput

# GeoJSON needs 8 levels at most (a FeatureCollection of MultiPolygons); forms of the API fewer.
MAX_DEPTH = 32


def _too_deep(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than ``limit`` (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse_json(raw: bytes | str, *, where: str = "body",
               hint: str = "send a JSON document (application/json)",
               max_depth: int = MAX_DEPTH) -> Any:
    """The decoded body, or InvalidInput (400) saying what is wrong with it."""
    deep = InvalidInput(f"the request body nests deeper than {max_depth} levels", where=where,
                        hint=f"{hint}, with at most {max_depth} levels of arrays and objects")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise deep from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the request body is not JSON: {exc}", where=where, hint=hint) from None
    if isinstance(value, (dict, list)) and _too_deep(value, max_depth):
        raise deep
    return value

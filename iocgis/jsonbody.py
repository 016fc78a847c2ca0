"""JSON request bodies, parsed with a nesting limit: every HTTP surface reads its bodies here.

Python's parser recurses once per level: a body of a few kilobytes of ``[[[[...`` raises
``RecursionError``, which would otherwise reach the client as a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from iocgis.errors import InvalidInput

# GeoJSON needs 8 levels at most (a FeatureCollection of MultiPolygons); forms of the API fewer.
MAX_DEPTH = 32


_KEEP = frozenset(b'[]{}"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _KEEP)
_STRING = re.compile(rb'"[^"]*"')
_EMPTY_PAIR = re.compile(rb"\{\}|\[\]")


def _too_deep(raw: bytes | str, limit: int) -> bool:
    """Whether containers nest deeper than ``limit``, read from the text before it is parsed
    (at C speed: a 5,000-reading batch costs a few passes over its brackets, not a walk of
    every value in Python). Escapes and strings go first, then each pass of ``_EMPTY_PAIR``
    takes away exactly the innermost level."""
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if b"\\" in text:  # escaped backslashes and quotes first: every quote left delimits
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    # a quote next to a quote (an empty string, or two strings with no bracket between) goes
    # at once; the few strings holding brackets go by the regex
    brackets = text.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in brackets:
        brackets = _STRING.sub(b"", brackets)
    for _ in range(limit):
        brackets, removed = _EMPTY_PAIR.subn(b"", brackets)
        if not removed:
            return False  # empty, or not balanced (the parser says what is wrong)
    return _EMPTY_PAIR.search(brackets) is not None


def parse_json(raw: bytes | str, *, where: str = "body",
               hint: str = "send a JSON document (application/json)",
               max_depth: int = MAX_DEPTH) -> Any:
    """The decoded body, or InvalidInput (400) saying what is wrong with it."""
    deep = InvalidInput(f"the request body nests deeper than {max_depth} levels", where=where,
                        hint=f"{hint}, with at most {max_depth} levels of arrays and objects")
    if _too_deep(raw, max_depth):
        raise deep
    try:
        return orjson.loads(raw)  # 2-3x faster; what it refuses goes to the standard parser
    except orjson.JSONDecodeError:
        pass  # (NaN, integers past 64 bits, lone surrogates: read as before, or its message)
    try:
        value = json.loads(raw)
    except RecursionError:
        raise deep from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"the request body is not JSON: {exc}", where=where, hint=hint) from None
    return value

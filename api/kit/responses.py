"""JSON answers that keep Vietnamese letters as they are (UTF-8, never ``\\u`` escapes)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


class UnicodeJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")

"""Rows as JSON: timestamps in ISO 8601."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, (datetime, date)) else v) for k, v in row.items()}

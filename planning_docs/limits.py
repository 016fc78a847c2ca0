"""A zone's building limits, from its fields or, where a drawing left them empty, its label.

Planning drawings write the limits as one text in the zone (``CHITIEU``), e.g.
"MĐXD 60% - HSSDĐ 3,0 - 5 tầng - cao 21 m"; a DXF import keeps that text in ``label``. A value
the layer has always wins; a value read from the label is said to come from it.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

NUMBER = r"(\d+(?:[.,]\d+)?)"
PATTERNS = {
    "density_max_pct": re.compile(r"(?:MĐXD|MDXD|mật độ(?: xây dựng)?)\s*(?:tối đa)?\s*[:=]?\s*"
                                  + NUMBER + r"\s*%", re.IGNORECASE),
    "far_max": re.compile(r"(?:HSSDĐ|HSSDD|hệ số sử dụng đất)\s*(?:tối đa)?\s*[:=]?\s*" + NUMBER,
                          re.IGNORECASE),
    "floors_max": re.compile(r"(\d+)\s*tầng", re.IGNORECASE),
    "height_max_m": re.compile(r"(?:chiều cao|cao|\bH)\s*(?:tối đa)?\s*[:=]?\s*" + NUMBER
                               + r"\s*m\b", re.IGNORECASE),
}
LIMIT_FIELDS = tuple(PATTERNS)


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def from_label(label: str | None) -> dict[str, float | int]:
    """The limits a label states (only those it states)."""
    if not label:
        return {}
    text = unicodedata.normalize("NFC", label)
    found: dict[str, float | int] = {}
    for name, pattern in PATTERNS.items():
        match = pattern.search(text)
        if match:
            value = _number(match.group(1))
            found[name] = int(value) if name == "floors_max" else value
    return found


def zone_limits(row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(limits, the names read from the label) for one zone row."""
    limits = {name: row.get(name) for name in LIMIT_FIELDS}
    read = []
    for name, value in from_label(row.get("label")).items():
        if limits.get(name) is None:
            limits[name] = value
            read.append(name)
    return limits, read

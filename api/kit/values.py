"""Request values to typed values, the same way on every HTTP surface: whole numbers in a
range, true/false in one vocabulary, text NFC-normalised; messages name the parameter."""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, date, datetime
from typing import Any

from iocgis.errors import InvalidInput
from iocgis.layers.types import field_type

# The spellings of true and false every endpoint accepts (query strings and form fields).
TRUE_WORDS = ("true", "1", "yes", "t", "y", "on")
FALSE_WORDS = ("false", "0", "no", "f", "n", "off")
# Pages, on every surface (OGC items, query answers, Records): this many features or rows when
# the request names no limit, and at most MAX_LIMIT.
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def boolean(value: str, where: str) -> bool:
    text = value.strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise InvalidInput(f"{where}={value[:40]!r} is not true or false", where=where,
                       hint="give true or false")


def whole_number(value: str, where: str, low: int, high: int) -> int:
    text = value.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isdigit():
        raise InvalidInput(f"{where}={value[:40]!r} is not a whole number", where=where,
                           hint=f"give a whole number from {low} to {high}")
    number = int(text)
    if not low <= number <= high:
        raise InvalidInput(f"{where}={number} is out of range", where=where,
                           hint=f"give a whole number from {low} to {high}")
    return number


def field_value(kind: str, value: str, where: str, what: str) -> Any:
    """A request value in a registry field type (``layers.types``): a whole number that fits a
    bigint, a finite number, true/false of the one vocabulary, an ISO date, an ISO date and
    time (UTC when it names no offset); text as given. Else a 400 naming ``where``."""
    text = value.strip()
    try:
        if field_type(kind).whole:
            number = int(text)
            if abs(number) >= 2**63:
                raise ValueError
            return number
        if kind == "numeric":
            real = float(text)
            if not math.isfinite(real):
                raise ValueError
            return real
        if kind == "boolean":
            return boolean(text, where)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "timestamptz":
            moment = datetime.fromisoformat(text.replace("z", "Z"))
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{text[:40]!r} is not a valid {kind} for {what}", where=where,
                           hint=field_type(kind).hint) from None
    return value


def nfc(text: str) -> str:
    """Vietnamese typed in decomposed form (NFD) or mixed compares equal to stored text."""
    return unicodedata.normalize("NFC", text)

"""A reading as it arrives (any channel), parsed from JSON or CSV into one shape."""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime
from typing import Any, NamedTuple


class BadReading(ValueError):
    """A message that cannot be read as a reading; ``reason`` is the counted reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Reading(NamedTuple):
    # a tuple: made once per reading on the hot path (a frozen dataclass costs 3x as much)
    station_code: str
    parameter: str
    observed_at: datetime  # aware, UTC
    value: float
    unit: str | None = None
    datastream_id: int | None = None  # SensorThings names the datastream by id
    message: int = 0  # which message of a batch it came in (monotonic within a message)


_NFC: dict[str, str] = {}  # station codes, parameters and units repeat in every batch
_NFC_MAX = 10_000


def nfc(text: str) -> str:
    found = _NFC.get(text)
    if found is None:
        found = unicodedata.normalize("NFC", text.strip())
        if len(_NFC) < _NFC_MAX:
            _NFC[text] = found
    return found


def parse_time(value: Any) -> datetime:
    """ISO 8601 with an offset (``Z`` or ``+07:00``), or epoch seconds; naive times refused."""
    if type(value) is str and value:
        try:  # the usual case: one ISO 8601 instant
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise BadReading("bad_time", f"time {value!r} is not a number of seconds")
        return datetime.fromtimestamp(float(value), tz=UTC)
    if not isinstance(value, str) or not value:
        raise BadReading("bad_time", "the reading has no time (phenomenonTime / observed_at)")
    text = value.strip()
    if "/" in text:  # a SensorThings interval: the reading is stamped at its end
        text = text.rsplit("/", 1)[1]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadReading("bad_time", f"time {value[:40]!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise BadReading("bad_time", f"time {value[:40]!r} has no UTC offset: add Z or +07:00")
    return parsed.astimezone(UTC)


def parse_value(value: Any) -> float:
    kind = type(value)
    if kind is float or kind is int:  # the usual case (bool is not int's type)
        if math.isfinite(value):
            return float(value)
        raise BadReading("bad_value", f"value {value!r} is not a finite number")
    if isinstance(value, bool) or value is None:
        raise BadReading("bad_value", f"value {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadReading("bad_value", f"value {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise BadReading("bad_value", f"value {value!r} is not a finite number")
    return number


_make = tuple.__new__  # a Reading without NamedTuple's Python-level __new__ (hot path)


def from_mapping(item: Any, *, station: str | None = None, parameter: str | None = None,
                 message: int = 0) -> Reading:
    """One reading from a JSON object of the plain form
    ``{"station": "TV-BIENHOA", "parameter": "water_level", "time": "...Z", "value": 1.2,
    "unit": "m"}`` (``station_code``/``observed_at`` accepted too); topic parts fill the names."""
    if type(item) is not dict:
        raise BadReading("bad_payload", "a reading is a JSON object")
    get = item.get
    station = get("station") or get("station_code") or station
    parameter = get("parameter") or parameter
    unit = get("unit")
    if type(station) is not str or not (station := nfc(station)):
        raise BadReading("bad_payload", "the reading names no station")
    if type(parameter) is not str or not (parameter := nfc(parameter)):
        raise BadReading("bad_payload", "the reading names no parameter")
    if unit is not None:
        if type(unit) is not str:
            raise BadReading("bad_payload", "unit is text")
        unit = nfc(unit)
    at = get("time") or get("observed_at") or get("t")
    value = get("value")
    return _make(Reading, (station, parameter, parse_time(at),
                           parse_value(get("v") if value is None else value), unit, None,
                           message))

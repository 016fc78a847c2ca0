"""A reading as it arrives (any channel), parsed from JSON or CSV into one shape."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class BadReading(ValueError):
    """A message that cannot be read as a reading; ``reason`` is the counted reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Reading:
    station_code: str
    parameter: str
    observed_at: datetime  # aware, UTC
    value: float
    unit: str | None = None
    datastream_id: int | None = None  # SensorThings names the datastream by id
    message: int = 0  # which message of a batch it came in (monotonic within a message)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def parse_time(value: Any) -> datetime:
    """ISO 8601 with an offset (``Z`` or ``+07:00``), or epoch seconds; naive times refused."""
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
    if isinstance(value, bool) or value is None:
        raise BadReading("bad_value", f"value {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadReading("bad_value", f"value {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise BadReading("bad_value", f"value {value!r} is not a finite number")
    return number


def from_mapping(item: Any, *, station: str | None = None, parameter: str | None = None,
                 message: int = 0) -> Reading:
    """One reading from a JSON object of the plain form
    ``{"station": "TV-BIENHOA", "parameter": "water_level", "time": "...Z", "value": 1.2,
    "unit": "m"}`` (``station_code``/``observed_at`` accepted too); topic parts fill the names."""
    if not isinstance(item, dict):
        raise BadReading("bad_payload", "a reading is a JSON object")
    station = item.get("station", item.get("station_code", station))
    parameter = item.get("parameter", parameter)
    if not isinstance(station, str) or not station.strip():
        raise BadReading("bad_payload", "the reading names no station")
    if not isinstance(parameter, str) or not parameter.strip():
        raise BadReading("bad_payload", "the reading names no parameter")
    unit = item.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise BadReading("bad_payload", "unit is text")
    return Reading(nfc(station), nfc(parameter),
                   parse_time(item.get("time", item.get("observed_at", item.get("t")))),
                   parse_value(item.get("value", item.get("v"))),
                   nfc(unit) if unit is not None else None, message=message)

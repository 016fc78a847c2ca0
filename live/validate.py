"""The rules a reading must pass before it is written; each refusal has a counted reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from iocgis.live.datastreams import Catalog, Datastream, Device
from iocgis.live.readings import Reading

# Units written differently by loggers, as the datastream spells them.
UNIT_SPELLINGS = {"m3/s": "m³/s", "m^3/s": "m³/s", "ug/m3": "µg/m³", "μg/m³": "µg/m³",
                  "mm/h": "mm"}


@dataclass
class Rejected:
    reason: str
    detail: str
    device: str = ""


@dataclass
class Checked:
    """A batch after the rules: what to write (per datastream) and what was refused."""

    accepted: list[tuple[Datastream, Reading]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    repeated: int = 0  # the same datastream and time twice in the batch: kept once

    @property
    def reasons(self) -> Counter:
        return Counter(r.reason for r in self.rejected)


def same_unit(given: str | None, expected: str) -> bool:
    if given is None or given == expected:
        return True
    return UNIT_SPELLINGS.get(given, given) == UNIT_SPELLINGS.get(expected, expected)


def check(conn: psycopg.Connection, catalog: Catalog, readings: list[Reading],
          device: Device | None, *, future_tolerance_s: float,
          now: datetime | None = None) -> Checked:
    """Datastream known, the device's own, unit, physical range, not in the future, and within
    one message monotonic per datastream (a reading repeated in the batch is kept once).
    Readings older than the datastream's latest are late data: accepted and stored, they move
    neither the latest value nor the alarm level."""
    out = Checked()
    horizon = (now or datetime.now(UTC)) + timedelta(seconds=future_tolerance_s)
    last_in_batch: dict[tuple[int, int], datetime] = {}
    seen: set[tuple[int, datetime]] = set()
    who = device.code if device else ""
    for reading in readings:
        stream = (catalog.find_id(conn, reading.datastream_id) if reading.datastream_id
                  else catalog.find(conn, reading.station_code, reading.parameter))
        if stream is None:
            out.rejected.append(Rejected("unknown_datastream", f"no datastream "
                                         f"{reading.station_code}/{reading.parameter}", who))
            continue
        if device is not None and stream.id not in device.datastreams:
            out.rejected.append(Rejected("not_your_datastream", f"device {device.code} may not "
                                         f"write {stream.station_code}/{stream.parameter}", who))
            continue
        if not same_unit(reading.unit, stream.unit):
            out.rejected.append(Rejected("wrong_unit", f"{stream.station_code}/"
                                         f"{stream.parameter} is in {stream.unit!r}, the "
                                         f"reading in {reading.unit!r}", who))
            continue
        if (stream.min_value is not None and reading.value < stream.min_value) or \
                (stream.max_value is not None and reading.value > stream.max_value):
            out.rejected.append(Rejected("out_of_range", f"{reading.value} is outside "
                                         f"[{stream.min_value}, {stream.max_value}] of "
                                         f"{stream.station_code}/{stream.parameter}", who))
            continue
        if reading.observed_at > horizon:
            out.rejected.append(Rejected("in_the_future", f"{reading.observed_at.isoformat()} "
                                         f"is more than {future_tolerance_s:g} s ahead", who))
            continue
        if (stream.id, reading.observed_at) in seen:  # the same reading again: kept once
            out.repeated += 1
            continue
        previous = last_in_batch.get((reading.message, stream.id))
        if previous is not None and reading.observed_at < previous:
            out.rejected.append(Rejected("not_monotonic", f"{reading.observed_at.isoformat()} "
                                         f"comes after {previous.isoformat()} in the same "
                                         f"batch of {stream.station_code}/{stream.parameter}",
                                         who))
            continue
        last_in_batch[(reading.message, stream.id)] = reading.observed_at
        seen.add((stream.id, reading.observed_at))
        out.accepted.append((stream, reading))
    return out

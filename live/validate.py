"""The rules a reading must pass before it is written; each refusal has a counted reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

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
    generation: int = 0  # of the catalog the datastreams come from

    @property
    def reasons(self) -> Counter:
        return Counter(r.reason for r in self.rejected)


def same_unit(given: str | None, expected: str) -> bool:
    if given is None or given == expected:
        return True
    return UNIT_SPELLINGS.get(given, given) == UNIT_SPELLINGS.get(expected, expected)


def check(reload: Callable[[], None], catalog: Catalog, readings: list[Reading],
          device: Device | None, *, future_tolerance_s: float,
          now: datetime | None = None) -> Checked:
    """Datastream known, the device's own, unit, physical range, not in the future, and within
    one message monotonic per datastream (a reading repeated in the batch is kept once).
    Readings older than the datastream's latest are late data: accepted and stored, they move
    neither the latest value nor the alarm level."""
    out = Checked(generation=catalog.generation)
    horizon = (now or datetime.now(UTC)) + timedelta(seconds=future_tolerance_s)
    last_in_batch: dict[tuple[int, int], datetime] = {}
    seen: set[tuple[int, datetime]] = set()
    who = device.code if device else ""
    allowed = device.datastreams if device is not None else None
    # what a datastream's readings must meet, found once per batch (the usual batch carries a
    # few hundred datastreams and thousands of readings)
    rules: dict[tuple[str, str] | int, tuple[Datastream, Rejected | None] | None] = {}
    accepted = out.accepted
    for reading in readings:
        name: tuple[str, str] | int = reading.datastream_id or (reading.station_code,
                                                                reading.parameter)
        rule = rules.get(name)
        if rule is None:
            rule = rules[name] = _rule(reload, catalog, reading, device, allowed, who)
        stream, refusal = rule
        if refusal is not None:
            out.rejected.append(refusal)
            continue
        if stream is None:
            continue  # (not reached: a missing datastream is a refusal)
        unit = reading.unit
        if unit is not None and unit != stream.unit and not same_unit(unit, stream.unit):
            out.rejected.append(Rejected("wrong_unit", f"{stream.station_code}/"
                                         f"{stream.parameter} is in {stream.unit!r}, the "
                                         f"reading in {reading.unit!r}", who))
            continue
        value = reading.value
        if (stream.min_value is not None and value < stream.min_value) or \
                (stream.max_value is not None and value > stream.max_value):
            out.rejected.append(Rejected("out_of_range", f"{reading.value} is outside "
                                         f"[{stream.min_value}, {stream.max_value}] of "
                                         f"{stream.station_code}/{stream.parameter}", who))
            continue
        at = reading.observed_at
        if at > horizon:
            out.rejected.append(Rejected("in_the_future", f"{at.isoformat()} "
                                         f"is more than {future_tolerance_s:g} s ahead", who))
            continue
        key = (stream.id, at)
        if key in seen:  # the same reading again: kept once
            out.repeated += 1
            continue
        order = (reading.message, stream.id)
        previous = last_in_batch.get(order)
        if previous is not None and at < previous:
            out.rejected.append(Rejected("not_monotonic", f"{at.isoformat()} "
                                         f"comes after {previous.isoformat()} in the same "
                                         f"batch of {stream.station_code}/{stream.parameter}",
                                         who))
            continue
        last_in_batch[order] = at
        seen.add(key)
        accepted.append((stream, reading))
    return out


def _rule(reload: Callable[[], None], catalog: Catalog, reading: Reading, device: Device | None,
          allowed: frozenset[int] | None, who: str) -> tuple[Datastream | None, Rejected | None]:
    """The datastream a reading names and, when none or not the device's, its refusal."""
    stream = (catalog.find_id(reload, reading.datastream_id) if reading.datastream_id
              else catalog.find(reload, reading.station_code, reading.parameter))
    if stream is None:
        return None, Rejected("unknown_datastream", f"no datastream "
                              f"{reading.station_code}/{reading.parameter}", who)
    if allowed is not None and device is not None and stream.id not in allowed:
        return stream, Rejected("not_your_datastream", f"device {device.code} may not "
                                f"write {stream.station_code}/{stream.parameter}", who)
    return stream, None

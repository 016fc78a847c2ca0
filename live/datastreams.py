"""Datastreams (a parameter at a station), devices and their scopes, cached per process."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from iocgis.errors import InvalidInput, NotFound

SCOPE_TTL_S = 5.0  # a revoked device or scope takes effect within this


@dataclass
class Datastream:
    id: int
    station_code: str
    parameter: str
    unit: str
    cadence_s: int
    min_value: float | None
    max_value: float | None
    last_observed_at: datetime | None
    alarm_level: int
    silent: bool
    commune_code: str | None
    kind: str | None


@dataclass(frozen=True)
class Device:
    id: int
    code: str
    datastreams: frozenset[int]


DATASTREAM_SQL = """
SELECT d.id, d.station_code, d.parameter, d.unit, d.cadence_s, d.min_value, d.max_value,
       d.last_observed_at, d.alarm_level, d.silent, s.commune_code, s.kind
FROM live.datastreams d LEFT JOIN iot.stations s ON s.station_code = d.station_code
"""


def secret_hash(secret: str) -> str:
    # Secrets are 32 random bytes: a fast hash is enough (no dictionary to guess from), and
    # ingest checks one per message.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Catalog:
    """What the pipeline asks per reading, kept in memory: datastreams by key and by id,
    devices by code (re-read after ``SCOPE_TTL_S``). Readers in other threads see either the
    old or the new maps (a load swaps them whole); ``generation`` counts the loads."""

    by_key: dict[tuple[str, str], Datastream] = field(default_factory=dict)
    by_id: dict[int, Datastream] = field(default_factory=dict)
    devices: dict[str, tuple[float, str, Device | None]] = field(default_factory=dict)
    loaded_at: float = 0.0
    generation: int = 0

    def load(self, conn: psycopg.Connection) -> None:
        by_key, by_id = {}, {}
        for row in conn.execute(DATASTREAM_SQL):
            stream = Datastream(*row)
            by_key[(stream.station_code, stream.parameter)] = stream
            by_id[stream.id] = stream
        self.by_key, self.by_id = by_key, by_id
        self.loaded_at = time.monotonic()
        self.generation += 1

    def find(self, reload: Callable[[], None], station: str,
             parameter: str) -> Datastream | None:
        """The datastream, or None; an unknown one makes ``reload`` read the table again (a
        datastream made since), at most once a second."""
        stream = self.by_key.get((station, parameter))
        if stream is None and time.monotonic() - self.loaded_at > 1.0:
            reload()
            stream = self.by_key.get((station, parameter))
        return stream

    def find_id(self, reload: Callable[[], None], datastream_id: int) -> Datastream | None:
        stream = self.by_id.get(datastream_id)
        if stream is None and time.monotonic() - self.loaded_at > 1.0:
            reload()
            stream = self.by_id.get(datastream_id)
        return stream

    def cached_device(self, code: str) -> tuple[str, Device | None] | None:
        """(secret hash, device) when read less than ``SCOPE_TTL_S`` ago (no database)."""
        cached = self.devices.get(code)
        if cached is not None and time.monotonic() - cached[0] < SCOPE_TTL_S:
            return cached[1], cached[2]
        return None

    def device(self, conn: psycopg.Connection, code: str) -> tuple[str, Device | None]:
        """(secret hash, device) of an enabled device; ('', None) when unknown or disabled."""
        cached = self.cached_device(code)
        if cached is not None:
            return cached
        row = conn.execute(
            "SELECT d.id, d.secret_hash, coalesce(array_agg(s.datastream_id) FILTER (WHERE "
            "s.datastream_id IS NOT NULL), '{}') FROM live.devices d LEFT JOIN "
            "live.device_datastreams s ON s.device_id = d.id WHERE d.code = %s AND "
            "d.disabled_at IS NULL GROUP BY d.id", (code,)).fetchone()
        found = ("", None) if row is None else (row[1], Device(row[0], code, frozenset(row[2])))
        self.devices[code] = (time.monotonic(), *found)
        return found

    def authenticate(self, found: tuple[str, Device | None], secret: str) -> Device | None:
        """The device of ``found`` (``device()``) when the secret is its, else None (same cost
        either way)."""
        stored, device = found
        given = secret_hash(secret)
        ok = hmac.compare_digest(stored or "0" * 64, given)
        return device if ok and device is not None else None


def parse_device_key(header: str) -> tuple[str, str]:
    code, sep, secret = header.strip().partition(":")
    if not sep or not code or not secret:
        raise InvalidInput("the device key is not <device code>:<secret>", where="X-Device-Key",
                           hint="send the key `iocgis live device create` printed")
    return code, secret


def create_datastream(conn: psycopg.Connection, station: str, parameter: str, unit: str, *,
                      cadence_s: int = 3600, min_value: float | None = None,
                      max_value: float | None = None, name: str | None = None) -> int:
    """Make (or update) the datastream of ``parameter`` at ``station``; returns its id."""
    if conn.execute("SELECT 1 FROM iot.stations WHERE station_code = %s",
                    (station,)).fetchone() is None:
        raise NotFound(f"unknown station {station!r}", where="station",
                       hint="import the station into iot.stations first")
    row = conn.execute(
        "INSERT INTO live.datastreams (station_code, parameter, unit, cadence_s, min_value, "
        "max_value, name) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (station_code, "
        "parameter) DO UPDATE SET unit = EXCLUDED.unit, cadence_s = EXCLUDED.cadence_s, "
        "min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value, "
        "name = coalesce(EXCLUDED.name, live.datastreams.name) RETURNING id",
        (station, parameter, unit, cadence_s, min_value, max_value, name)).fetchone()
    return int(row[0])


def create_device(conn: psycopg.Connection, code: str, datastream_ids: list[int], *,
                  name: str | None = None) -> str:
    """A device with a new secret, scoped to ``datastream_ids``; returns ``code:secret`` (shown
    once: only its hash is kept). An existing device gets a new secret and this scope."""
    secret = secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO live.devices (code, name, secret_hash) VALUES (%s, %s, %s) ON CONFLICT "
        "(code) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, disabled_at = NULL, "
        "name = coalesce(EXCLUDED.name, live.devices.name) RETURNING id",
        (code, name, secret_hash(secret))).fetchone()
    conn.execute("DELETE FROM live.device_datastreams WHERE device_id = %s", (row[0],))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO live.device_datastreams VALUES (%s, %s)",
                        [(row[0], d) for d in datastream_ids])
    return f"{code}:{secret}"

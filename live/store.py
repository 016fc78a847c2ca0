"""Writes of the pipeline: readings into the partitioned iot.observations once (binary COPY
straight into the table, or through a session table and one INSERT … ON CONFLICT DO NOTHING
when some are already there), the latest readings, the rejection counters."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import orjson
import psycopg

from iocgis.live.datastreams import Datastream
from iocgis.live.readings import Reading
from iocgis.live.validate import Rejected

INCOMING = ("CREATE TEMP TABLE IF NOT EXISTS live_incoming (station_code text, parameter text, "
            "observed_at timestamptz, value float8, unit text) ON COMMIT DELETE ROWS")
COPY_TYPES = ["text", "text", "timestamptz", "float8", "text"]
DIRECT = ("COPY iot.observations (station_code, parameter, observed_at, value, unit) "
          "FROM STDIN (FORMAT BINARY)")
WRITE = """
INSERT INTO iot.observations (station_code, parameter, observed_at, value, unit)
SELECT station_code, parameter, observed_at, value, unit FROM live_incoming
ON CONFLICT (station_code, parameter, observed_at) DO NOTHING
RETURNING station_code, parameter, observed_at
"""


def _month(at: datetime) -> tuple[int, int]:
    return at.year, at.month


class Partitions:
    """The months that have a partition; asks the database to make the missing ones."""

    def __init__(self) -> None:
        self.months: set[tuple[int, int]] = set()

    def load(self, conn: psycopg.Connection) -> None:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'iot.observations'::regclass").fetchall()
        for (name,) in rows:
            if name.startswith("observations_y"):
                self.months.add((int(name[14:18]), int(name[19:21])))

    def drain_default(self, conn: psycopg.Connection) -> int:
        """Make the partitions of the months waiting in the default partition (rows an import
        wrote there), which moves them in; returns how many were made."""
        made = conn.execute("SELECT iot.ensure_observation_partitions(min(observed_at), "
                            "max(observed_at)) FROM iot_partitions.observations_default"
                            ).fetchone()[0] or 0
        if made:
            self.months.clear()
            self.load(conn)
        return int(made)

    def ensure(self, conn: psycopg.Connection, times: list[datetime]) -> int:
        """Make the partitions of the months from the earliest to the latest of ``times``."""
        first, last = _month(min(times)), _month(max(times))
        months = [first]
        while months[-1] < last:
            year, month = months[-1]
            months.append((year + month // 12, month % 12 + 1))
        missing = [m for m in months if m not in self.months]
        made = 0
        for year, month in missing:
            made += conn.execute("SELECT iot.ensure_observation_partitions(%s, %s)",
                                 (f"{year}-{month:02d}-01T00:00Z",) * 2).fetchone()[0]
            self.months.add((year, month))
        return made


def _copy(cur: psycopg.Cursor, statement: str,
          accepted: list[tuple[Datastream, Reading]]) -> None:
    with cur.copy(statement) as copy:
        copy.set_types(COPY_TYPES)
        for stream, r in accepted:
            copy.write_row((stream.station_code, stream.parameter, r.observed_at, r.value,
                            stream.unit))


def write_readings(conn: psycopg.Connection, accepted: list[tuple[Datastream, Reading]], *,
                   direct: bool = True) -> set[tuple[str, str, datetime]] | None:
    """Write inside the caller's transaction. ``direct``: binary COPY straight into the table
    (the usual case; a reading already there raises UniqueViolation and the caller's
    transaction is lost: it comes again with ``direct=False``), returns None (all new).
    Else through a session table and INSERT … ON CONFLICT DO NOTHING, returns the keys that
    were new (a repeated message lands once)."""
    if direct:
        with conn.cursor() as cur:
            _copy(cur, DIRECT, accepted)
        return None
    conn.execute(INCOMING)
    with conn.cursor() as cur:
        _copy(cur, "COPY live_incoming FROM STDIN (FORMAT BINARY)", accepted)
        cur.execute(WRITE)
        return {(s, p, t) for s, p, t in cur.fetchall()}


LATEST = """
WITH incoming (station_code, parameter, value, observed_at, alarm_level) AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::float8[], %s::timestamptz[], %s::int[])
), streams AS (
    UPDATE live.datastreams d SET last_observed_at = i.observed_at, last_value = i.value,
        last_received_at = now(), alarm_level = i.alarm_level, silent = false
    FROM incoming i WHERE d.station_code = i.station_code AND d.parameter = i.parameter
    RETURNING d.station_code, d.parameter, d.unit
)
INSERT INTO iot.latest (station_code, parameter, name, kind, value, unit, observed_at,
                        alarm_level, freshness, commune_code, geom, updated_at)
SELECT i.station_code, i.parameter, s.name, s.kind, i.value, st.unit, i.observed_at,
       i.alarm_level, 'fresh', s.commune_code, s.geom, now()
FROM incoming i JOIN streams st USING (station_code, parameter)
LEFT JOIN iot.stations s ON s.station_code = i.station_code
ON CONFLICT (station_code, parameter) DO UPDATE SET value = EXCLUDED.value,
    observed_at = EXCLUDED.observed_at, alarm_level = EXCLUDED.alarm_level,
    freshness = 'fresh', unit = EXCLUDED.unit, name = EXCLUDED.name, kind = EXCLUDED.kind,
    commune_code = EXCLUDED.commune_code, geom = EXCLUDED.geom, updated_at = now()
"""


def write_latest(conn: psycopg.Connection,
                 newest: list[tuple[Datastream, Reading, int]]) -> None:
    """The newest reading of each datastream of the batch (never a read of the history)."""
    if not newest:
        return
    conn.execute(LATEST, ([s.station_code for s, _, _ in newest],
                          [s.parameter for s, _, _ in newest], [r.value for _, r, _ in newest],
                          [r.observed_at for _, r, _ in newest], [lv for _, _, lv in newest]))


def count_rejections(conn: psycopg.Connection, channel: str, rejected: list[Rejected]) -> None:
    if not rejected:
        return
    counts = Counter((r.device, r.reason) for r in rejected)
    last = {(r.device, r.reason): r.detail for r in rejected}
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO live.rejections (day, channel, device_code, reason, count, last_detail)"
            " VALUES (current_date, %s, %s, %s, %s, %s) ON CONFLICT (day, channel, device_code,"
            " reason) DO UPDATE SET count = live.rejections.count + EXCLUDED.count, "
            "last_at = now(), last_detail = EXCLUDED.last_detail",
            [(channel, device, reason, n, last[(device, reason)][:500])
             for (device, reason), n in counts.items()])


NOTIFY_CHANNEL = "iocgis_live"
NOTIFY_LIMIT = 7000  # bytes per NOTIFY payload (PostgreSQL's limit is 8000)


NOTIFY_SQL = ("SELECT pg_notify(%s, p) FROM unnest(%s::text[]) WITH ORDINALITY u(p, n) "
              "ORDER BY n")


def notify_payloads(events: list[dict]) -> list[str]:
    """Events as JSON arrays of at most ``NOTIFY_LIMIT`` bytes each."""
    payloads: list[str] = []
    chunk: list[bytes] = []
    size = 0
    for event in events:
        text = orjson.dumps(event, default=str)
        if size + len(text) > NOTIFY_LIMIT and chunk:
            payloads.append((b"[" + b",".join(chunk) + b"]").decode())
            chunk, size = [], 0
        chunk.append(text)
        size += len(text) + 1
    if chunk:
        payloads.append((b"[" + b",".join(chunk) + b"]").decode())
    return payloads


def notify(conn: psycopg.Connection, events: list[dict]) -> None:
    """Queue events for the SSE hubs and the MQTT bridge (delivered at COMMIT), all in one
    statement."""
    if events:
        conn.execute(NOTIFY_SQL, (NOTIFY_CHANNEL, notify_payloads(events)))

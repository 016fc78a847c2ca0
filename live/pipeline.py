"""The one ingestion pipeline of every channel (MQTT, SensorThings, batch): check, write once,
latest readings, alarms, rejections counted, events for the push — one transaction a batch."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from iocgis.live import alarms, store
from iocgis.live.datastreams import Catalog, Datastream, Device
from iocgis.live.jsonable import jsonable
from iocgis.live.readings import Reading
from iocgis.live.settings import LiveSettings
from iocgis.live.validate import Checked, Rejected, check
from iocgis.ops import metrics


@dataclass
class IngestResult:
    accepted: int = 0  # new rows in iot.observations
    duplicates: int = 0  # already there (a message sent twice lands once)
    late: int = 0  # accepted, older than the datastream's latest
    rejected: dict[str, int] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "late": self.late,
                "rejected": self.rejected,
                "alerts": [alert_json(a) for a in self.alerts]}

    def add(self, other: IngestResult) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.late += other.late
        for reason, n in other.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + n
        self.alerts += other.alerts


alert_json = jsonable


def reading_event(stream: Datastream, reading: Reading, level: int) -> dict[str, Any]:
    return {"type": "latest", "station_code": stream.station_code, "parameter": stream.parameter,
            "value": reading.value, "unit": stream.unit, "alarm_level": level,
            "observed_at": reading.observed_at.isoformat(), "commune_code": stream.commune_code}


@dataclass(frozen=True)
class Prepared:
    """A batch checked against the rules, waiting for its write."""

    checked: Checked
    device: Device | None
    bad: list[Rejected]


class Ingestor:
    """Owns one connection (the owner's: the platform writes, as imports do). Thread-safe:
    batches from several threads are written one after the other."""

    def __init__(self, url: str, live: LiveSettings | None = None) -> None:
        self.url = url
        self.live = live or LiveSettings()
        self.catalog = Catalog()
        self.partitions = store.Partitions()
        self.evaluator = alarms.Evaluator()
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None

    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self.url, autocommit=True)
            self.catalog.load(self._conn)
            self.partitions.load(self._conn)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _device(self, code: str) -> tuple[str, Device | None]:
        found = self.catalog.cached_device(code)  # the usual case: no lock, no database
        if found is None:
            with self._lock:
                found = self.catalog.device(self.connection(), code)
        return found

    def authenticate(self, code: str, secret: str) -> Device | None:
        return self.catalog.authenticate(self._device(code), secret)

    def device(self, code: str) -> Device | None:
        """A device the broker already authenticated (its name is in the topic)."""
        return self._device(code)[1]

    def reload(self) -> None:
        with self._lock:
            self.catalog.load(self.connection())
            self.evaluator.forget()

    def sweep(self) -> list[dict[str, Any]]:
        """Move imported rows out of the default partition, flag silent datastreams (see
        ``silence``) and overdue incident steps (``overdue``); returns the alerts raised."""
        from iocgis.live import overdue, silence
        from iocgis.live.workflow import workflow

        with self._lock:
            self.partitions.drain_default(self.connection())
            silenced, raised = silence.sweep(self.connection(), self.live.silent_after_cadences)
            for stream_id in silenced:
                if stream_id in self.catalog.by_id:
                    self.catalog.by_id[stream_id].silent = True
            return raised + overdue.sweep(self.connection(), workflow())

    def _reload(self) -> None:
        with self._lock:
            self.catalog.load(self.connection())

    def prepare(self, readings: list[Reading], *, device: Device | None,
                bad: list[Rejected] | None = None) -> Prepared:
        """The rules checked, before the writer's lock (in memory: another batch's writes go
        on meanwhile)."""
        return Prepared(check(self._reload, self.catalog, readings, device,
                              future_tolerance_s=self.live.future_tolerance_s), device, bad or [])

    def write(self, prepared: Prepared, *, channel: str) -> IngestResult:
        """One prepared batch written, one after the other (in the order they come here)."""
        with self._lock:
            try:
                result = self._ingest(prepared.checked, channel, prepared.device, prepared.bad)
            except psycopg.OperationalError:
                self.close()
                raise
        metrics.readings_ingested(channel, result.accepted, result.duplicates, result.rejected)
        return result

    def ingest(self, readings: list[Reading], *, channel: str, device: Device | None,
               bad: list[Rejected] | None = None) -> IngestResult:
        return self.write(self.prepare(readings, device=device, bad=bad), channel=channel)

    def _ingest(self, checked: Checked, channel: str, device: Device | None,
                bad: list[Rejected]) -> IngestResult:
        conn = self.connection()
        if checked.generation != self.catalog.generation:  # reloaded since: today's objects
            current = self.catalog.by_id
            checked.accepted = [(current.get(s.id, s), r) for s, r in checked.accepted]
        if checked.accepted:
            self.partitions.ensure(conn, [r.observed_at for _, r in checked.accepted])
        try:
            result, updates = self._transaction(conn, checked, channel, device, bad, direct=True)
        except psycopg.errors.UniqueViolation:
            # one of them is there already (a message sent again): nothing was written; the
            # batch again, through the session table and ON CONFLICT DO NOTHING
            result, updates = self._transaction(conn, checked, channel, device, bad,
                                                direct=False)
        for stream, reading, level in updates:  # committed: the cache follows
            stream.last_observed_at = reading.observed_at
            stream.alarm_level = level
            stream.silent = False
        return result

    def _transaction(self, conn: psycopg.Connection, checked: Checked, channel: str,
                     device: Device | None, bad: list[Rejected], *, direct: bool
                     ) -> tuple[IngestResult, list[tuple[Datastream, Reading, int]]]:
        """The batch in one transaction: the readings (binary COPY), then every other write
        in one round trip (pipeline mode; an alarm move waits for its alert row)."""
        rejected = bad + checked.rejected
        result = IngestResult(duplicates=checked.repeated)
        for reason, n in Counter(r.reason for r in rejected).items():
            result.rejected[reason] = n
        updates: list[tuple[Datastream, Reading, int]] = []
        with conn.transaction():
            new = store.write_readings(conn, checked.accepted, direct=direct) \
                if checked.accepted else None
            fresh: dict[int, list[Reading]] = {}
            streams: dict[int, Datastream] = {}
            late_hours: set[datetime] = set()  # the roll-up may have passed them (retention)
            for stream, r in checked.accepted:
                if new is not None and (stream.station_code, stream.parameter,
                                        r.observed_at) not in new:
                    result.duplicates += 1
                    continue
                last = stream.last_observed_at
                if last is not None and r.observed_at <= last:
                    result.late += 1
                    late_hours.add(r.observed_at.replace(minute=0, second=0, microsecond=0))
                    continue
                series = fresh.get(stream.id)
                if series is None:
                    fresh[stream.id] = series = []
                    streams[stream.id] = stream
                series.append(r)
            result.accepted = len(checked.accepted) - result.duplicates + checked.repeated
            moves: list[alarms.Move] = []
            for stream_id, series in fresh.items():
                stream = streams[stream_id]
                level, stream_moves = self.evaluator.evaluate(conn, stream, series)
                moves += stream_moves
                updates.append((stream, series[-1], level))
            came_back = [s.id for s, _, _ in updates if s.silent]
            with conn.pipeline():
                store.write_latest(conn, updates)
                result.alerts = alarms.apply(conn, moves)
                result.alerts += alarms.clear_silent(conn, came_back, {
                    s.id: r.observed_at for s, r, _ in updates})
                store.count_rejections(conn, channel, rejected)
                if late_hours:
                    conn.execute("INSERT INTO live.rollup_pending SELECT unnest(%s::timestamptz[])"
                                 " ON CONFLICT DO NOTHING", (sorted(late_hours),))
                if device is not None:
                    conn.execute("UPDATE live.devices SET last_seen_at = now() WHERE id = %s",
                                 (device.id,))
                if moves or came_back:
                    # the map's colours come from the tiles of iot.latest: they must refresh
                    conn.execute("UPDATE meta.layers SET data_version = data_version + 1 "
                                 "WHERE id = 'iot.latest'")
                store.notify(conn, [{"type": "alert", **alert_json(a)} for a in result.alerts]
                             + [reading_event(s, r, lv) for s, r, lv in updates])
        return result, updates


def now_utc() -> datetime:
    return datetime.now(UTC)

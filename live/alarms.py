"""Alarm evaluation on ingest: each datastream's level moves with its new readings (up at
once, down past the hysteresis band); an alert opens when the level leaves 0, follows its
level, and clears when the level is back to 0. One open alert per datastream and kind."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import dict_row

from iocgis.live.datastreams import Datastream
from iocgis.live.readings import Reading
from iocgis.live.thresholds import Level, levels_for, next_level, quiet_band

LEVELS_TTL_S = 30.0  # a threshold edited in live.thresholds applies within this

ALERT_COLUMNS = ("id, kind, station_code, parameter, commune_code, level, peak_level, state, "
                 "observed_at, value, threshold, source, raised_at, acknowledged_at, "
                 "acknowledged_by, note, cleared_at, cleared_value, cleared_observed_at, "
                 "incident_code, incident_status")


@dataclass(frozen=True)
class Move:
    stream: Datastream
    reading: Reading
    before: int
    after: int
    level: Level | None  # the threshold of the level reached (None when cleared)


class Evaluator:
    def __init__(self) -> None:
        self._levels: dict[int, tuple[float, tuple[Level, ...], tuple[float, float]]] = {}

    def levels(self, conn: psycopg.Connection, stream: Datastream
               ) -> tuple[tuple[Level, ...], tuple[float, float]]:
        """The datastream's levels and the band of values that cross none of them."""
        cached = self._levels.get(stream.id)
        if cached is None or time.monotonic() - cached[0] > LEVELS_TTL_S:
            levels = levels_for(conn, stream.station_code, stream.parameter)
            cached = (time.monotonic(), levels, quiet_band(levels))
            self._levels[stream.id] = cached
        return cached[1], cached[2]

    def forget(self) -> None:
        self._levels.clear()

    def evaluate(self, conn: psycopg.Connection, stream: Datastream,
                 readings: list[Reading]) -> tuple[int, list[Move]]:
        """The level after ``readings`` (in time order, all newer than the latest) and the
        moves on the way."""
        levels, (low, high) = self.levels(conn, stream)
        current = stream.alarm_level
        moves = []
        for reading in readings:
            value = reading.value
            if current == 0 and low < value < high:
                continue  # the usual reading: at level 0 and crossing nothing
            after = next_level(levels, current, value) if levels else 0
            if after != current:
                reached = next((lv for lv in levels if lv.level == after), None)
                moves.append(Move(stream, reading, current, after, reached))
                current = after
        return current, moves


def apply(conn: psycopg.Connection, moves: list[Move]) -> list[dict]:
    """Open, move or clear the alerts; returns the alerts as they now are (for the push)."""
    out = []
    with conn.cursor(row_factory=dict_row) as cur:
        for move in moves:
            s, r = move.stream, move.reading
            if move.after > 0 and move.before == 0:
                cur.execute(
                    "INSERT INTO live.alerts (kind, datastream_id, station_code, parameter, "
                    "commune_code, level, peak_level, observed_at, value, threshold, source) "
                    "VALUES ('threshold', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (datastream_id, kind) WHERE state <> 'cleared' DO UPDATE SET "
                    "level = EXCLUDED.level, peak_level = greatest(live.alerts.peak_level, "
                    "EXCLUDED.level), updated_at = now() RETURNING " + ALERT_COLUMNS,
                    (s.id, s.station_code, s.parameter, s.commune_code, move.after, move.after,
                     r.observed_at, r.value, move.level.value if move.level else None,
                     move.level.source if move.level else None))
            elif move.after > 0:
                cur.execute(
                    "UPDATE live.alerts SET level = %s, peak_level = greatest(peak_level, %s), "
                    "observed_at = CASE WHEN %s > peak_level THEN %s ELSE observed_at END, "
                    "value = CASE WHEN %s > peak_level THEN %s ELSE value END, "
                    "threshold = CASE WHEN %s > peak_level THEN %s ELSE threshold END, "
                    "updated_at = now() WHERE datastream_id = %s AND kind = 'threshold' AND "
                    "state <> 'cleared' RETURNING " + ALERT_COLUMNS,
                    (move.after, move.after, move.after, r.observed_at, move.after, r.value,
                     move.after, move.level.value if move.level else None, s.id))
            else:
                cur.execute(
                    "UPDATE live.alerts SET state = 'cleared', level = 0, cleared_at = now(), "
                    "cleared_value = %s, cleared_observed_at = %s, updated_at = now() "
                    "WHERE datastream_id = %s AND kind = 'threshold' AND state <> 'cleared' "
                    "RETURNING " + ALERT_COLUMNS, (r.value, r.observed_at, s.id))
            row = cur.fetchone()
            if row is not None:
                out.append(row)
    return out


def clear_silent(conn: psycopg.Connection, stream_ids: list[int],
                 observed: dict[int, datetime]) -> list[dict]:
    """Data came back: the silent-sensor alerts of these datastreams clear."""
    if not stream_ids:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("UPDATE live.alerts SET state = 'cleared', level = 0, cleared_at = now(), "
                    "updated_at = now() WHERE kind = 'silent' AND state <> 'cleared' AND "
                    "datastream_id = ANY(%s) RETURNING datastream_id, " + ALERT_COLUMNS,
                    (stream_ids,))
        rows = cur.fetchall()
    for row in rows:
        row["cleared_observed_at"] = observed.get(row.pop("datastream_id"))
    return rows

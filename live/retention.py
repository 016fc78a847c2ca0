"""Retention and downsampling as data (``live.retention``): raw readings roll up into hourly
aggregates (UTC hours) and those into daily ones (days of Asia/Ho_Chi_Minh); raw monthly
partitions are dropped whole once past their retention and rolled up; aggregates older than
theirs are deleted.

No step reads the whole history: the roll-up moves a watermark (``live.rollup_state``) over
at most ``STEP`` of readings per statement (a time range the BRIN index answers), and hours
that late readings landed in after they were rolled up (``live.rollup_pending``, written by
the pipeline) are rolled up again; the daily aggregates are made from the hourly ones of the
days that changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from iocgis.live.store import Partitions

STEP = timedelta(days=31)  # readings per roll-up statement, at most
LOCAL_TZ = "Asia/Ho_Chi_Minh"

HOURLY = """
INSERT INTO live.observations_hourly (station_code, parameter, hour, n, min, max, mean, sum)
SELECT station_code, parameter, date_trunc('hour', observed_at, 'UTC'), count(*), min(value),
       max(value), avg(value), sum(value)
FROM iot.observations WHERE observed_at >= %(lo)s AND observed_at < %(hi)s
GROUP BY 1, 2, 3
ON CONFLICT (station_code, parameter, hour) DO UPDATE SET n = EXCLUDED.n, min = EXCLUDED.min,
    max = EXCLUDED.max, mean = EXCLUDED.mean, sum = EXCLUDED.sum
"""
# The local days the hours in [lo, hi) belong to, made again from their hourly rows.
DAILY = f"""
WITH days AS (
    SELECT DISTINCT (h AT TIME ZONE '{LOCAL_TZ}')::date AS day
    FROM generate_series(date_trunc('hour', %(lo)s::timestamptz, 'UTC'),
                         %(hi)s::timestamptz - interval '1 hour', interval '1 hour') h
)
INSERT INTO live.observations_daily (station_code, parameter, day, n, min, max, mean, sum)
SELECT o.station_code, o.parameter, d.day, sum(o.n), min(o.min), max(o.max),
       sum(o.sum) / sum(o.n), sum(o.sum)
FROM days d JOIN live.observations_hourly o
  ON o.hour >= (d.day::timestamp AT TIME ZONE '{LOCAL_TZ}')
 AND o.hour < ((d.day + 1)::timestamp AT TIME ZONE '{LOCAL_TZ}')
GROUP BY 1, 2, 3
ON CONFLICT (station_code, parameter, day) DO UPDATE SET n = EXCLUDED.n, min = EXCLUDED.min,
    max = EXCLUDED.max, mean = EXCLUDED.mean, sum = EXCLUDED.sum
"""


@dataclass
class RetentionReport:
    rolled_until: datetime | None = None
    hours_redone: int = 0
    partitions_dropped: list[str] = field(default_factory=list)
    hourly_deleted: int = 0
    daily_deleted: int = 0

    def describe(self) -> str:
        return (f"rolled up until {self.rolled_until.isoformat() if self.rolled_until else '-'}"
                f" ({self.hours_redone} hours again for late readings); raw partitions "
                f"dropped: {', '.join(self.partitions_dropped) or 'none'}; "
                f"{self.hourly_deleted} hourly and {self.daily_deleted} daily rows deleted")


def _roll(conn: psycopg.Connection, lo: datetime, hi: datetime) -> None:
    conn.execute(HOURLY, {"lo": lo, "hi": hi})
    conn.execute(DAILY, {"lo": lo, "hi": hi})


def _oldest_partition(conn: psycopg.Connection) -> datetime | None:
    months = Partitions()
    months.load(conn)
    if not months.months:
        return None
    year, month = min(months.months)
    return datetime(year, month, 1, tzinfo=UTC)


def roll_up(conn: psycopg.Connection, *, now: datetime | None = None,
            report: RetentionReport | None = None) -> RetentionReport:
    """Hours up to the last whole hour rolled up; late hours again."""
    report = report or RetentionReport()
    until = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    with conn.transaction():
        # every pending hour is taken: those before the watermark are rolled up again here,
        # the others by the pass below (a late reading landing meanwhile waits for the next)
        done = conn.execute("SELECT done_until FROM live.rollup_state WHERE grain = 'hourly' "
                            "FOR UPDATE").fetchone()[0]
        pending = [r[0] for r in conn.execute(
            "DELETE FROM live.rollup_pending RETURNING hour") if done and r[0] < done]
        for hour in pending:
            _roll(conn, hour, hour + timedelta(hours=1))
        report.hours_redone += len(pending)
    done = done or _oldest_partition(conn)
    while done is not None and done < until:
        step_end = min(done + STEP, until)
        with conn.transaction():
            _roll(conn, done, step_end)
            conn.execute("UPDATE live.rollup_state SET done_until = %s WHERE grain = 'hourly'",
                         (step_end,))
        done = step_end
    report.rolled_until = done
    return report


def apply_retention(conn: psycopg.Connection, *, now: datetime | None = None,
                    dry_run: bool = False) -> RetentionReport:
    """Roll up, then drop what ``live.retention`` no longer keeps."""
    now = now or datetime.now(UTC)
    report = RetentionReport() if dry_run else roll_up(conn, now=now)
    keep = dict(conn.execute("SELECT grain, keep FROM live.retention").fetchall())
    done = conn.execute("SELECT done_until FROM live.rollup_state WHERE grain = 'hourly'"
                        ).fetchone()[0]
    if keep.get("raw") is not None and done is not None:
        horizon = min(now - keep["raw"], done)  # never a month not yet rolled up
        months = Partitions()
        months.load(conn)
        for year, month in sorted(months.months):
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            if end > horizon:
                break
            name = f"observations_y{year}m{month:02d}"
            report.partitions_dropped.append(name)
            if not dry_run:
                partition = sql.Identifier("iot_partitions", name)
                with conn.transaction():
                    conn.execute(sql.SQL("ALTER TABLE iot.observations DETACH PARTITION {}"
                                         ).format(partition))
                    conn.execute(sql.SQL("DROP TABLE {}").format(partition))
    for grain, table, column in (("hourly", "observations_hourly", "hour"),
                                 ("daily", "observations_daily", "day")):
        if keep.get(grain) is None or dry_run:
            continue
        limit = now - keep[grain]
        deleted = conn.execute(f"DELETE FROM live.{table} WHERE {column} < %s",
                               (limit if column == "hour" else limit.date(),)).rowcount
        setattr(report, f"{grain}_deleted", deleted)
    return report

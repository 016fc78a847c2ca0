"""Retention and downsampling as data: the roll-up into hourly and daily aggregates (late
readings rolled up again), raw partitions dropped whole past their retention, through the CLI
and the pipeline on the real database."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from iocgis.live.pipeline import Ingestor
from iocgis.live.readings import Reading
from iocgis.live.retention import apply_retention

from .conftest import LiveWorld

OLD = datetime(2020, 3, 10, 4, 0, tzinfo=UTC)  # 11:00 in Đồng Nai


def _hourly(db, hour: datetime) -> tuple:
    return db.execute("SELECT n, min, max, mean FROM live.observations_hourly WHERE "
                      "station_code = 'TV-A' AND parameter = 'discharge' AND hour = %s",
                      (hour,)).fetchone()


def _run(world: LiveWorld) -> str:
    with psycopg.connect(world.url, autocommit=True) as conn:
        return apply_retention(conn).describe()


def _cli(world: LiveWorld, *args: str) -> str:
    done = subprocess.run([str(Path(sys.executable).with_name("iocgis")), "live", "retention",
                           *args], capture_output=True, text=True, timeout=120,
                          env={"DATABASE_URL": world.url, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_readings_roll_up_and_old_partitions_go_after_their_retention(
        world: LiveWorld, db) -> None:
    db.execute("UPDATE live.retention SET keep = NULL WHERE grain = 'raw'")  # kept for now
    ingestor = Ingestor(world.url, world.live)
    recent = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    try:
        ingestor.ingest([Reading("TV-A", "discharge", OLD + timedelta(minutes=m), v, "m³/s")
                         for m, v in ((0, 100.0), (20, 200.0), (70, 50.0))],
                        channel="test", device=None)
        ingestor.ingest([Reading("TV-A", "discharge", recent + timedelta(minutes=m), 300.0 + m,
                                 "m³/s") for m in (10, 70)], channel="test", device=None)
        assert "raw partitions dropped: none" in _run(world)
        assert _hourly(db, OLD) == (2, 100.0, 200.0, 150.0)
        assert _hourly(db, OLD + timedelta(hours=1)) == (1, 50.0, 50.0, 50.0)
        day = db.execute("SELECT n, mean FROM live.observations_daily WHERE station_code = "
                         "'TV-A' AND parameter = 'discharge' AND day = '2020-03-10'").fetchone()
        assert day == (3, 350.0 / 3)
        # a late reading in an hour already rolled up: that hour (only) is rolled up again
        late = ingestor.ingest([Reading("TV-A", "discharge", recent + timedelta(minutes=20),
                                        900.0, "m³/s")], channel="test", device=None)
        assert late.late == 1
    finally:
        ingestor.close()
    assert _hourly(db, recent)[0] == 1
    assert "1 hours again" in _run(world)
    assert _hourly(db, recent) == (2, 310.0, 900.0, 605.0)
    # the raw readings are kept three years here: the 2020 partition goes, its aggregates stay
    db.execute("UPDATE live.retention SET keep = interval '3 years' WHERE grain = 'raw'")
    assert "observations_y2020m03" in _cli(world, "--dry-run")
    assert db.execute("SELECT to_regclass('iot_partitions.observations_y2020m03')"
                      ).fetchone()[0] is not None  # a dry run changes nothing
    assert "observations_y2020m03" in _run(world)
    assert db.execute("SELECT to_regclass('iot_partitions.observations_y2020m03')"
                      ).fetchone()[0] is None
    assert _hourly(db, OLD) == (2, 100.0, 200.0, 150.0)
    assert db.execute("SELECT count(*) FROM iot.observations WHERE station_code = 'TV-A' AND "
                      "parameter = 'discharge' AND observed_at >= %s AND observed_at < %s",
                      (recent, recent + timedelta(hours=2))).fetchone()[0] == 3  # recent stay

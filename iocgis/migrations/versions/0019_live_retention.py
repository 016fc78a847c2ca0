"""live: retention and downsampling as data (live.retention), hourly and daily aggregates of
iot.observations, the roll-up's watermark and the hours late data reopened

Revision ID: 0019_live_retention
Revises: 0018_change_notices
Create Date: 2026-12-01
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0019_live_retention"
down_revision: str | None = "0018_change_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = r"""
-- How long each grain is kept (NULL: for ever). Raw readings go a whole monthly partition at a
-- time, and only once the roll-up has passed its end; aggregates go row by row.
CREATE TABLE live.retention (
    grain text PRIMARY KEY CHECK (grain IN ('raw', 'hourly', 'daily')),
    keep interval CHECK (keep IS NULL OR keep >= interval '1 day'),
    note text
);
INSERT INTO live.retention (grain, keep, note) VALUES
    ('raw', interval '2 years', 'every reading: alarm reviews, recent series'),
    ('hourly', interval '10 years', 'count, min, max, mean, sum per datastream and hour (UTC)'),
    ('daily', NULL, 'count, min, max, mean, sum per datastream and day (Asia/Ho_Chi_Minh)');

CREATE TABLE live.observations_hourly (
    station_code text NOT NULL,
    parameter text NOT NULL,
    hour timestamptz NOT NULL,
    n integer NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    mean double precision NOT NULL,
    sum double precision NOT NULL,
    PRIMARY KEY (station_code, parameter, hour)
);
CREATE INDEX observations_hourly_hour ON live.observations_hourly USING brin (hour);
CREATE TABLE live.observations_daily (
    station_code text NOT NULL,
    parameter text NOT NULL,
    day date NOT NULL,
    n integer NOT NULL,
    min double precision NOT NULL,
    max double precision NOT NULL,
    mean double precision NOT NULL,
    sum double precision NOT NULL,
    PRIMARY KEY (station_code, parameter, day)
);

-- Hours before this are rolled up (NULL: from the oldest partition); hours late readings
-- landed in after they were rolled up, to roll up again.
CREATE TABLE live.rollup_state (
    grain text PRIMARY KEY CHECK (grain IN ('hourly')),
    done_until timestamptz
);
INSERT INTO live.rollup_state VALUES ('hourly', NULL);
CREATE TABLE live.rollup_pending (hour timestamptz PRIMARY KEY);
"""

DOWN = r"""
DROP TABLE live.rollup_pending, live.rollup_state, live.observations_daily,
           live.observations_hourly, live.retention;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)

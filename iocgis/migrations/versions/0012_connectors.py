"""connectors: sources that feed layers on a schedule, their runs and their alerts

Revision ID: 0012_connectors
Revises: 0011_point_footprints
Create Date: 2026-12-10
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0012_connectors"
down_revision: Union[str, None] = "0011_point_footprints"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
-- The definitions are data in layers/sources/*.yaml (importers/connectors/); this is their
-- state: when each ran, succeeded, changed the layer, runs next, and how often it failed.
CREATE SCHEMA IF NOT EXISTS connectors;
CREATE TABLE IF NOT EXISTS connectors.sources (
    id text PRIMARY KEY,
    layer_id text NOT NULL,
    kind text NOT NULL,
    owner text,
    cadence interval NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    next_run_at timestamptz,
    last_run_at timestamptz,
    last_success_at timestamptz,
    last_change_at timestamptz,
    failures integer NOT NULL DEFAULT 0,          -- consecutive failed runs
    last_error text,
    high_water text,                              -- incremental pulls: newest edit time seen
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- One row per run: what triggered it, how it ended, the import it made (meta.imports) and
-- its diff summary. 'unchanged': the data equals the live layer (no new data version);
-- 'waiting': the layer has an import pending approval, the run took nothing.
CREATE TABLE IF NOT EXISTS connectors.runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id text NOT NULL REFERENCES connectors.sources(id) ON DELETE CASCADE,
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'cli', 'http')),
    requested_by text NOT NULL,
    status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'loaded', 'pending',
        'unchanged', 'waiting', 'failed', 'interrupted')),
    attempt integer NOT NULL DEFAULT 1,
    incremental_since text,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    import_id bigint,
    rows_in bigint,
    diff jsonb,
    error text
);
CREATE INDEX IF NOT EXISTS runs_by_source ON connectors.runs (source_id, id DESC);
-- A source failing beyond its cadence: its layer is stale and its owner is alerted, once
-- (one open alert per source and kind); cleared by the next successful run.
CREATE TABLE IF NOT EXISTS connectors.alerts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id text NOT NULL REFERENCES connectors.sources(id) ON DELETE CASCADE,
    layer_id text NOT NULL,
    owner text,
    kind text NOT NULL DEFAULT 'stale' CHECK (kind IN ('stale')),
    message text NOT NULL,
    raised_at timestamptz NOT NULL DEFAULT now(),
    cleared_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open_once ON connectors.alerts (source_id, kind)
    WHERE cleared_at IS NULL;
"""

DOWNGRADE = r"""
DROP SCHEMA IF EXISTS connectors CASCADE;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

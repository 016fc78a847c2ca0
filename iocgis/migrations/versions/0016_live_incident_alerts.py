"""live: overdue-step alerts of incidents in live.alerts (kind 'overdue', naming the incident
and the status it is overdue in; no datastream)

Revision ID: 0016_live_incident_alerts
Revises: 0015_group_summaries
Create Date: 2026-12-01
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0016_live_incident_alerts"
down_revision: str | None = "0015_group_summaries"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UP = r"""
ALTER TABLE live.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE live.alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('threshold', 'silent', 'overdue'));
ALTER TABLE live.alerts ALTER COLUMN datastream_id DROP NOT NULL,
                        ALTER COLUMN station_code DROP NOT NULL,
                        ALTER COLUMN parameter DROP NOT NULL;
ALTER TABLE live.alerts ADD COLUMN incident_code text, ADD COLUMN incident_status text;
-- a sensor alert names its datastream, an overdue alert its incident and status
ALTER TABLE live.alerts ADD CONSTRAINT alerts_subject CHECK (
    (kind = 'overdue' AND incident_code IS NOT NULL AND incident_status IS NOT NULL)
    OR (kind <> 'overdue' AND datastream_id IS NOT NULL AND station_code IS NOT NULL
        AND parameter IS NOT NULL));
-- one open overdue alert per incident and status (the sweep raises it once)
CREATE UNIQUE INDEX alerts_overdue_once ON live.alerts (incident_code, incident_status)
    WHERE kind = 'overdue' AND state <> 'cleared';
"""

DOWN = r"""
DELETE FROM live.alerts WHERE kind = 'overdue';
DROP INDEX live.alerts_overdue_once;
ALTER TABLE live.alerts DROP CONSTRAINT alerts_subject;
ALTER TABLE live.alerts DROP COLUMN incident_code, DROP COLUMN incident_status;
ALTER TABLE live.alerts ALTER COLUMN datastream_id SET NOT NULL,
                        ALTER COLUMN station_code SET NOT NULL,
                        ALTER COLUMN parameter SET NOT NULL;
ALTER TABLE live.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE live.alerts ADD CONSTRAINT alerts_kind_check CHECK (kind IN ('threshold', 'silent'));
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)

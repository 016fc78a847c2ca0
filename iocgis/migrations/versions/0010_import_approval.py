"""import approval: imports of a group that needs it wait as pending for a data steward

Revision ID: 0010_import_approval
Revises: 0009_citizen_reports
Create Date: 2026-12-02
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0010_import_approval"
down_revision: Union[str, None] = "0009_citizen_reports"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
-- One row per import that stopped at pending (importers/review.py). Its staging table
-- (import_staging.s<id>) stays until a steward approves (the swap), rejects or it expires;
-- its diff against the live layer is import_review.c<id>, dropped with it.
CREATE SCHEMA IF NOT EXISTS import_review;
CREATE TABLE IF NOT EXISTS import_review.reviews (
    import_id bigint PRIMARY KEY,
    layer_id text NOT NULL,
    group_name text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn', 'expired')),
    submitted_by text NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    -- meta.layers.data_version the diff was made against: approving a diff the live layer
    -- has moved away from is refused (the diff is made again)
    base_version bigint NOT NULL,
    keep_versions integer NOT NULL DEFAULT 3,
    diff jsonb NOT NULL DEFAULT '{}',
    decided_by text,
    decided_at timestamptz,
    reason text
);
-- Two pending imports of one layer are refused: the second would be reviewed against a live
-- layer the first is about to change.
CREATE UNIQUE INDEX IF NOT EXISTS reviews_one_pending_per_layer ON import_review.reviews
    (layer_id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS reviews_status ON import_review.reviews (status, submitted_at);

-- The layer groups a data steward approves, stored with the account like its communes; the
-- role itself joins the roles an account may hold (iocgis.access.ROLE_RIGHTS).
ALTER TABLE security.accounts ADD COLUMN IF NOT EXISTS steward_groups text[] NOT NULL
    DEFAULT '{}';
ALTER TABLE security.accounts DROP CONSTRAINT IF EXISTS accounts_roles_check;
ALTER TABLE security.accounts ADD CONSTRAINT accounts_roles_check CHECK (cardinality(roles) >= 1
    AND roles <@ ARRAY['public', 'viewer', 'analyst', 'gis_officer', 'admin', 'data_steward']);
"""

DOWNGRADE = r"""
ALTER TABLE security.accounts DROP CONSTRAINT IF EXISTS accounts_roles_check;
ALTER TABLE security.accounts ADD CONSTRAINT accounts_roles_check CHECK (cardinality(roles) >= 1
    AND roles <@ ARRAY['public', 'viewer', 'analyst', 'gis_officer', 'admin']);
ALTER TABLE security.accounts DROP COLUMN IF EXISTS steward_groups;
DROP SCHEMA IF EXISTS import_review CASCADE;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""generalised: the tile-ready copy of large polygon and line layers (issue 20, tiles)

``generalised.<schema>__<table>`` (``iocgis/tiles/generalised.py``) holds, per row of a tiled
polygon or line layer, its geometry already in EPSG:3857, its label point, the size the
``min_area_px`` rule compares and the attributes its tiles carry; partial GiST indexes keep
the rows too small for the lowest zooms out of their scans. ``generalised.built`` says for
which data version each was built: a tile reads it only when that is the live version.
Built beside the staging table of an import and swapped in by the import swap, in its
transaction.

Readable under row-level security copied from the layer's own policy (the caller's
communes) and only by a role that may read a column of the layer.

Revision ID: 0017_tile_geometry
Revises: 0016_live_incident_alerts
Create Date: 2026-12-01
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0017_tile_geometry"
down_revision: str | None = "0016_live_incident_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = r"""
CREATE SCHEMA IF NOT EXISTS generalised;
CREATE TABLE generalised.built (
    layer_id text PRIMARY KEY,
    table_name text NOT NULL,
    data_version bigint NOT NULL,
    -- zoom -> the size every row drawn at that zoom reaches (the partial index's predicate)
    floors jsonb NOT NULL DEFAULT '{}',
    built_at timestamptz NOT NULL DEFAULT now()
);
GRANT USAGE ON SCHEMA generalised TO PUBLIC;
GRANT SELECT ON generalised.built TO PUBLIC;
"""

DOWNGRADE = "DROP SCHEMA IF EXISTS generalised CASCADE;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

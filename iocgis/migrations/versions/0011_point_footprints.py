"""points and footprints: a layer's position in geom, an optional footprint MultiPolygon

Revision ID: 0011_point_footprints
Revises: 0010_import_approval
Create Date: 2026-12-03
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0011_point_footprints"
down_revision: Union[str, None] = "0010_import_approval"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UPGRADE = r"""
SELECT 1;
"""

DOWNGRADE = r"""
SELECT 1;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

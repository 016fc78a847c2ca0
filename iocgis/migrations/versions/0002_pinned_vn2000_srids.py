"""pinned VN-2000 SRIDs: the official shift (EPSG:6960) for PostGIS transforms

Revision ID: 0002_pinned_vn2000
Revises: 847778b861ab
Create Date: 2026-11-28
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from iocgis.crs import PINNED_SRID_OFFSET, pinned_spatial_ref_rows

revision: str = "0002_pinned_vn2000"
down_revision: Union[str, None] = "847778b861ab"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    insert = sa.text(
        "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
        "VALUES (:srid, :auth, :auth_srid, :srtext, :proj4) "
        "ON CONFLICT (srid) DO UPDATE SET proj4text = EXCLUDED.proj4text, auth_name = EXCLUDED.auth_name")
    for srid, auth, auth_srid, srtext, proj4 in pinned_spatial_ref_rows():
        op.get_bind().execute(insert, {"srid": srid, "auth": auth, "auth_srid": auth_srid,
                                       "srtext": srtext, "proj4": proj4})


def downgrade() -> None:
    op.execute(f"DELETE FROM spatial_ref_sys WHERE srid > {PINNED_SRID_OFFSET} "
               f"AND srid < {PINNED_SRID_OFFSET + 100000} AND auth_name = 'IOCGIS'")
